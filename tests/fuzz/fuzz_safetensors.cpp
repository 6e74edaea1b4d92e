// libFuzzer target for the safetensors header parser and tensor views: any input either parses into
// tensors whose bytes lie inside the buffer, or throws comfy::Error. Crashes, leaks, out-of-bounds
// reads (ASan) and other exception types are findings.
#include <ATen/ATen.h>

#include <cstdint>
#include <string>

#include "comfy/core/error.hpp"
#include "comfy/io/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::shared_ptr<comfy::io::SafeTensors> st;
  try {
    st = comfy::io::SafeTensors::from_bytes(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
  } catch (const comfy::Error&) {
    return 0;
  }
  for (const auto& name : st->names()) {
    try {
      auto t = st->get(name);
      // Touch every byte of the view.
      auto bytes = at::from_blob(t.data_ptr(), {int64_t(t.numel() * t.element_size())}, at::kByte);
      volatile int64_t sum = bytes.numel() ? bytes.sum().item<int64_t>() : 0;
      (void)sum;
    } catch (const comfy::Error&) {
      // dtypes the header may name but at::Tensor cannot hold (U16, F8_*, ...)
    }
  }
  return 0;
}
