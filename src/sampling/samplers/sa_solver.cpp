// sa_solver, sa_solver_pece: Stochastic Adams solver, predictor order 3, corrector order 4, default
// tau window (sampling-samplers.md X8.4). Coefficients are small f32 tensors computed on the CPU from
// the host sigmas (as the reference computes them on the sampling device) and moved to x's device.
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <deque>

#include "comfy/sampling/sampler.hpp"
#include "sampling/samplers/noise_choice.hpp"
#include "sampling/samplers/scalar_f32.hpp"

namespace comfy {
namespace {

using namespace samplers_detail;

// (1 + tau^2) * integral of exp((1 + tau^2) x) x^p dx from s to t, exp((1 + tau^2) t) factored out,
// for p = 0 .. order-1 (sa_solver.compute_exponential_coeffs). s, t: 0-d f32 CPU tensors.
at::Tensor exponential_coeffs(const at::Tensor& s, const at::Tensor& t, int64_t order, double tau_t) {
  const double tau_mul = 1 + tau_t * tau_t;
  at::Tensor h = t - s;
  at::Tensor p = at::arange(order, s.options());
  at::Tensor product_terms_factored = at::pow(t, p) - at::pow(s, p) * (h * (-tau_mul)).exp();
  at::Tensor recursive_depth_mat = p.unsqueeze(1) - p.unsqueeze(0);
  at::Tensor log_factorial = (p + 1).lgamma();
  at::Tensor recursive_coeff_mat = log_factorial.unsqueeze(1) - log_factorial.unsqueeze(0);
  if (tau_t > 0) recursive_coeff_mat = recursive_coeff_mat - recursive_depth_mat * std::log(tau_mul);
  at::Tensor ones = at::ones_like(recursive_depth_mat);
  at::Tensor signs = at::where(at::remainder(recursive_depth_mat, 2) == 0, ones, -ones);
  recursive_coeff_mat = (recursive_coeff_mat.exp() * signs).tril();
  return at::matmul(recursive_coeff_mat, product_terms_factored);
}

// b_i coefficients (sa_solver.compute_stochastic_adams_b_coeffs, simple_order_2 = false).
at::Tensor stochastic_adams_b_coeffs(float sigma_next, const at::Tensor& curr_lambdas, const at::Tensor& lambda_s,
                                     const at::Tensor& lambda_t, double tau_t) {
  const int64_t num_timesteps = curr_lambdas.size(0);
  at::Tensor exp_integral_coeffs = exponential_coeffs(lambda_s, lambda_t, num_timesteps, tau_t);
  at::Tensor vandermonde_matrix_T = at::vander(curr_lambdas, num_timesteps, true).t();
  at::Tensor lagrange_integrals = at::linalg_solve(vandermonde_matrix_T, exp_integral_coeffs);
  at::Tensor alpha_t = at::scalar_tensor(sigma_next, lambda_t.options()) * lambda_t.exp();
  return alpha_t * lagrange_integrals;
}

at::Tensor sample_sa_solver(SamplerRun& run, bool use_pece) {
  const double s_noise = 1.0;
  const int64_t predictor_order = 3, corrector_order = 4;
  at::Tensor x = run.x;
  if (run.sigmas.size() <= 1) return x;
  std::unique_ptr<NoiseSampler> own;
  NoiseSampler& ns = default_noise(run, own);
  const ModelSampling& ms = run.model->model_sampling();
  const std::vector<float> sig = sf32::offset_first_sigma_for_snr(run.sigmas, ms);
  const auto cpu_f32 = at::TensorOptions().dtype(at::kFloat);
  const at::Tensor sig_t = at::tensor(sig, cpu_f32);
  const at::Tensor lambdas = ms.prediction == Prediction::CONST ? at::logit(sig_t).neg() : at::log(sig_t).neg();
  const float* lam = lambdas.data_ptr<float>();

  // Default tau: stochastic only inside [percent_to_sigma(0.8), percent_to_sigma(0.2)].
  const double start_sigma = ms.percent_to_sigma(0.2), end_sigma = ms.percent_to_sigma(0.8);
  auto tau_func = [&](float sigma) {
    const double s = sigma;
    return (start_sigma >= s && s >= end_sigma) ? 1.0 : 0.0;
  };

  const int64_t max_used_order = std::max(predictor_order, corrector_order);
  const int64_t n = static_cast<int64_t>(sig.size()) - 1;
  at::Tensor x_pred = x;
  float h = 0.0f;
  double tau_t = 0.0;
  at::Tensor noise;
  std::deque<at::Tensor> pred_list;
  const bool lower_order_to_end = sig.back() == 0.0f;  // lower order near the end for stability
  auto combine = [&](int64_t k, const at::Tensor& b) {
    std::vector<at::Tensor> last(pred_list.end() - k, pred_list.end());
    at::Tensor pred_mat = at::stack(last, 1);  // (B, K, ...)
    return at::tensordot(pred_mat, b.to(x.device()), {1}, {0});
  };

  for (int64_t i = 0; i < n; ++i) {
    if (run.interrupted()) break;
    const float s = sig[i], s_next = sig[i + 1];
    at::Tensor denoised = (*run.model)(x_pred, s);
    callback(run, i, x_pred, denoised);
    pred_list.push_back(denoised);
    while (static_cast<int64_t>(pred_list.size()) > max_used_order) pred_list.pop_front();
    const int64_t len = static_cast<int64_t>(pred_list.size());

    int64_t predictor_order_used = std::min(predictor_order, len);
    int64_t corrector_order_used = (i == 0 || (s_next == 0.0f && !use_pece)) ? 0 : std::min(corrector_order, len);
    if (lower_order_to_end) {
      predictor_order_used = std::min(predictor_order_used, n - 1 - i);
      corrector_order_used = std::min(corrector_order_used, n - i);
    }

    // Corrector
    if (corrector_order_used == 0) {
      x = x_pred;  // update by the predicted state
    } else {
      at::Tensor b = stochastic_adams_b_coeffs(s, lambdas.slice(0, i - corrector_order_used + 1, i + 1), lambdas[i - 1],
                                               lambdas[i], tau_t);
      at::Tensor corr_res = combine(corrector_order_used, b);
      const float decay = sf32::exp(static_cast<float>(-(tau_t * tau_t)) * h);
      x = x * ((s / sig[i - 1]) * decay) + corr_res;
      if (tau_t > 0 && s_noise > 0) x = x + noise;  // the noise of the previous predictor step
      if (use_pece) {
        denoised = (*run.model)(x, s);  // evaluate the corrected state
        pred_list.back() = denoised;
      }
    }

    // Predictor
    if (s_next == 0.0f) {
      x_pred = denoised;  // denoising step
    } else {
      tau_t = tau_func(s_next);
      at::Tensor b = stochastic_adams_b_coeffs(s_next, lambdas.slice(0, i - predictor_order_used + 1, i + 1),
                                               lambdas[i], lambdas[i + 1], tau_t);
      at::Tensor pred_res = combine(predictor_order_used, b);
      h = lam[i + 1] - lam[i];
      const float tau2 = static_cast<float>(tau_t * tau_t);
      x_pred = x * ((s_next / s) * sf32::exp(-tau2 * h)) + pred_res;
      if (tau_t > 0 && s_noise > 0) {
        noise = ns(s, s_next) * s_next * std::sqrt(-sf32::expm1(static_cast<float>(-2 * (tau_t * tau_t)) * h)) * s_noise;
        x_pred = x_pred + noise;
      }
    }
  }
  return x_pred;
}

}  // namespace

void register_sa_solver_samplers(SamplerRegistry& reg) {
  reg.add({"sa_solver", [](SamplerRun& r) { return sample_sa_solver(r, false); }, false, false});
  reg.add({"sa_solver_pece", [](SamplerRun& r) { return sample_sa_solver(r, true); }, false, false});
}

}  // namespace comfy
