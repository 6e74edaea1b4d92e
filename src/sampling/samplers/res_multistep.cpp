// res_multistep family (sampling-samplers.md X7.4): res_multistep, res_multistep_cfg_pp,
// res_multistep_ancestral, res_multistep_ancestral_cfg_pp. Default noise; CFG++ uses the captured uncond.
#include <ATen/ATen.h>

#include <optional>

#include "comfy/sampling/sampler.hpp"
#include "sampling/samplers/noise_choice.hpp"
#include "sampling/samplers/scalar_f32.hpp"

namespace comfy {
namespace {

using namespace samplers_detail;

at::Tensor res_multistep(SamplerRun& run, float eta, bool cfg_pp) {
  const float s_noise = 1.0f;
  at::Tensor x = run.x;
  std::unique_ptr<NoiseSampler> own;
  NoiseSampler& ns = default_noise(run, own);
  const std::vector<float>& sig = run.sigmas;
  auto sigma_fn = [](float t) { return sf32::exp(-t); };
  auto t_fn = [](float sigma) { return -sf32::log(sigma); };
  auto phi1_fn = [](float t) { return sf32::expm1(t) / t; };
  auto phi2_fn = [&](float t) { return (phi1_fn(t) - 1.0f) / t; };
  if (cfg_pp) run.model->enable_uncond_capture();

  std::optional<float> old_sigma_down;
  at::Tensor old_denoised;
  for (size_t i = 0; i + 1 < sig.size(); ++i) {
    if (run.interrupted()) break;
    const float s = sig[i], s_next = sig[i + 1];
    at::Tensor denoised = (*run.model)(x, s);
    at::Tensor uncond_denoised = cfg_pp ? run.model->last_uncond() : at::Tensor();
    auto [sigma_down, sigma_up] = sf32::ancestral_step(s, s_next, eta);
    callback(run, static_cast<int64_t>(i), x, denoised);
    if (sigma_down == 0.0f || !old_denoised.defined()) {
      // Euler method
      if (cfg_pp) {
        at::Tensor d = (x - uncond_denoised) / s;
        x = denoised + d * sigma_down;
      } else {
        at::Tensor d = (x - denoised) / s;
        const float dt = sigma_down - s;
        x = x + d * dt;
      }
    } else {
      // Second order multistep method in https://arxiv.org/pdf/2308.02157
      const float t = t_fn(s), t_old = t_fn(*old_sigma_down), t_next = t_fn(sigma_down), t_prev = t_fn(sig[i - 1]);
      const float h = t_next - t;
      const float c2 = (t_prev - t_old) / h;
      const float phi1_val = phi1_fn(-h), phi2_val = phi2_fn(-h);
      const float b1 = sf32::nan_to_num(phi1_val - phi2_val / c2);
      const float b2 = sf32::nan_to_num(phi2_val / c2);
      if (cfg_pp) {
        x = x + (denoised - uncond_denoised);
        x = x * sigma_fn(h) + (uncond_denoised * b1 + old_denoised * b2) * h;
      } else {
        x = x * sigma_fn(h) + (denoised * b1 + old_denoised * b2) * h;
      }
    }
    // Noise addition (drawn even when eta = 0, then multiplied by sigma_up = 0)
    if (s_next > 0) x = x + ns(s, s_next) * s_noise * sigma_up;
    old_denoised = cfg_pp ? uncond_denoised : denoised;
    old_sigma_down = sigma_down;
  }
  return x;
}

}  // namespace

void register_res_multistep_samplers(SamplerRegistry& reg) {
  reg.add({"res_multistep", [](SamplerRun& r) { return res_multistep(r, 0.0f, false); }, false, false});
  reg.add({"res_multistep_cfg_pp", [](SamplerRun& r) { return res_multistep(r, 0.0f, true); }, false, false});
  reg.add({"res_multistep_ancestral", [](SamplerRun& r) { return res_multistep(r, 1.0f, false); }, false, false});
  reg.add({"res_multistep_ancestral_cfg_pp", [](SamplerRun& r) { return res_multistep(r, 1.0f, true); }, false, false});
}

}  // namespace comfy
