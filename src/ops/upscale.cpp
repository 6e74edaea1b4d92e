#include "comfy/ops/upscale.hpp"

#include <ATen/ATen.h>

#include <cfenv>
#include <cmath>

#include "comfy/core/error.hpp"

namespace comfy {

int64_t python_round(double v) {
  // std::nearbyint honours the current rounding mode, which is round-half-even by default.
  return static_cast<int64_t>(std::nearbyint(v));
}

const std::vector<std::string>& latent_upscale_methods() {
  static const std::vector<std::string> m = {"nearest-exact", "bilinear", "area", "bicubic", "bislerp"};
  return m;
}

at::Tensor common_upscale(const at::Tensor& samples, int64_t width, int64_t height, const std::string& method,
                          const std::string& crop) {
  if (samples.dim() != 4) throw Error("execution_error", "upscale expects [B, C, H, W]");
  if (width < 1 || height < 1)
    throw Error("execution_error", "upscale target size must be at least 1x1, got " + std::to_string(width) + "x" +
                                       std::to_string(height));
  at::Tensor s = samples;
  if (crop == "center") {
    const int64_t ow = samples.size(-1), oh = samples.size(-2);
    const double old_aspect = double(ow) / double(oh), new_aspect = double(width) / double(height);
    int64_t x = 0, y = 0;
    if (old_aspect > new_aspect) x = python_round((ow - ow * (new_aspect / old_aspect)) / 2);
    else if (old_aspect < new_aspect) y = python_round((oh - oh * (old_aspect / new_aspect)) / 2);
    s = samples.narrow(-2, y, oh - 2 * y).narrow(-1, x, ow - 2 * x);
  } else if (crop != "disabled") {
    throw Error("value_not_in_list", "unknown crop '" + crop + "'").at_input("crop");
  }
  const std::vector<int64_t> size = {height, width};
  if (method == "nearest-exact") return at::_upsample_nearest_exact2d(s, size, c10::nullopt, c10::nullopt);
  if (method == "bilinear") return at::upsample_bilinear2d(s, size, false, c10::nullopt, c10::nullopt);
  if (method == "bicubic") return at::upsample_bicubic2d(s, size, false, c10::nullopt, c10::nullopt);
  if (method == "area") return at::adaptive_avg_pool2d(s, size);
  if (method == "bislerp")
    throw Error("execution_error", "upscale_method 'bislerp' is not supported by comfy-native; use bilinear or bicubic")
        .at_input("upscale_method");
  throw Error("value_not_in_list", "unknown upscale_method '" + method + "'").at_input("upscale_method");
}

}  // namespace comfy
