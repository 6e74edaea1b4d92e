#pragma once
// Internal: the restricted unpickler behind io::read_pt_file, on a bare pickle stream (fuzzed by
// tests/fuzz/fuzz_pt_unpickle.cpp).
#include <ATen/core/Tensor.h>

#include <functional>
#include <string>

#include "comfy/io/pt_file.hpp"

namespace comfy::io {

// Gives the elements of storage `key` (a 1-D tensor of `dtype` with `numel` elements) or throws.
using PtStorageLoader = std::function<at::Tensor(const std::string& key, c10::ScalarType dtype, int64_t numel)>;
// Throws comfy::Error("invalid_pt_file", "<what>: ...") on anything but plain data and tensors.
PtValue unpickle_pt(const std::string& pickle, const PtStorageLoader& load, const std::string& what);

}  // namespace comfy::io
