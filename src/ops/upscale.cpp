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

namespace {

// Spherical interpolation of channel vectors b1, b2 [M, C] by ratios r [M, 1]: direction by slerp,
// length by lerp; (nearly) equal directions keep b1, opposite ones fall back to lerp (ComfyUI's choice).
at::Tensor slerp_rows(const at::Tensor& b1, const at::Tensor& b2, const at::Tensor& r) {
  auto n1 = b1.norm(2, {-1}, true), n2 = b2.norm(2, {-1}, true);
  auto u1 = at::where(n1 == 0, at::zeros_like(b1), b1 / n1);
  auto u2 = at::where(n2 == 0, at::zeros_like(b2), b2 / n2);
  auto dot = (u1 * u2).sum(1);
  auto omega = at::acos(dot), so = at::sin(omega);
  auto rr = r.squeeze(1);
  auto res = (at::sin((1.0 - rr) * omega) / so).unsqueeze(1) * u1 + (at::sin(rr * omega) / so).unsqueeze(1) * u2;
  res = res * (n1 * (1.0 - r) + n2 * r);
  auto same = (dot > 1 - 1e-5).unsqueeze(1), opposite = (dot < 1e-5 - 1).unsqueeze(1);
  res = at::where(same, b1, res);
  return at::where(opposite, b1 * (1.0 - r) + b2 * r, res);
}

// Source positions of a linear resize along one axis: the bilinear resize of 0..n-1 (and of 1..n with the
// last clamped) gives the left / right neighbours and the fractional weight.
void bilinear_taps(int64_t n_old, int64_t n_new, at::Tensor& ratios, at::Tensor& left, at::Tensor& right) {
  auto pos = at::arange(n_old, at::kFloat).view({1, 1, 1, -1});
  auto p1 = at::upsample_bilinear2d(pos, {1, n_new}, false, c10::nullopt, c10::nullopt);
  ratios = p1 - p1.floor();
  left = p1.to(at::kLong);
  auto pos2 = pos + 1;
  pos2.select(3, n_old - 1).sub_(1);
  right = at::upsample_bilinear2d(pos2, {1, n_new}, false, c10::nullopt, c10::nullopt).to(at::kLong);
}

at::Tensor bislerp(const at::Tensor& samples_in, int64_t width, int64_t height) {
  const auto dtype = samples_in.scalar_type();
  auto samples = samples_in.to(at::kCPU, at::kFloat);
  const int64_t n = samples.size(0), c = samples.size(1), h = samples.size(2), w = samples.size(3);
  at::Tensor ratios, left, right;
  // along the width
  bilinear_taps(w, width, ratios, left, right);
  auto a = samples.gather(-1, left.expand({n, c, h, width})).movedim(1, -1).reshape({-1, c});
  auto b = samples.gather(-1, right.expand({n, c, h, width})).movedim(1, -1).reshape({-1, c});
  auto r = ratios.expand({n, 1, h, width}).movedim(1, -1).reshape({-1, 1});
  auto result = slerp_rows(a, b, r).reshape({n, h, width, c}).movedim(-1, 1);
  // along the height
  bilinear_taps(h, height, ratios, left, right);
  a = result.gather(-2, left.reshape({1, 1, -1, 1}).expand({n, c, height, width})).movedim(1, -1).reshape({-1, c});
  b = result.gather(-2, right.reshape({1, 1, -1, 1}).expand({n, c, height, width})).movedim(1, -1).reshape({-1, c});
  r = ratios.reshape({1, 1, -1, 1}).expand({n, 1, height, width}).movedim(1, -1).reshape({-1, 1});
  result = slerp_rows(a, b, r).reshape({n, height, width, c}).movedim(-1, 1);
  return result.to(samples_in.device(), dtype);
}

}  // namespace

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
  if (method == "bislerp") return bislerp(s, width, height);
  throw Error("value_not_in_list", "unknown upscale_method '" + method + "'").at_input("upscale_method");
}

}  // namespace comfy
