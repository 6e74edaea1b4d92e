// dpmpp_2s_ancestral, dpmpp_2m (sampling-samplers.md X4.1, X4.3). t = -log(sigma), sigma = exp(-t).
#include "common.hpp"

namespace comfy {
namespace samplers {
namespace {

inline float t_fn(float sigma) { return -slog(sigma); }
inline float sigma_fn(float t) { return sexp(-t); }

at::Tensor sample_dpmpp_2s_ancestral(SamplerRun& r) {
  if (r.model->model_sampling().prediction == Prediction::CONST)
    throw std::runtime_error("dpmpp_2s_ancestral: rectified-flow (CONST) models are not supported");
  std::unique_ptr<NoiseSampler> own;
  auto x = r.x;
  const auto& s = r.sigmas;
  for (int64_t i = 0; i < steps(r); ++i) {
    const size_t k = size_t(i);
    auto denoised = (*r.model)(x, s[k]);
    auto [down, up] = ancestral_step(s[k], s[k + 1]);
    callback(r, i, x, denoised);
    if (down == 0.0f) {
      auto d = to_d(x, s[k], denoised);
      x = x + d * (down - s[k]);
    } else {
      const float t = t_fn(s[k]), t_next = t_fn(down);
      const float h = t_next - t;
      const float sm = t + 0.5f * h;
      auto x2 = x * (sigma_fn(sm) / sigma_fn(t)) - denoised * sexpm1(-h * 0.5f);
      auto denoised2 = (*r.model)(x2, sigma_fn(sm));
      x = x * (sigma_fn(t_next) / sigma_fn(t)) - denoised2 * sexpm1(-h);
    }
    if (s[k + 1] > 0) x = x + noise_sampler(r, own)(s[k], s[k + 1]) * 1.0f * up;
  }
  return x;
}

at::Tensor sample_dpmpp_2m(SamplerRun& r) {
  auto x = r.x;
  const auto& s = r.sigmas;
  at::Tensor old;
  for (int64_t i = 0; i < steps(r); ++i) {
    const size_t k = size_t(i);
    auto denoised = (*r.model)(x, s[k]);
    callback(r, i, x, denoised);
    const float t = t_fn(s[k]), t_next = t_fn(s[k + 1]);
    const float h = t_next - t;
    const float ratio = sigma_fn(t_next) / sigma_fn(t);
    if (!old.defined() || s[k + 1] == 0.0f) {
      x = fused::dpmpp_2m_update(x, denoised, at::Tensor(), ratio, 0.0f, 0.0f, sexpm1(-h));
    } else {
      const float h_last = t - t_fn(s[k - 1]);
      const float rr = h_last / h;
      const float c2 = 1 / (2 * rr);
      const float c1 = 1 + c2;
      // x * ratio - (denoised * c1 - old * c2) * expm1(-h), in one pass
      x = fused::dpmpp_2m_update(x, denoised, old, ratio, c1, c2, sexpm1(-h));
    }
    old = denoised;
  }
  return x;
}

}  // namespace
}  // namespace samplers

void register_dpmpp_samplers(SamplerRegistry& reg) {
  reg.add({"dpmpp_2s_ancestral", samplers::sample_dpmpp_2s_ancestral});
  reg.add({"dpmpp_2m", samplers::sample_dpmpp_2m});
}

}  // namespace comfy
