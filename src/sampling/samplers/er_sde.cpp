// er_sde: Extended Reverse-Time SDE solver (VP ER-SDE-Solver-3), default noise (sampling-samplers.md X8.1).
#include <ATen/ATen.h>

#include "comfy/sampling/sampler.hpp"
#include "sampling/samplers/noise_choice.hpp"
#include "sampling/samplers/scalar_f32.hpp"

namespace comfy {
namespace {

using namespace samplers_detail;

// default_er_sde_noise_scaler: x * ((x ** 0.3).exp() + 10.0), on 0-d or 1-d f32 CPU tensors.
at::Tensor noise_scaler(const at::Tensor& v) { return v * (at::pow(v, 0.3).exp() + 10.0); }

at::Tensor sample_er_sde(SamplerRun& run) {
  const float s_noise = 1.0f;
  const int max_stage = 3;
  at::Tensor x = run.x;
  std::unique_ptr<NoiseSampler> own;
  NoiseSampler& ns = default_noise(run, own);
  const ModelSampling& ms = run.model->model_sampling();
  const std::vector<float> sig = sf32::offset_first_sigma_for_snr(run.sigmas, ms);
  const auto cpu_f32 = at::TensorOptions().dtype(at::kFloat);
  const double num_integration_points = 200.0;
  const at::Tensor point_indice = at::arange(0, num_integration_points, cpu_f32);

  // er_lambda_t = sigma_t / alpha_t, computed on the whole vector as the reference does.
  at::Tensor sig_t = at::tensor(sig, cpu_f32);
  at::Tensor half_log_snrs =
      ms.prediction == Prediction::CONST ? at::logit(sig_t).neg() : at::log(sig_t).neg();
  at::Tensor er_lambdas_t = half_log_snrs.neg().exp().contiguous();
  const float* er_lambdas = er_lambdas_t.data_ptr<float>();
  auto S = [](float v) { return noise_scaler(at::scalar_tensor(v, at::kFloat)).item<float>(); };

  at::Tensor old_denoised, old_denoised_d;
  for (size_t i = 0; i + 1 < sig.size(); ++i) {
    if (run.interrupted()) break;
    const float s = sig[i], s_next = sig[i + 1];
    at::Tensor denoised = (*run.model)(x, s);
    callback(run, static_cast<int64_t>(i), x, denoised);
    const int stage_used = std::min<int>(max_stage, static_cast<int>(i) + 1);
    if (s_next == 0.0f) {
      x = denoised;
    } else {
      const float er_lambda_s = er_lambdas[i], er_lambda_t = er_lambdas[i + 1];
      const float alpha_s = s / er_lambda_s;
      const float alpha_t = s_next / er_lambda_t;
      const float r_alpha = alpha_t / alpha_s;
      const float S_t = S(er_lambda_t);
      const float r = S_t / S(er_lambda_s);

      // Stage 1 Euler
      x = x * (r_alpha * r) + denoised * (alpha_t * (1 - r));

      if (stage_used >= 2) {
        const float dt = er_lambda_t - er_lambda_s;
        const float lambda_step_size = -dt / static_cast<float>(num_integration_points);
        at::Tensor lambda_pos = er_lambda_t + point_indice * lambda_step_size;
        at::Tensor scaled_pos = noise_scaler(lambda_pos);

        // Stage 2
        const float sv = (at::sum(scaled_pos.reciprocal()) * lambda_step_size).item<float>();
        at::Tensor denoised_d = (denoised - old_denoised) / (er_lambda_s - er_lambdas[i - 1]);
        x = x + denoised_d * (alpha_t * (dt + sv * S_t));

        if (stage_used >= 3) {
          // Stage 3
          const float s_u = (at::sum((lambda_pos - er_lambda_s) / scaled_pos) * lambda_step_size).item<float>();
          at::Tensor denoised_u = (denoised_d - old_denoised_d) / ((er_lambda_s - er_lambdas[i - 2]) / 2);
          x = x + denoised_u * (alpha_t * ((dt * dt) / 2 + s_u * S_t));
        }
        old_denoised_d = denoised_d;
      }

      if (s_noise > 0) {
        const float amp = sf32::nan_to_num(std::sqrt(er_lambda_t * er_lambda_t - (er_lambda_s * er_lambda_s) * (r * r)));
        x = x + ns(s, s_next) * alpha_t * s_noise * amp;
      }
    }
    old_denoised = denoised;
  }
  return x;
}

}  // namespace

void register_er_sde_samplers(SamplerRegistry& reg) {
  reg.add({"er_sde", [](SamplerRun& r) { return sample_er_sde(r); }, false, false});
}

}  // namespace comfy
