// Inspire Pack's inspire_ksampler: the common core of its four sampler nodes (sampling.md 1.3).
#include <ATen/ATen.h>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "comfy/core/error.hpp"
#include "comfy/sampling/ksampler.hpp"
#include "comfy/sampling/noise.hpp"

namespace comfy {

std::pair<std::shared_ptr<const Latent>, at::Tensor> inspire_ksampler(const InspireKSamplerArgs& a) {
  std::string mode_lc = a.noise_mode;
  std::transform(mode_lc.begin(), mode_lc.end(), mode_lc.begin(), [](unsigned char c) { return std::tolower(c); });
  const NoiseDevice noise_device = mode_lc.find("cpu") != std::string::npos ? NoiseDevice::CPU : NoiseDevice::GPU;

  auto z = fix_empty_latent_channels(*a.model, a.latent->samples);
  at::Tensor noise;
  if (a.noise) {
    noise = *a.noise;
    if (noise.dim() < 2 || z.size(1) != noise.size(1))
      throw Error("execution_error",
                  "The channel count of noise_opt (" + std::to_string(noise.dim() < 2 ? -1 : noise.size(1)) +
                      ") does not match the latent (" + std::to_string(z.size(1)) + ")")
          .at_input("noise_opt");
  } else if (a.disable_noise) {
    noise = at::zeros(z.sizes(), z.options().device(at::kCPU));
  } else {
    noise = inspire_prepare_noise(z, a.seed, a.latent->batch_index, noise_device, a.incremental_seed_mode,
                                  a.variation_seed, a.variation_strength, a.variation_method);
  }
  int64_t steps = a.steps;
  std::optional<int64_t> start_step = a.start_step;
  if (!start_step) {
    if (a.denoise == 1.0) {
      start_step = 0;
    } else {
      if (a.denoise == 0.0)
        throw Error("execution_error", "float division by zero: denoise must be greater than 0", "denoise")
            .at_input("denoise");
      int64_t total = int64_t(std::floor(double(steps) / a.denoise));
      start_step = total - steps;
      steps = total;
    }
  }
  const uint64_t internal_seed = a.internal_seed.value_or(a.seed);
  const uint64_t seed = a.noise_mode.find("internal_seed") != std::string::npos ? internal_seed : a.seed;

  SeparatedSampleArgs s;
  s.model = a.model;
  s.add_noise = !a.disable_noise;
  s.seed = seed;
  s.steps = steps;
  s.cfg = a.cfg;
  s.sampler_name = a.sampler_name;
  s.scheduler = a.scheduler;
  s.positive = a.positive;
  s.negative = a.negative;
  s.latent = a.latent;
  s.start_at_step = start_step;
  s.end_at_step = a.last_step;
  s.return_with_leftover_noise = !a.force_full_denoise;
  s.noise = noise;
  s.callback = a.callback;
  s.scheduler_func = a.scheduler_func;
  s.interrupt = a.interrupt;
  return {separated_sample(s), noise};
}

}  // namespace comfy
