// libFuzzer target for LoadImage's decoders (PNG, JPEG, WebP by content): any bytes either decode into an
// [H, W, 3] picture in 0..1 (plus an [H, W] alpha), or throw comfy::Error. Crashes, leaks, libpng /
// libjpeg errors escaping as other exceptions, and slow inputs are findings. The pixel limit is lowered
// to 4 Mi pixels so each input stays fast; the limit check itself is part of what is fuzzed.
#include <ATen/ATen.h>

#include <cstdint>
#include <string>

#include "comfy/core/error.hpp"
#include "comfy/io/image.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr uint64_t kFuzzMaxPixels = uint64_t(1) << 22;
  comfy::io::DecodedImage img;
  try {
    img = comfy::io::decode_image(std::string(reinterpret_cast<const char*>(data), size), "fuzz", kFuzzMaxPixels);
  } catch (const comfy::Error&) {
    return 0;
  }
  const auto& rgb = img.rgb;
  if (rgb.dim() != 3 || rgb.size(2) != 3 || rgb.scalar_type() != at::kFloat) __builtin_trap();
  if (uint64_t(rgb.size(0)) * uint64_t(rgb.size(1)) > kFuzzMaxPixels) __builtin_trap();
  if (rgb.numel() && (rgb.min().item<float>() < 0.0f || rgb.max().item<float>() > 1.0f)) __builtin_trap();
  if (img.alpha && (img.alpha->dim() != 2 || img.alpha->size(0) != rgb.size(0) || img.alpha->size(1) != rgb.size(1)))
    __builtin_trap();
  return 0;
}
