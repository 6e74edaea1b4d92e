// dpmpp_2m_sde(_gpu), dpmpp_2m_sde_heun(_gpu): DPM-Solver++(2M) SDE with Brownian noise
// (sampling-samplers.md X4.4). midpoint / heun differ only in the second-order correction.
#include <ATen/ATen.h>

#include <optional>

#include "comfy/sampling/sampler.hpp"
#include "sampling/samplers/noise_choice.hpp"
#include "sampling/samplers/scalar_f32.hpp"

namespace comfy {
namespace {

using namespace samplers_detail;

enum class SolverType { Midpoint, Heun };

at::Tensor sample_dpmpp_2m_sde(SamplerRun& run, bool gpu, SolverType solver) {
  const float eta = 1.0f, s_noise = 1.0f;
  at::Tensor x = run.x;
  if (run.sigmas.size() <= 1) return x;
  std::unique_ptr<NoiseSampler> own;
  NoiseSampler& ns = brownian_noise(run, gpu, own);
  const ModelSampling& ms = run.model->model_sampling();
  const std::vector<float> sig = sf32::offset_first_sigma_for_snr(run.sigmas, ms);

  at::Tensor old_denoised;
  std::optional<float> h, h_last;
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
      const float em = -sf32::expm1(-h_eta);  // (-h_eta).expm1().neg()
      x = x * ((s_next / s) * sf32::exp(-hv * eta)) + denoised * (alpha_t * em);
      if (old_denoised.defined()) {
        const float r = *h_last / hv;
        if (solver == SolverType::Heun)
          x = x + (denoised - old_denoised) * ((alpha_t * (em / (-h_eta) + 1)) * (1 / r));
        else
          x = x + (denoised - old_denoised) * (((0.5f * alpha_t) * em) * (1 / r));
      }
      if (eta > 0 && s_noise > 0)
        x = x + ns(s, s_next) * s_next * std::sqrt(-sf32::expm1(-2 * hv * eta)) * s_noise;
    }
    old_denoised = denoised;
    h_last = h;
  }
  return x;
}

}  // namespace

void register_dpmpp_2m_sde_samplers(SamplerRegistry& reg) {
  reg.add({"dpmpp_2m_sde", [](SamplerRun& r) { return sample_dpmpp_2m_sde(r, false, SolverType::Midpoint); }, true, false});
  reg.add({"dpmpp_2m_sde_gpu", [](SamplerRun& r) { return sample_dpmpp_2m_sde(r, true, SolverType::Midpoint); }, true, true});
  // Not wrapped by Impact: they always build their noise from the sigmas they are given.
  reg.add({"dpmpp_2m_sde_heun", [](SamplerRun& r) { return sample_dpmpp_2m_sde(r, false, SolverType::Heun); }, false, false});
  reg.add({"dpmpp_2m_sde_heun_gpu", [](SamplerRun& r) { return sample_dpmpp_2m_sde(r, true, SolverType::Heun); }, false, true});
}

}  // namespace comfy
