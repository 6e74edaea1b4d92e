// CFG++ samplers (sampling-samplers.md X9): euler_cfg_pp, euler_ancestral_cfg_pp,
// dpmpp_2s_ancestral_cfg_pp, dpmpp_2m_cfg_pp. Each enables the uncond capture of the denoiser (X9.0:
// a post-CFG hook plus disable_cfg1_optimization in the reference) and reads U after every call.
#include <ATen/ATen.h>

#include "comfy/sampling/sampler.hpp"
#include "sampling/samplers/noise_choice.hpp"
#include "sampling/samplers/scalar_f32.hpp"

namespace comfy {
namespace {

using namespace samplers_detail;

// X9.1 (non-CONST models have alpha = sigma * exp(-log sigma), computed anyway).
at::Tensor sample_euler_ancestral_cfg_pp(SamplerRun& run, float eta, float s_noise) {
  at::Tensor x = run.x;
  std::unique_ptr<NoiseSampler> own;
  NoiseSampler& ns = default_noise(run, own);
  const ModelSampling& ms = run.model->model_sampling();
  run.model->enable_uncond_capture();
  const std::vector<float>& sig = run.sigmas;
  for (size_t i = 0; i + 1 < sig.size(); ++i) {
    if (run.interrupted()) break;
    const float s = sig[i], s_next = sig[i + 1];
    at::Tensor denoised = (*run.model)(x, s);
    at::Tensor uncond_denoised = run.model->last_uncond();
    callback(run, static_cast<int64_t>(i), x, denoised);
    if (s_next == 0.0f) {
      x = denoised;
      continue;
    }
    const float alpha_s = s * sf32::exp(sf32::sigma_to_half_log_snr(s, ms));
    const float alpha_t = s_next * sf32::exp(sf32::sigma_to_half_log_snr(s_next, ms));
    at::Tensor d = (x - uncond_denoised * alpha_s) / s;  // to noise
    // DDIM stochastic sampling
    auto [sigma_down, sigma_up] = sf32::ancestral_step(s / alpha_s, s_next / alpha_t, eta);
    sigma_down = alpha_t * sigma_down;
    x = denoised * alpha_t + d * sigma_down;
    if (eta > 0 && s_noise > 0) x = x + ns(s, s_next) * alpha_t * s_noise * sigma_up;
  }
  return x;
}

// X9.2 (v0.8.0 form: the guidance term d - U is folded into x before both exponential updates).
at::Tensor sample_dpmpp_2s_ancestral_cfg_pp(SamplerRun& run) {
  const float eta = 1.0f, s_noise = 1.0f;
  at::Tensor x = run.x;
  std::unique_ptr<NoiseSampler> own;
  NoiseSampler& ns = default_noise(run, own);
  run.model->enable_uncond_capture();
  auto sigma_fn = [](float t) { return sf32::exp(-t); };
  auto t_fn = [](float sigma) { return -sf32::log(sigma); };
  const std::vector<float>& sig = run.sigmas;
  for (size_t i = 0; i + 1 < sig.size(); ++i) {
    if (run.interrupted()) break;
    const float s = sig[i], s_next = sig[i + 1];
    at::Tensor denoised = (*run.model)(x, s);
    at::Tensor uncond = run.model->last_uncond();
    auto [sigma_down, sigma_up] = sf32::ancestral_step(s, s_next, eta);
    callback(run, static_cast<int64_t>(i), x, denoised);
    if (sigma_down == 0.0f) {
      // Euler method
      at::Tensor d = (x - uncond) / s;
      x = denoised + d * sigma_down;
    } else {
      // DPM-Solver++(2S)
      const float t = t_fn(s), t_next = t_fn(sigma_down);
      const float r = 0.5f;
      const float h = t_next - t;
      const float s_mid = t + r * h;
      at::Tensor x_2 = (x + (denoised - uncond)) * (sigma_fn(s_mid) / sigma_fn(t)) - denoised * sf32::expm1(-h * r);
      at::Tensor denoised_2 = (*run.model)(x_2, sigma_fn(s_mid));
      uncond = run.model->last_uncond();  // the reference's captured uncond now belongs to this call
      x = (x + (denoised - uncond)) * (sigma_fn(t_next) / sigma_fn(t)) - denoised_2 * sf32::expm1(-h);
    }
    // Noise addition
    if (s_next > 0) x = x + ns(s, s_next) * s_noise * sigma_up;
  }
  return x;
}

// X9.3
at::Tensor sample_dpmpp_2m_cfg_pp(SamplerRun& run) {
  at::Tensor x = run.x;
  run.model->enable_uncond_capture();
  auto t_fn = [](float sigma) { return -sf32::log(sigma); };
  const std::vector<float>& sig = run.sigmas;
  at::Tensor old_uncond_denoised;
  for (size_t i = 0; i + 1 < sig.size(); ++i) {
    if (run.interrupted()) break;
    const float s = sig[i], s_next = sig[i + 1];
    at::Tensor denoised = (*run.model)(x, s);
    at::Tensor uncond_denoised = run.model->last_uncond();
    callback(run, static_cast<int64_t>(i), x, denoised);
    const float t = t_fn(s), t_next = t_fn(s_next);
    const float h = t_next - t;
    at::Tensor denoised_mix;
    if (!old_uncond_denoised.defined() || s_next == 0.0f) {
      denoised_mix = uncond_denoised * -sf32::exp(-h);
    } else {
      const float h_last = t - t_fn(sig[i - 1]);
      const float r = h_last / h;
      denoised_mix = uncond_denoised * -sf32::exp(-h) -
                     (denoised - old_uncond_denoised) * (sf32::expm1(-h) * (1 / (2 * r)));
    }
    x = denoised + denoised_mix + x * sf32::exp(-h);
    old_uncond_denoised = uncond_denoised;
  }
  return x;
}

}  // namespace

void register_cfg_pp_samplers(SamplerRegistry& reg) {
  reg.add({"euler_cfg_pp", [](SamplerRun& r) { return sample_euler_ancestral_cfg_pp(r, 0.0f, 0.0f); }, false, false});
  reg.add({"euler_ancestral_cfg_pp", [](SamplerRun& r) { return sample_euler_ancestral_cfg_pp(r, 1.0f, 1.0f); }, false, false});
  reg.add({"dpmpp_2s_ancestral_cfg_pp", [](SamplerRun& r) { return sample_dpmpp_2s_ancestral_cfg_pp(r); }, false, false});
  reg.add({"dpmpp_2m_cfg_pp", [](SamplerRun& r) { return sample_dpmpp_2m_cfg_pp(r); }, false, false});
}

}  // namespace comfy
