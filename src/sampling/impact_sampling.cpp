// Impact Pack's sampling layer: separated_sample + sample_with_custom_noise (sampling.md 2.1-2.4).
#include <ATen/ATen.h>

#include <cmath>
#include <limits>

#include "comfy/core/error.hpp"
#include "comfy/sampling/ksampler.hpp"
#include "comfy/sampling/noise.hpp"
#include "comfy/sampling/schedulers.hpp"

namespace comfy {

std::shared_ptr<const Latent> separated_sample(const SeparatedSampleArgs& a) {
  const Model& model = *a.model;
  at::Tensor total_t = a.scheduler_func ? a.scheduler_func->fn(model, a.sampler_name, a.steps)
                                        : impact_calculate_sigmas(*model.sampling, a.sampler_name, a.scheduler, a.steps);
  std::vector<float> total = sigmas_to_host(total_t);
  std::vector<float> sigmas = total;
  if (a.end_at_step && *a.end_at_step < int64_t(total.size()) - 1) {
    sigmas.resize(size_t(*a.end_at_step + 1));
    if (!a.return_with_leftover_noise) {
      // The reference zeroes the last entry of a view, so the whole schedule sees the 0 too.
      sigmas.back() = 0.0f;
      total[size_t(*a.end_at_step)] = 0.0f;
    }
  }
  if (a.start_at_step) {
    if (*a.start_at_step < int64_t(sigmas.size()) - 1) {
      sigmas.erase(sigmas.begin(), sigmas.begin() + *a.start_at_step);  // * sigma_ratio (1.0)
    } else {
      return a.latent;  // untouched: no noise, no channel fix
    }
  }
  if (sigmas.empty() || (sigmas.size() == 1 && sigmas[0] == 0.0f)) return a.latent;

  // sample_with_custom_noise
  auto z = fix_empty_latent_channels(model, a.latent->samples);
  at::Tensor noise;
  if (a.noise) noise = *a.noise;
  else if (a.add_noise) noise = comfy_prepare_noise(z, a.seed, a.latent->batch_index);
  else noise = at::zeros(z.sizes(), z.options().device(at::kCPU));

  CustomSampleArgs c;
  c.model = a.model;
  c.positive = a.positive;
  c.negative = a.negative;
  c.cfg = a.cfg;
  c.sampler_name = a.sampler_name;
  c.sigmas = sigmas;
  c.noise = noise;
  c.latent = z;
  c.noise_mask = a.latent->noise_mask;
  c.callback = a.callback;
  c.seed = a.seed;
  c.interrupt = a.interrupt;
  c.impact_total_sigmas = total;
  const SamplerInfo& info = get_sampler(a.sampler_name);
  if (info.uses_brownian) {
    // Impact's wrapper: Brownian range from the WHOLE schedule, not the sliced one (2.4).
    float lo = std::numeric_limits<float>::infinity(), hi = -std::numeric_limits<float>::infinity();
    bool nan = false;
    for (float s : total) {
      if (std::isnan(s)) nan = true;
      if (s > 0 && s < lo) lo = s;
      if (s > hi) hi = s;
    }
    if (nan) hi = std::numeric_limits<float>::quiet_NaN();
    const uint64_t seed = a.seed;
    const bool cpu = !info.brownian_on_gpu;
    c.noise_sampler_factory = [lo, hi, seed, cpu](const at::Tensor& x) {
      return make_brownian_noise_sampler(x, lo, hi, seed, cpu);
    };
  }
  auto r = sample_custom(std::move(c));
  if (a.return_with_leftover_noise || !r.last_x0) return a.latent->with_samples(r.samples);
  return a.latent->with_samples(*r.last_x0);
}

}  // namespace comfy
