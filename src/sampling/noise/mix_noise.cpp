#include "sampling/noise/mix_noise.hpp"

#include <ATen/ATen.h>

#include <cmath>

namespace comfy::noise_detail {

at::Tensor slerp(double val, const at::Tensor& low_, const at::Tensor& high_) {
  const auto dims = low_.sizes().vec();
  const int64_t b = dims[0];
  auto low = low_.reshape({b, -1});
  auto high = high_.reshape({b, -1});
  auto low_norm = low / at::norm(low, 2, {1}, /*keepdim=*/true);
  auto high_norm = high / at::norm(high, 2, {1}, /*keepdim=*/true);
  low_norm.masked_fill_(low_norm.isnan(), 0.0);  // zero-norm rows become zeros
  high_norm.masked_fill_(high_norm.isnan(), 0.0);
  auto omega = at::acos((low_norm * high_norm).sum(1));
  auto so = at::sin(omega);
  auto res = (at::sin((1.0 - val) * omega) / so).unsqueeze(1) * low + (at::sin(val * omega) / so).unsqueeze(1) * high;
  return res.reshape(dims);
}

at::Tensor mix_noise(const at::Tensor& from, const at::Tensor& to_, double strength, const std::string& method) {
  auto to = to_.to(from.device());
  if (method == "slerp") return slerp(strength, from, to);
  // Python doubles, applied as float32 tensor-scalar ops in the reference's order.
  auto mixed = (1.0 - strength) * from + strength * to;
  const double scale = std::sqrt((1.0 - strength) * (1.0 - strength) + strength * strength);
  mixed.div_(scale);
  return mixed;
}

}  // namespace comfy::noise_detail
