// deis, max_order 3, "tab" coefficients (sampling-samplers.md X7.3; comfy/k_diffusion/deis.py).
// The callback gets the sampler's initial x every step (reference quirk, kept).
#include <c10/core/GradMode.h>
#include <c10/core/InferenceMode.h>

#include <deque>

#include "common.hpp"

namespace comfy {
namespace samplers {
namespace {

// The reference's VP constants (edm2t with eps_s 1e-3, sigma 0.002..80), as computed on its machine.
constexpr double kBetaD = 17.53785065094062;
constexpr double kBetaMin = -0.004715818328307364;
constexpr double kBeta1 = 17.533134832612312;

// Coefficients C[i][j] for every interval, computed on the CPU in f32 exactly as the reference does
// (the integrand's derivative through libtorch autograd, as deis.py cal_intergrand).
std::vector<std::vector<float>> deis_coeffs(const std::vector<float>& sigmas, int max_order) {
  constexpr int64_t N = 10000;
  c10::InferenceMode no_inference(false);  // autograd below needs normal tensors
  auto f64 = at::TensorOptions().dtype(at::kDouble);
  auto sig = at::tensor(sigmas, at::kFloat);
  auto beta_d = at::scalar_tensor(kBetaD, f64), beta_min = at::scalar_tensor(kBetaMin, f64);
  // vp_sigma_inv: ((beta_min^2 + 2 beta_d log(sigma^2 + 1)).sqrt() - beta_min) / beta_d
  auto t_steps = ((beta_min.pow(2) + (2 * beta_d) * (sig.pow(2) + 1).log()).sqrt() - beta_min) / beta_d;
  auto beta0 = at::scalar_tensor(kBetaMin, f64), beta1 = at::scalar_tensor(kBeta1, f64);
  std::vector<std::vector<float>> C;
  const int64_t n = int64_t(sigmas.size()) - 1;
  for (int64_t i = 0; i < n; ++i) {
    const int order = int(std::min<int64_t>(i + 1, max_order));
    if (order == 1) {
      C.emplace_back();
      continue;
    }
    const double t_cur = t_steps[i].item<double>(), t_next = t_steps[i + 1].item<double>();
    auto taus = at::linspace(t_cur, t_next, N, at::kFloat);
    auto dtau = (t_steps[i + 1] - t_steps[i]) / N;
    at::Tensor integrand;
    {
      c10::AutoGradMode grad(true);
      auto tg = taus.clone().set_requires_grad(true);
      auto alpha = at::exp(-0.5 * tg.pow(2) * (beta1 - beta0) - tg * beta0);
      auto log_alpha = alpha.log();
      log_alpha.sum().backward();
      auto dlog = tg.grad().detach();
      auto a = alpha.detach();
      integrand = -0.5 * dlog / at::sqrt(a * (1 - a));
    }
    std::vector<float> coeff;
    for (int j = 0; j < order; ++j) {
      at::Tensor poly;
      for (int k = 0; k < order; ++k) {
        if (k == j) continue;
        auto f = (taus - t_steps[i - k]) / (t_steps[i - j] - t_steps[i - k]);
        poly = poly.defined() ? poly * f : f;
      }
      coeff.push_back(((integrand * poly).sum() * dtau).item<float>());
    }
    C.push_back(std::move(coeff));
  }
  return C;
}

at::Tensor sample_deis(SamplerRun& r) {
  constexpr int kMaxOrder = 3;
  const auto& s = r.sigmas;
  const auto C = deis_coeffs(s, kMaxOrder);
  auto xc = r.x;
  std::deque<at::Tensor> buf;
  for (int64_t i = 0; i < steps(r); ++i) {
    const size_t k = size_t(i);
    const float t_cur = s[k], t_next = s[k + 1];
    auto denoised = (*r.model)(xc, t_cur);
    callback(r, i, r.x, denoised);
    auto d = (xc - denoised) / t_cur;
    int order = int(std::min<int64_t>(kMaxOrder, i + 1));
    if (t_next <= 0) order = 1;
    const size_t n = buf.size();
    if (order == 1) xc = xc + d * (t_next - t_cur);
    else if (order == 2) xc = xc + d * C[k][0] + buf[n - 1] * C[k][1];
    else xc = xc + d * C[k][0] + buf[n - 1] * C[k][1] + buf[n - 2] * C[k][2];
    buf.push_back(d);
    if (buf.size() > size_t(kMaxOrder - 1)) buf.pop_front();
  }
  return xc;
}

}  // namespace
}  // namespace samplers

void register_deis_samplers(SamplerRegistry& reg) { reg.add({"deis", samplers::sample_deis}); }

}  // namespace comfy
