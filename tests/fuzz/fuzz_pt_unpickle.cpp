// libFuzzer target for the restricted unpickler that reads .pt embeddings: any pickle stream either
// gives plain data and in-bounds tensors, or throws comfy::Error. Crashes, hangs, out-of-bounds reads
// (ASan), undefined behaviour and other exception types are findings.
#include <ATen/ATen.h>

#include <cstdint>
#include <string>

#include "comfy/core/error.hpp"
#include "io/pt_unpickle.hpp"

namespace {
int64_t touch(const comfy::io::PtValue& v) {
  int64_t n = v.is_tensor() ? v.tensor.numel() : 0;
  if (v.is_tensor() && v.tensor.numel()) n += v.tensor.to(at::kDouble).sum().item<double>() != 0;
  for (const auto& x : v.items) n += touch(x);
  for (const auto& [k, x] : v.dict) n += touch(k) + touch(x);
  return n;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Storages: zeros of the asked size, refused above 64 Ki elements.
  comfy::io::PtStorageLoader load = [](const std::string&, c10::ScalarType dtype, int64_t numel) {
    if (numel > 65536) throw comfy::Error("invalid_pt_file", "fuzz: storage too large");
    return at::zeros({numel}, at::TensorOptions().dtype(dtype));
  };
  try {
    auto v = comfy::io::unpickle_pt(std::string(reinterpret_cast<const char*>(data), size), load, "fuzz");
    volatile int64_t n = touch(v);
    (void)n;
  } catch (const comfy::Error&) {
  }
  return 0;
}
