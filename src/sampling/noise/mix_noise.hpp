#pragma once
// Inspire's variation-noise mixing (sampling-noise.md N2.3, N2.4).
#include <ATen/core/Tensor.h>

#include <string>

namespace comfy::noise_detail {

// mix_noise(from, to, strength, method): "slerp" -> slerp(strength, from, to); anything else -> the
// renormalised linear mix ((1-s)*from + s*to) / sqrt((1-s)^2 + s^2).
at::Tensor mix_noise(const at::Tensor& from, const at::Tensor& to, double strength, const std::string& method);
// Per-batch-item spherical interpolation without renormalisation; omega = 0 gives NaN like the reference.
at::Tensor slerp(double val, const at::Tensor& low, const at::Tensor& high);

}  // namespace comfy::noise_detail
