// dpmpp_3m_sde(_gpu): DPM-Solver++(3M) SDE with Brownian noise (sampling-samplers.md X4.5).
#include <ATen/ATen.h>

#include <optional>

#include "comfy/sampling/sampler.hpp"
#include "sampling/samplers/noise_choice.hpp"
#include "sampling/samplers/scalar_f32.hpp"

namespace comfy {
namespace {

using namespace samplers_detail;

at::Tensor sample_dpmpp_3m_sde(SamplerRun& run, bool gpu) {
  const float eta = 1.0f, s_noise = 1.0f;
  at::Tensor x = run.x;
  if (run.sigmas.size() <= 1) return x;
  std::unique_ptr<NoiseSampler> own;
  NoiseSampler& ns = brownian_noise(run, gpu, own);
  const ModelSampling& ms = run.model->model_sampling();
  const std::vector<float> sig = sf32::offset_first_sigma_for_snr(run.sigmas, ms);

  at::Tensor denoised_1, denoised_2;
  std::optional<float> h, h_1, h_2;
  for (size_t i = 0; i + 1 < sig.size(); ++i) {
    if (run.interrupted()) break;
    const float s = sig[i], s_next = sig[i + 1];
    at::Tensor denoised = (*run.model)(x, s);
    callback(run, static_cast<int64_t>(i), x, denoised);
    if (s_next == 0.0f) {
      x = denoised;
    } else {
      const float lambda_s = sf32::sigma_to_half_log_snr(s, ms), lambda_t = sf32::sigma_to_half_log_snr(s_next, ms);
      h = lambda_t - lambda_s;
      const float hv = *h;
      const float h_eta = hv * (eta + 1);
      const float alpha_t = s_next * sf32::exp(lambda_t);
      x = x * ((s_next / s) * sf32::exp(-hv * eta)) + denoised * (alpha_t * -sf32::expm1(-h_eta));
      if (h_2) {
        // DPM-Solver++(3M) SDE
        const float r0 = *h_1 / hv, r1 = *h_2 / hv;
        at::Tensor d1_0 = (denoised - denoised_1) / r0;
        at::Tensor d1_1 = (denoised_1 - denoised_2) / r1;
        at::Tensor d1 = d1_0 + (d1_0 - d1_1) * r0 / (r0 + r1);
        at::Tensor d2 = (d1_0 - d1_1) / (r0 + r1);
        const float phi_2 = sf32::expm1(-h_eta) / h_eta + 1;
        const float phi_3 = phi_2 / h_eta - 0.5f;
        x = x + d1 * (alpha_t * phi_2) - d2 * (alpha_t * phi_3);
      } else if (h_1) {
        // DPM-Solver++(2M) SDE
        const float r = *h_1 / hv;
        at::Tensor d = (denoised - denoised_1) / r;
        const float phi_2 = sf32::expm1(-h_eta) / h_eta + 1;
        x = x + d * (alpha_t * phi_2);
      }
      if (eta > 0 && s_noise > 0)
        x = x + ns(s, s_next) * s_next * std::sqrt(-sf32::expm1(-2 * hv * eta)) * s_noise;
    }
    denoised_2 = denoised_1;
    denoised_1 = denoised;
    h_2 = h_1;
    h_1 = h;
  }
  return x;
}

}  // namespace

void register_dpmpp_3m_sde_samplers(SamplerRegistry& reg) {
  reg.add({"dpmpp_3m_sde", [](SamplerRun& r) { return sample_dpmpp_3m_sde(r, false); }, true, false});
  reg.add({"dpmpp_3m_sde_gpu", [](SamplerRun& r) { return sample_dpmpp_3m_sde(r, true); }, true, true});
}

}  // namespace comfy
