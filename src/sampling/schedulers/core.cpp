// ComfyUI's nine core schedulers and calculate_sigmas (sampling-schedules.md S4).
#include <ATen/ATen.h>

#include <cmath>
#include <functional>
#include <map>

#include "comfy/core/error.hpp"
#include "comfy/sampling/schedulers.hpp"
#include "sampling/schedulers/schedule_util.hpp"

namespace comfy {
namespace {

using sched_detail::append_zero;
using sched_detail::to_f32_tensor;

const at::TensorOptions kF32 = at::TensorOptions().dtype(at::kFloat);

// model_sampling.sigma(t) for one f32 timestep, evaluated as the reference does (a 0-d tensor op).
double sigma_of(const ModelSampling& ms, const at::Tensor& t0d) { return ms.sigma(t0d).item<double>(); }

at::Tensor simple_scheduler(const ModelSampling& ms, int64_t n) {
  const auto& S = ms.sigmas_host;
  const int64_t T = int64_t(S.size());
  const double q = double(T) / double(n);
  std::vector<double> s;
  for (int64_t k = 0; k < n; ++k) s.push_back(S[size_t(T - 1 - int64_t(double(k) * q))]);
  s.push_back(0.0);
  return to_f32_tensor(s);
}

at::Tensor normal_scheduler(const ModelSampling& ms, int64_t n, bool sgm) {
  const double start = ms.timestep(at::scalar_tensor(ms.sigma_max(), kF32)).item<double>();
  const double end_t = ms.timestep(at::scalar_tensor(ms.sigma_min(), kF32)).item<double>();
  bool append = true;
  at::Tensor ts;
  if (sgm) {
    ts = at::linspace(start, end_t, n + 1, kF32).slice(0, 0, n);
  } else {
    if (std::fabs(sigma_of(ms, at::scalar_tensor(end_t, kF32))) <= 1e-5) {  // isclose(.., 0, abs_tol=1e-5)
      n += 1;
      append = false;
    }
    ts = at::linspace(start, end_t, n, kF32);
  }
  std::vector<double> s;
  for (int64_t k = 0; k < ts.size(0); ++k) s.push_back(sigma_of(ms, ts[k]));
  if (append) s.push_back(0.0);
  return to_f32_tensor(s);
}

at::Tensor karras_scheduler(int64_t n, double sigma_min, double sigma_max, double rho = 7.0) {
  auto ramp = at::linspace(0, 1, n, kF32);
  const double min_inv_rho = std::pow(sigma_min, 1.0 / rho);
  const double max_inv_rho = std::pow(sigma_max, 1.0 / rho);
  auto sigmas = (max_inv_rho + ramp * (min_inv_rho - max_inv_rho)).pow(rho);
  return append_zero(sigmas);
}

at::Tensor exponential_scheduler(int64_t n, double sigma_min, double sigma_max) {
  auto sigmas = at::linspace(std::log(sigma_max), std::log(sigma_min), n, kF32).exp();
  return append_zero(sigmas);
}

at::Tensor ddim_uniform_scheduler(const ModelSampling& ms, int64_t n) {
  const auto& S = ms.sigmas_host;
  const int64_t T = int64_t(S.size());
  std::vector<double> s;
  int64_t x = 1;
  if (std::fabs(double(S[size_t(x)])) <= 1e-5) {
    n += 1;
  } else {
    s.push_back(0.0);
  }
  const int64_t q = std::max<int64_t>(T / n, 1);
  while (x < T) {
    s.push_back(S[size_t(x)]);
    x += q;
  }
  std::reverse(s.begin(), s.end());
  return to_f32_tensor(s);
}

at::Tensor beta_scheduler(const ModelSampling& ms, int64_t n, double alpha = 0.6, double beta = 0.6) {
  const auto& S = ms.sigmas_host;
  const double total_timesteps = double(S.size() - 1);
  const double step = 1.0 / double(n);  // NumPy linspace(0, 1, n, endpoint=False)
  std::vector<double> s;
  double last_t = -1;
  for (int64_t k = 0; k < n; ++k) {
    const double u = 1.0 - double(k) * step;
    const double t = std::nearbyint(sched_detail::ibeta_inv(u, alpha, beta) * total_timesteps);  // numpy.rint
    if (t != last_t) s.push_back(S[size_t(int64_t(t))]);
    last_t = t;
  }
  s.push_back(0.0);
  return to_f32_tensor(s);
}

at::Tensor linear_quadratic_scheduler(const ModelSampling& ms, int64_t n, double threshold_noise = 0.025) {
  std::vector<double> sched;
  if (n == 1) {
    sched = {1.0, 0.0};
  } else {
    const int64_t L = n / 2;
    for (int64_t i = 0; i < L; ++i) sched.push_back(double(i) * threshold_noise / double(L));
    const double diff = double(L) - threshold_noise * double(n);
    const int64_t Q = n - L;
    const double qc = diff / double(L * Q * Q);
    const double lc = threshold_noise / double(L) - 2 * diff / double(Q * Q);
    const double c = qc * double(L * L);
    for (int64_t i = L; i < n; ++i) sched.push_back(qc * double(i * i) + lc * double(i) + c);
    sched.push_back(1.0);
    for (auto& v : sched) v = 1.0 - v;
  }
  return to_f32_tensor(sched) * at::scalar_tensor(ms.sigma_max(), kF32);
}

at::Tensor kl_optimal_scheduler(int64_t n, double sigma_min, double sigma_max) {
  // n = 1 divides 0 by 0: the first sigma is NaN, exactly like the reference.
  auto adj = at::arange(n, kF32).div_(double(n - 1));
  auto sigmas = at::zeros({n + 1}, kF32);
  sigmas.slice(0, 0, n).copy_((adj * std::atan(sigma_min) + (1 - adj) * std::atan(sigma_max)).tan_());
  return sigmas;
}

}  // namespace

const std::vector<std::string>& core_scheduler_names() {
  static const std::vector<std::string> names = {"simple", "sgm_uniform", "karras", "exponential", "ddim_uniform",
                                                 "beta", "normal", "linear_quadratic", "kl_optimal"};
  return names;
}

at::Tensor calculate_sigmas(const ModelSampling& ms, const std::string& name, int64_t steps) {
  const double smin = ms.sigma_min(), smax = ms.sigma_max();
  if (name == "simple") return simple_scheduler(ms, steps);
  if (name == "sgm_uniform") return normal_scheduler(ms, steps, true);
  if (name == "karras") return karras_scheduler(steps, smin, smax);
  if (name == "exponential") return exponential_scheduler(steps, smin, smax);
  if (name == "ddim_uniform") return ddim_uniform_scheduler(ms, steps);
  if (name == "beta") return beta_scheduler(ms, steps);
  if (name == "normal") return normal_scheduler(ms, steps, false);
  if (name == "linear_quadratic") return linear_quadratic_scheduler(ms, steps);
  if (name == "kl_optimal") return kl_optimal_scheduler(steps, smin, smax);
  throw Error("execution_error", "error invalid scheduler " + name, "scheduler")
      .at_input("scheduler")
      .with_extra({{"exception_type", "ValueError"}});
}

}  // namespace comfy
