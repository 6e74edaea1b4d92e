// ddpm, lcm (sampling-samplers.md X6.1, X6.2); default noise sampler.
#include "common.hpp"

namespace comfy {
namespace samplers {
namespace {

at::Tensor sample_ddpm(SamplerRun& r) {
  std::unique_ptr<NoiseSampler> own;
  auto x = r.x;
  const auto& s = r.sigmas;
  for (int64_t i = 0; i < steps(r); ++i) {
    const size_t k = size_t(i);
    const float sigma = s[k], sigma_prev = s[k + 1];
    auto denoised = (*r.model)(x, sigma);
    callback(r, i, x, denoised);
    // DDPMSampler_step(x / sqrt(1 + sigma^2), sigma, sigma_next, (x - denoised) / sigma, ns)
    auto xv = x / ssqrt(1.0f + sigma * sigma);
    auto eps = (x - denoised) / sigma;
    const float ac = 1 / ((sigma * sigma) + 1);
    const float ac_prev = 1 / ((sigma_prev * sigma_prev) + 1);
    const float alpha = ac / ac_prev;
    auto mu = (xv - (eps * (1 - alpha)) / ssqrt(1 - ac)) * ssqrt(1.0f / alpha);
    if (sigma_prev > 0)
      mu = mu + noise_sampler(r, own)(sigma, sigma_prev) * ssqrt((1 - alpha) * (1.0f - ac_prev) / (1.0f - ac));
    x = mu;
    if (sigma_prev != 0.0f) x = x * ssqrt(1.0f + sigma_prev * sigma_prev);
  }
  return x;
}

at::Tensor sample_lcm(SamplerRun& r) {
  std::unique_ptr<NoiseSampler> own;
  const ModelSampling& ms = r.model->model_sampling();
  auto x = r.x;
  const auto& s = r.sigmas;
  for (int64_t i = 0; i < steps(r); ++i) {
    const size_t k = size_t(i);
    auto denoised = (*r.model)(x, s[k]);
    callback(r, i, x, denoised);
    x = denoised;
    if (s[k + 1] > 0) {
      auto n = noise_sampler(r, own)(s[k], s[k + 1]);
      x = ms.noise_scaling(at::scalar_tensor(s[k + 1], n.options()), n, x, false);
    }
  }
  return x;
}

}  // namespace
}  // namespace samplers

void register_ddpm_samplers(SamplerRegistry& reg) {
  reg.add({"ddpm", samplers::sample_ddpm});
  reg.add({"lcm", samplers::sample_lcm});
}

}  // namespace comfy
