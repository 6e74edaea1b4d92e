// dpmpp_sde, dpmpp_sde_gpu: DPM-Solver++ (stochastic), r = 1/2, Brownian noise (sampling-samplers.md X4.2).
#include <ATen/ATen.h>

#include "comfy/sampling/sampler.hpp"
#include "sampling/samplers/noise_choice.hpp"
#include "sampling/samplers/scalar_f32.hpp"

namespace comfy {
namespace {

using namespace samplers_detail;

at::Tensor sample_dpmpp_sde(SamplerRun& run, bool gpu) {
  const float eta = 1.0f, s_noise = 1.0f;
  const double r = 1.0 / 2;
  at::Tensor x = run.x;
  if (run.sigmas.size() <= 1) return x;
  std::unique_ptr<NoiseSampler> own;
  NoiseSampler& ns = brownian_noise(run, gpu, own);
  const ModelSampling& ms = run.model->model_sampling();
  const std::vector<float> sig = sf32::offset_first_sigma_for_snr(run.sigmas, ms);
  const double fac = 1 / (2 * r);
  const float rf = static_cast<float>(r);

  for (size_t i = 0; i + 1 < sig.size(); ++i) {
    if (run.interrupted()) break;
    const float s = sig[i], s_next = sig[i + 1];
    at::Tensor denoised = (*run.model)(x, s);
    callback(run, static_cast<int64_t>(i), x, denoised);
    if (s_next == 0.0f) {
      x = denoised;
      continue;
    }
    const float lambda_s = sf32::sigma_to_half_log_snr(s, ms), lambda_t = sf32::sigma_to_half_log_snr(s_next, ms);
    const float h = lambda_t - lambda_s;
    const float lambda_s_1 = lambda_s + rf * h;
    const float sigma_s_1 = sf32::half_log_snr_to_sigma(lambda_s_1, ms);
    const float alpha_s = s * sf32::exp(lambda_s);
    const float alpha_s_1 = sigma_s_1 * sf32::exp(lambda_s_1);
    const float alpha_t = s_next * sf32::exp(lambda_t);

    // Step 1
    auto [sd, su] = sf32::ancestral_step(sf32::exp(-lambda_s), sf32::exp(-lambda_s_1), eta);
    float lambda_s_1_ = -sf32::log(sd);
    float h_ = lambda_s_1_ - lambda_s;
    at::Tensor x_2 = x * ((alpha_s_1 / alpha_s) * sf32::exp(-h_)) - denoised * (alpha_s_1 * sf32::expm1(-h_));
    if (eta > 0 && s_noise > 0) x_2 = x_2 + ns(s, sigma_s_1) * alpha_s_1 * s_noise * su;
    at::Tensor denoised_2 = (*run.model)(x_2, sigma_s_1);

    // Step 2
    std::tie(sd, su) = sf32::ancestral_step(sf32::exp(-lambda_s), sf32::exp(-lambda_t), eta);
    const float lambda_t_ = -sf32::log(sd);
    h_ = lambda_t_ - lambda_s;
    at::Tensor denoised_d = denoised * (1 - fac) + denoised_2 * fac;
    x = x * ((alpha_t / alpha_s) * sf32::exp(-h_)) - denoised_d * (alpha_t * sf32::expm1(-h_));
    if (eta > 0 && s_noise > 0) x = x + ns(s, s_next) * alpha_t * s_noise * su;
  }
  return x;
}

}  // namespace

void register_dpmpp_sde_samplers(SamplerRegistry& reg) {
  reg.add({"dpmpp_sde", [](SamplerRun& r) { return sample_dpmpp_sde(r, false); }, true, false});
  reg.add({"dpmpp_sde_gpu", [](SamplerRun& r) { return sample_dpmpp_sde(r, true); }, true, true});
}

}  // namespace comfy
