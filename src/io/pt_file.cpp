#include "comfy/io/pt_file.hpp"

#include <ATen/ATen.h>
#include <ATen/core/Dict.h>
#include <ATen/core/ivalue.h>
#include <ATen/core/jit_type.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "comfy/core/error.hpp"

namespace comfy::io {

std::string pt_bytes(const PtDict& d) {
  c10::impl::GenericDict dict(c10::StringType::get(), c10::AnyType::get());
  for (const auto& [k, t] : d.tensors) dict.insert(c10::IValue(k), c10::IValue(t.to(at::kCPU).contiguous()));
  for (const auto& [k, s] : d.strings) dict.insert(c10::IValue(k), c10::IValue(s));
  auto bytes = torch::jit::pickle_save(c10::IValue(dict));
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace comfy::io
