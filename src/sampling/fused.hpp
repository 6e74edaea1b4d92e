#pragma once
// Fused elementwise passes for the sampling loop's hottest tensor expressions on the CPU.
//
// Each function computes exactly the float32 operations of the libtorch expression named in its
// comment, in the same order (python floats act as float32 scalars there too), so the result is
// bit-identical; it just makes one pass and one allocation instead of one per operator. Files
// using these are compiled with -ffp-contract=off (CMakeLists.txt) so no a*b+c becomes an FMA.
// Anything that is not a contiguous float32 CPU tensor of one shape takes the libtorch expression.
#include <ATen/ATen.h>

namespace comfy::fused {

inline bool cpu_f32(const at::Tensor& a) {
  return a.device().is_cpu() && a.scalar_type() == at::kFloat && a.is_contiguous();
}
inline bool same_cpu_f32(const at::Tensor& a, const at::Tensor& b) {
  return cpu_f32(a) && cpu_f32(b) && a.sizes() == b.sizes();
}

// U + (C - U) * cfg
inline at::Tensor cfg_combine(const at::Tensor& C, const at::Tensor& U, float cfg) {
  if (!same_cpu_f32(C, U)) return U + (C - U) * cfg;
  at::Tensor out = at::empty_like(C);
  const float* __restrict c = C.data_ptr<float>();
  const float* __restrict u = U.data_ptr<float>();
  float* __restrict o = out.data_ptr<float>();
  for (int64_t i = 0, n = C.numel(); i < n; ++i) {
    const float diff = c[i] - u[i];
    const float scaled = diff * cfg;
    o[i] = u[i] + scaled;
  }
  return out;
}

// x - out * s
inline at::Tensor eps_denoised(const at::Tensor& x, const at::Tensor& out, float s) {
  if (!same_cpu_f32(x, out)) return x - out * s;
  at::Tensor res = at::empty_like(x);
  const float* __restrict a = x.data_ptr<float>();
  const float* __restrict e = out.data_ptr<float>();
  float* __restrict o = res.data_ptr<float>();
  for (int64_t i = 0, n = x.numel(); i < n; ++i) {
    const float scaled = e[i] * s;
    o[i] = a[i] - scaled;
  }
  return res;
}

// x + ((x - denoised) / sigma) * dt   (k-diffusion's d = to_d(x, sigma, denoised); x + d * dt)
inline at::Tensor euler_update(const at::Tensor& x, const at::Tensor& denoised, float sigma, float dt) {
  if (!same_cpu_f32(x, denoised)) return x + ((x - denoised) / sigma) * dt;
  at::Tensor res = at::empty_like(x);
  const float* __restrict a = x.data_ptr<float>();
  const float* __restrict d = denoised.data_ptr<float>();
  float* __restrict o = res.data_ptr<float>();
  for (int64_t i = 0, n = x.numel(); i < n; ++i) {
    const float diff = a[i] - d[i];
    const float deriv = diff / sigma;
    const float step = deriv * dt;
    o[i] = a[i] + step;
  }
  return res;
}

// x * ratio - denoised * e                                (old undefined: first / last step)
// x * ratio - (denoised * c1 - old * c2) * e              (k-diffusion dpmpp_2m)
inline at::Tensor dpmpp_2m_update(const at::Tensor& x, const at::Tensor& denoised, const at::Tensor& old, float ratio,
                                  float c1, float c2, float e) {
  const bool two = old.defined();
  if (!same_cpu_f32(x, denoised) || (two && !same_cpu_f32(x, old)))
    return two ? x * ratio - (denoised * c1 - old * c2) * e : x * ratio - denoised * e;
  at::Tensor res = at::empty_like(x);
  const float* __restrict a = x.data_ptr<float>();
  const float* __restrict d = denoised.data_ptr<float>();
  float* __restrict o = res.data_ptr<float>();
  const int64_t n = x.numel();
  if (!two) {
    for (int64_t i = 0; i < n; ++i) {
      const float xs = a[i] * ratio;
      const float ds = d[i] * e;
      o[i] = xs - ds;
    }
  } else {
    const float* __restrict p = old.data_ptr<float>();
    for (int64_t i = 0; i < n; ++i) {
      const float xs = a[i] * ratio;
      const float d1 = d[i] * c1;
      const float d2 = p[i] * c2;
      const float dd = d1 - d2;
      const float ds = dd * e;
      o[i] = xs - ds;
    }
  }
  return res;
}

}  // namespace comfy::fused
