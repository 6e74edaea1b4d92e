#pragma once
// PyTorch .pt files (torch.save's zip + pickle format, written by libtorch's pickle_save) holding one
// dict of named tensors and strings, so Python's torch.load opens them.
#include <ATen/core/Tensor.h>

#include <string>
#include <utility>
#include <vector>

namespace comfy::io {

struct PtDict {
  std::vector<std::pair<std::string, at::Tensor>> tensors;    // saved from the CPU
  std::vector<std::pair<std::string, std::string>> strings;
};
std::string pt_bytes(const PtDict& d);

}  // namespace comfy::io
