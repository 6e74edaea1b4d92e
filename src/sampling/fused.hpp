#pragma once
// Fused elementwise passes for the sampling loop's hottest tensor expressions on the CPU.
//
// Each function computes exactly the float32 operations of the libtorch expression named in its
// comment, in the same order (python floats act as float32 scalars there too), so the result is
// bit-identical; it just makes one pass and one allocation instead of one per operator. Files
// using these are compiled with -ffp-contract=off (CMakeLists.txt) so no a*b+c becomes an FMA.
// Anything that is not a contiguous float32 CPU tensor of one shape takes the libtorch expression.
#include <ATen/ATen.h>

#include <tuple>

namespace comfy::fused {

inline bool cpu_f32(const at::Tensor& a) {
  return a.device().is_cpu() && a.scalar_type() == at::kFloat && a.is_contiguous();
}
// All given tensors contiguous float32 on the CPU with the first one's shape.
template <class... T>
bool same_cpu_f32(const at::Tensor& a, const T&... rest) {
  return cpu_f32(a) && ((cpu_f32(rest) && rest.sizes() == a.sizes()) && ...);
}

// out[i] = f(a[i], rest[i]...) in one pass; the caller has checked same_cpu_f32(a, rest...).
template <class F, class... T>
at::Tensor map(F f, const at::Tensor& a, const T&... rest) {
  at::Tensor out = at::empty_like(a);
  float* __restrict o = out.data_ptr<float>();
  const float* __restrict pa = a.data_ptr<float>();
  auto ptrs = std::make_tuple(static_cast<const float*>(rest.template data_ptr<float>())...);
  const int64_t n = a.numel();
  std::apply(
      [&](auto... p) {
        for (int64_t i = 0; i < n; ++i) o[i] = f(pa[i], p[i]...);
      },
      ptrs);
  return out;
}

// U + (C - U) * cfg
inline at::Tensor cfg_combine(const at::Tensor& C, const at::Tensor& U, float cfg) {
  if (!same_cpu_f32(C, U)) return U + (C - U) * cfg;
  return map([cfg](float c, float u) { return u + (c - u) * cfg; }, C, U);
}

// x - out * s
inline at::Tensor eps_denoised(const at::Tensor& x, const at::Tensor& out, float s) {
  if (!same_cpu_f32(x, out)) return x - out * s;
  return map([s](float a, float e) { return a - e * s; }, x, out);
}

// x + ((x - denoised) / sigma) * dt   (k-diffusion's d = to_d(x, sigma, denoised); x + d * dt)
inline at::Tensor euler_update(const at::Tensor& x, const at::Tensor& denoised, float sigma, float dt) {
  if (!same_cpu_f32(x, denoised)) return x + ((x - denoised) / sigma) * dt;
  return map([sigma, dt](float a, float d) { return a + ((a - d) / sigma) * dt; }, x, denoised);
}

// x * ratio - denoised * e                                (old undefined: first / last step)
// x * ratio - (denoised * c1 - old * c2) * e              (k-diffusion dpmpp_2m)
inline at::Tensor dpmpp_2m_update(const at::Tensor& x, const at::Tensor& denoised, const at::Tensor& old, float ratio,
                                  float c1, float c2, float e) {
  if (!old.defined()) {
    if (!same_cpu_f32(x, denoised)) return x * ratio - denoised * e;
    return map([=](float a, float d) { return a * ratio - d * e; }, x, denoised);
  }
  if (!same_cpu_f32(x, denoised, old)) return x * ratio - (denoised * c1 - old * c2) * e;
  return map([=](float a, float d, float p) { return a * ratio - (d * c1 - p * c2) * e; }, x, denoised, old);
}

}  // namespace comfy::fused
