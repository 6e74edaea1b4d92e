// libFuzzer target for .latent files (LoadLatent): any bytes either give a float latent independent of
// the input buffer, or throw comfy::Error. Crashes, leaks, out-of-bounds reads and other exception
// types are findings.
#include <ATen/ATen.h>

#include <cstdint>
#include <string>

#include "comfy/core/error.hpp"
#include "comfy/io/latent_file.hpp"
#include "comfy/io/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  at::Tensor t;
  try {
    auto st = comfy::io::SafeTensors::from_bytes(std::string(reinterpret_cast<const char*>(data), size), "fuzz.latent");
    t = comfy::io::read_latent(*st, "fuzz.latent");
  } catch (const comfy::Error&) {
    return 0;
  }
  // The buffer is gone: the latent must own its data. Touch all of it.
  if (t.scalar_type() != at::kFloat) __builtin_trap();
  volatile double sum = t.numel() ? at::nan_to_num(t).to(at::kDouble).sum().item<double>() : 0.0;
  (void)sum;
  return 0;
}
