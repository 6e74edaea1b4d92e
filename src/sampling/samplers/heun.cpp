// heun, heunpp2 (sampling-samplers.md X3.4, X3.5); s_churn = 0 defaults.
#include "common.hpp"

namespace comfy {
namespace samplers {
namespace {

at::Tensor sample_heun(SamplerRun& r) {
  auto x = r.x;
  const auto& s = r.sigmas;
  for (int64_t i = 0; i < steps(r); ++i) {
    const size_t k = size_t(i);
    const float sigma_hat = s[k] * 1.0f;
    auto denoised = (*r.model)(x, sigma_hat);
    auto d = to_d(x, sigma_hat, denoised);
    callback(r, i, x, denoised);
    const float dt = s[k + 1] - sigma_hat;
    if (s[k + 1] == 0.0f) {
      x = x + d * dt;
    } else {
      auto x2 = x + d * dt;
      auto denoised2 = (*r.model)(x2, s[k + 1]);
      auto d2 = to_d(x2, s[k + 1], denoised2);
      x = x + ((d + d2) / 2) * dt;
    }
  }
  return x;
}

// heunpp2 also draws randn_like(x) from the global generator every step and discards it (s_churn = 0);
// only the global generator state would differ, which no output in scope depends on.
at::Tensor sample_heunpp2(SamplerRun& r) {
  auto x = r.x;
  const auto& s = r.sigmas;
  const float s_end = s.back();
  for (int64_t i = 0; i < steps(r); ++i) {
    const size_t k = size_t(i);
    const float sigma_hat = s[k] * 1.0f;
    auto denoised = (*r.model)(x, sigma_hat);
    auto d = to_d(x, sigma_hat, denoised);
    callback(r, i, x, denoised);
    const float dt = s[k + 1] - sigma_hat;
    if (s[k + 1] == s_end) {
      x = x + d * dt;
    } else if (s[k + 2] == s_end) {
      auto x2 = x + d * dt;
      auto d2 = to_d(x2, s[k + 1], (*r.model)(x2, s[k + 1]));
      const float w = 2 * s[0];
      const float w2 = s[k + 1] / w;
      const float w1 = 1 - w2;
      x = x + (d * w1 + d2 * w2) * dt;
    } else {
      auto x2 = x + d * dt;
      auto d2 = to_d(x2, s[k + 1], (*r.model)(x2, s[k + 1]));
      auto x3 = x2 + d2 * (s[k + 2] - s[k + 1]);
      auto d3 = to_d(x3, s[k + 2], (*r.model)(x3, s[k + 2]));
      const float w = 3 * s[0];
      const float w2 = s[k + 1] / w;
      const float w3 = s[k + 2] / w;
      const float w1 = 1 - w2 - w3;
      x = x + (d * w1 + d2 * w2 + d3 * w3) * dt;
    }
  }
  return x;
}

}  // namespace
}  // namespace samplers

void register_heun_samplers(SamplerRegistry& reg) {
  reg.add({"heun", samplers::sample_heun});
  reg.add({"heunpp2", samplers::sample_heunpp2});
}

}  // namespace comfy
