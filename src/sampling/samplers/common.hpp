#pragma once
// Helpers shared by the sampler families (sampling-samplers.md X0, X1).
//
// Scalars: the reference computes every sigma-derived quantity as a 0-d f32 CPU tensor. Basic
// arithmetic (+ - * / sqrt) is IEEE-exact either way, so it is done here in host float, in the
// reference's order. Transcendental ops are NOT libm on the reference: libtorch evaluates even a 0-d
// tensor through its vectorised (Sleef) kernels, which differ from glibc's expf/logf in the last ulp
// for ~10% of inputs (measured on torch 1.13). sexp/slog/sexpm1 therefore run the libtorch op on a
// one-element CPU tensor: bit-identical to the reference, no device sync.
#include <ATen/ATen.h>

#include <cmath>
#include <memory>
#include <utility>

#include "comfy/sampling/sampler.hpp"
#include "sampling/fused.hpp"
#include "sampling/samplers/scalar_f32.hpp"

namespace comfy::samplers {

// One implementation of the scalar ops for every sampler family: sampling/samplers/scalar_f32.
inline float sexp(float v) { return sf32::exp(v); }
inline float slog(float v) { return sf32::log(v); }
inline float sexpm1(float v) { return sf32::expm1(v); }
inline float ssqrt(float v) { return std::sqrt(v); }
// torch.lerp on scalars (formula switches at |w| = 0.5).
inline float slerp(float a, float b, float w) { return std::fabs(w) < 0.5f ? a + w * (b - a) : b - (b - a) * (1.0f - w); }

// get_ancestral_step: (sigma_down, sigma_up); eta == 0 gives (sigma_to, 0).
inline std::pair<float, float> ancestral_step(float sigma_from, float sigma_to, float eta = 1.0f) {
  return sf32::ancestral_step(sigma_from, sigma_to, eta);
}

// to_d(x, sigma, denoised) = (x - denoised) / sigma
inline at::Tensor to_d(const at::Tensor& x, float sigma, const at::Tensor& denoised) { return (x - denoised) / sigma; }

inline void callback(SamplerRun& r, int64_t i, const at::Tensor& x, const at::Tensor& denoised) {
  if (r.callback) r.callback(i, x, denoised);
}

// The injected noise sampler, or default_noise_sampler(x, seed) built on first use.
inline NoiseSampler& noise_sampler(SamplerRun& r, std::unique_ptr<NoiseSampler>& own) {
  if (r.noise_sampler) return *r.noise_sampler;
  if (!own) own = make_default_noise_sampler(r.x, r.seed);
  return *own;
}

inline int64_t steps(const SamplerRun& r) { return int64_t(r.sigmas.size()) - 1; }

}  // namespace comfy::samplers
