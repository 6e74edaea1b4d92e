// euler, ddim (= euler with KSAMPLER's random inpaint noise), euler_ancestral (sampling-samplers.md X3.1, X3.2).
#include "common.hpp"

namespace comfy {
namespace samplers {
namespace {

// s_churn = 0 (the defaults): sigma_hat == sigma_i and no churn noise is drawn.
at::Tensor sample_euler(SamplerRun& r) {
  auto x = r.x;
  const auto& s = r.sigmas;
  for (int64_t i = 0; i < steps(r); ++i) {
    const float sigma_hat = s[size_t(i)] * 1.0f;
    auto denoised = (*r.model)(x, sigma_hat);
    callback(r, i, x, denoised);
    const float dt = s[size_t(i) + 1] - sigma_hat;
    x = fused::euler_update(x, denoised, sigma_hat, dt);  // x + to_d(x, sigma_hat, denoised) * dt
  }
  return x;
}

at::Tensor sample_euler_ancestral(SamplerRun& r) {
  if (r.model->model_sampling().prediction == Prediction::CONST)
    throw std::runtime_error("euler_ancestral: rectified-flow (CONST) models are not supported");
  std::unique_ptr<NoiseSampler> own;
  auto x = r.x;
  const auto& s = r.sigmas;
  for (int64_t i = 0; i < steps(r); ++i) {
    auto denoised = (*r.model)(x, s[size_t(i)]);
    auto [down, up] = ancestral_step(s[size_t(i)], s[size_t(i) + 1]);
    callback(r, i, x, denoised);
    if (down == 0.0f) {
      x = denoised;
    } else {
      x = fused::euler_update(x, denoised, s[size_t(i)], down - s[size_t(i)]);  // x + to_d(..) * (down - sigma)
      // x + noise * s_noise * sigma_up; s_noise is 1.0 and n * 1.0f == n exactly, so one multiply.
      if (s[size_t(i) + 1] > 0) x = x + noise_sampler(r, own)(s[size_t(i)], s[size_t(i) + 1]) * up;
    }
  }
  return x;
}

}  // namespace
}  // namespace samplers

void register_euler_samplers(SamplerRegistry& reg) {
  reg.add({"euler", samplers::sample_euler});
  SamplerInfo ddim{"ddim", samplers::sample_euler};
  ddim.inpaint_random = true;
  reg.add(ddim);
  reg.add({"euler_ancestral", samplers::sample_euler_ancestral});
}

}  // namespace comfy
