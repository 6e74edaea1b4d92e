// dpm_2, dpm_2_ancestral (sampling-samplers.md X3.6, X3.7).
#include "common.hpp"

namespace comfy {
namespace samplers {
namespace {

at::Tensor sample_dpm_2(SamplerRun& r) {
  auto x = r.x;
  const auto& s = r.sigmas;
  for (int64_t i = 0; i < steps(r); ++i) {
    const size_t k = size_t(i);
    const float sigma_hat = s[k] * 1.0f;
    auto denoised = (*r.model)(x, sigma_hat);
    auto d = to_d(x, sigma_hat, denoised);
    callback(r, i, x, denoised);
    if (s[k + 1] == 0.0f) {
      x = x + d * (s[k + 1] - sigma_hat);
    } else {
      const float sigma_mid = sexp(slerp(slog(sigma_hat), slog(s[k + 1]), 0.5f));
      const float dt1 = sigma_mid - sigma_hat;
      const float dt2 = s[k + 1] - sigma_hat;
      auto x2 = x + d * dt1;
      auto d2 = to_d(x2, sigma_mid, (*r.model)(x2, sigma_mid));
      x = x + d2 * dt2;
    }
  }
  return x;
}

at::Tensor sample_dpm_2_ancestral(SamplerRun& r) {
  if (r.model->model_sampling().prediction == Prediction::CONST)
    throw std::runtime_error("dpm_2_ancestral: rectified-flow (CONST) models are not supported");
  std::unique_ptr<NoiseSampler> own;
  auto x = r.x;
  const auto& s = r.sigmas;
  for (int64_t i = 0; i < steps(r); ++i) {
    const size_t k = size_t(i);
    auto denoised = (*r.model)(x, s[k]);
    auto [down, up] = ancestral_step(s[k], s[k + 1]);
    callback(r, i, x, denoised);
    auto d = to_d(x, s[k], denoised);
    if (down == 0.0f) {
      x = x + d * (down - s[k]);
    } else {
      const float sigma_mid = sexp(slerp(slog(s[k]), slog(down), 0.5f));
      const float dt1 = sigma_mid - s[k];
      const float dt2 = down - s[k];
      auto x2 = x + d * dt1;
      auto d2 = to_d(x2, sigma_mid, (*r.model)(x2, sigma_mid));
      x = x + d2 * dt2;
      x = x + noise_sampler(r, own)(s[k], s[k + 1]) * 1.0f * up;
    }
  }
  return x;
}

}  // namespace
}  // namespace samplers

void register_dpm2_samplers(SamplerRegistry& reg) {
  reg.add({"dpm_2", samplers::sample_dpm_2});
  reg.add({"dpm_2_ancestral", samplers::sample_dpm_2_ancestral});
}

}  // namespace comfy
