#pragma once
// PyTorch .pt files (torch.save's zip + pickle format, written by libtorch's pickle_save) holding one
// dict of named tensors and strings, so Python's torch.load opens them.
#include <ATen/core/Tensor.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace comfy::io {

struct PtDict {
  std::vector<std::pair<std::string, at::Tensor>> tensors;    // saved from the CPU
  std::vector<std::pair<std::string, std::string>> strings;
};
std::string pt_bytes(const PtDict& d);

// <folder>/<name>_<counter:05>_<suffix> with ComfyUI's counter (1 + the highest existing counter for
// that name), created exclusively (never overwrites; bumps the counter on a race). Returns the path.
std::filesystem::path save_counted(const std::filesystem::path& folder, const std::string& name,
                                   const std::string& suffix, const std::string& bytes);

}  // namespace comfy::io
