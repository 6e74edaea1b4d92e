#pragma once
// Which per-step noise sampler a sampler uses: the injected one (Impact's Brownian range) when the
// caller set SamplerRun::noise_sampler, else the sampler's own default (sampling-noise.md N3).
#include <ATen/ATen.h>

#include <algorithm>
#include <limits>
#include <memory>

#include "comfy/sampling/sampler.hpp"

namespace comfy::samplers_detail {

// BrownianTreeNoiseSampler over [min(sigmas > 0), max(sigmas)] of the sigmas handed to the sampler,
// seed extra_args["seed"], on the CPU (cpu=true) or on x's device (the _gpu names) — X4.2.
inline NoiseSampler& brownian_noise(SamplerRun& run, bool on_device, std::unique_ptr<NoiseSampler>& own) {
  if (run.noise_sampler) return *run.noise_sampler;
  float lo = std::numeric_limits<float>::infinity(), hi = -std::numeric_limits<float>::infinity();
  for (float s : run.sigmas) {
    if (s > 0) lo = std::min(lo, s);
    hi = std::max(hi, s);
  }
  // The reference draws a random seed from the global generator when none is given.
  uint64_t seed = run.seed ? *run.seed
                           : static_cast<uint64_t>(at::randint(0, std::numeric_limits<int64_t>::max(), {}, at::kLong).item<int64_t>());
  own = make_brownian_noise_sampler(run.x, lo, hi, seed, !on_device);
  return *own;
}

inline NoiseSampler& default_noise(SamplerRun& run, std::unique_ptr<NoiseSampler>& own) {
  if (run.noise_sampler) return *run.noise_sampler;
  own = make_default_noise_sampler(run.x, run.seed);
  return *own;
}

inline void callback(SamplerRun& run, int64_t i, const at::Tensor& x, const at::Tensor& denoised) {
  if (run.callback) run.callback(i, x, denoised);
}

}  // namespace comfy::samplers_detail
