// SEEDS solvers with default noise (sampling-samplers.md X8.2, X8.3): seeds_2, seeds_3 and the
// exponential-Heun special cases exp_heun_2_x0 (deterministic) and exp_heun_2_x0_sde.
#include <ATen/ATen.h>

#include "comfy/core/error.hpp"
#include "comfy/sampling/sampler.hpp"
#include "sampling/samplers/noise_choice.hpp"
#include "sampling/samplers/scalar_f32.hpp"

namespace comfy {
namespace {

using namespace samplers_detail;

float ei_h_phi_1(float h) { return sf32::expm1(h); }
float ei_h_phi_2(float h) { return (sf32::expm1(h) - h) / h; }

enum class Phi { One, Two };

at::Tensor sample_seeds_2(SamplerRun& run, float eta, float s_noise, double r, Phi solver_type) {
  at::Tensor x = run.x;
  std::unique_ptr<NoiseSampler> own;
  NoiseSampler& ns = default_noise(run, own);
  const ModelSampling& ms = run.model->model_sampling();
  const bool inject_noise = eta > 0 && s_noise > 0;
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
    const float h_eta = h * (eta + 1);
    const float lambda_s_1 = sf32::lerp(lambda_s, lambda_t, rf);
    const float sigma_s_1 = sf32::half_log_snr_to_sigma(lambda_s_1, ms);
    const float alpha_s_1 = sigma_s_1 * sf32::exp(lambda_s_1);
    const float alpha_t = s_next * sf32::exp(lambda_t);

    // Step 1
    at::Tensor x_2 = x * ((sigma_s_1 / s) * sf32::exp(-rf * h * eta)) -
                     denoised * (alpha_s_1 * ei_h_phi_1(-rf * h_eta));
    at::Tensor sde_noise;
    if (inject_noise) {
      sde_noise = ns(s, sigma_s_1) * std::sqrt(-sf32::expm1(static_cast<float>(-2 * r) * h * eta));
      x_2 = x_2 + sde_noise * sigma_s_1 * s_noise;
    }
    at::Tensor denoised_2 = (*run.model)(x_2, sigma_s_1);

    // Step 2
    if (solver_type == Phi::One) {
      at::Tensor denoised_d = at::lerp(denoised, denoised_2, fac);
      x = x * ((s_next / s) * sf32::exp(-h * eta)) - denoised_d * (alpha_t * ei_h_phi_1(-h_eta));
    } else {
      const float b2 = ei_h_phi_2(-h_eta) / rf;
      const float b1 = ei_h_phi_1(-h_eta) - b2;
      x = x * ((s_next / s) * sf32::exp(-h * eta)) - (denoised * b1 + denoised_2 * b2) * alpha_t;
    }

    if (inject_noise) {
      const float segment_factor = static_cast<float>(r - 1) * h * eta;
      sde_noise = sde_noise * sf32::exp(segment_factor);
      sde_noise = sde_noise + ns(sigma_s_1, s_next) * std::sqrt(-sf32::expm1(segment_factor * 2));
      x = x + sde_noise * s_next * s_noise;
    }
  }
  return x;
}

at::Tensor sample_seeds_3(SamplerRun& run) {
  const float eta = 1.0f, s_noise = 1.0f;
  const double r_1 = 1. / 3, r_2 = 2. / 3;
  const float r1f = static_cast<float>(r_1), r2f = static_cast<float>(r_2);
  at::Tensor x = run.x;
  std::unique_ptr<NoiseSampler> own;
  NoiseSampler& ns = default_noise(run, own);
  const ModelSampling& ms = run.model->model_sampling();
  const bool inject_noise = eta > 0 && s_noise > 0;
  const std::vector<float> sig = sf32::offset_first_sigma_for_snr(run.sigmas, ms);

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
    const float h_eta = h * (eta + 1);
    const float lambda_s_1 = sf32::lerp(lambda_s, lambda_t, r1f);
    const float lambda_s_2 = sf32::lerp(lambda_s, lambda_t, r2f);
    const float sigma_s_1 = sf32::half_log_snr_to_sigma(lambda_s_1, ms);
    const float sigma_s_2 = sf32::half_log_snr_to_sigma(lambda_s_2, ms);
    const float alpha_s_1 = sigma_s_1 * sf32::exp(lambda_s_1);
    const float alpha_s_2 = sigma_s_2 * sf32::exp(lambda_s_2);
    const float alpha_t = s_next * sf32::exp(lambda_t);

    // Step 1
    at::Tensor x_2 = x * ((sigma_s_1 / s) * sf32::exp(-r1f * h * eta)) -
                     denoised * (alpha_s_1 * ei_h_phi_1(-r1f * h_eta));
    at::Tensor sde_noise;
    if (inject_noise) {
      sde_noise = ns(s, sigma_s_1) * std::sqrt(-sf32::expm1(static_cast<float>(-2 * r_1) * h * eta));
      x_2 = x_2 + sde_noise * sigma_s_1 * s_noise;
    }
    at::Tensor denoised_2 = (*run.model)(x_2, sigma_s_1);

    // Step 2
    const float a3_2 = static_cast<float>(r_2 / r_1) * ei_h_phi_2(-r2f * h_eta);
    const float a3_1 = ei_h_phi_1(-r2f * h_eta) - a3_2;
    at::Tensor x_3 = x * ((sigma_s_2 / s) * sf32::exp(-r2f * h * eta)) -
                     (denoised * a3_1 + denoised_2 * a3_2) * alpha_s_2;
    if (inject_noise) {
      const float segment_factor = static_cast<float>(r_1 - r_2) * h * eta;
      sde_noise = sde_noise * sf32::exp(segment_factor);
      sde_noise = sde_noise + ns(sigma_s_1, sigma_s_2) * std::sqrt(-sf32::expm1(segment_factor * 2));
      x_3 = x_3 + sde_noise * sigma_s_2 * s_noise;
    }
    at::Tensor denoised_3 = (*run.model)(x_3, sigma_s_2);

    // Step 3
    const float b3 = ei_h_phi_2(-h_eta) / r2f;
    const float b1 = ei_h_phi_1(-h_eta) - b3;
    x = x * ((s_next / s) * sf32::exp(-h * eta)) - (denoised * b1 + denoised_3 * b3) * alpha_t;
    if (inject_noise) {
      const float segment_factor = static_cast<float>(r_2 - 1) * h * eta;
      sde_noise = sde_noise * sf32::exp(segment_factor);
      sde_noise = sde_noise + ns(sigma_s_2, s_next) * std::sqrt(-sf32::expm1(segment_factor * 2));
      x = x + sde_noise * s_next * s_noise;
    }
  }
  return x;
}

}  // namespace

void register_seeds_samplers(SamplerRegistry& reg) {
  reg.add({"seeds_2", [](SamplerRun& r) { return sample_seeds_2(r, 1.0f, 1.0f, 0.5, Phi::One); }, false, false});
  reg.add({"seeds_3", [](SamplerRun& r) { return sample_seeds_3(r); }, false, false});
  reg.add({"exp_heun_2_x0", [](SamplerRun& r) { return sample_seeds_2(r, 0.0f, 0.0f, 1.0, Phi::Two); }, false, false});
  reg.add({"exp_heun_2_x0_sde", [](SamplerRun& r) { return sample_seeds_2(r, 1.0f, 1.0f, 1.0, Phi::Two); }, false, false});
}

}  // namespace comfy
