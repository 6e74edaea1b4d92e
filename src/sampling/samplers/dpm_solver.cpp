// DPM-Solver (sampling-samplers.md X5): dpm_fast (fixed NFE budget) and dpm_adaptive (PID step-size
// control). Both integrate in t = -log(sigma) from sigma_0 down to the smallest positive sigma only.
#include <ATen/ATen.h>

#include <cmath>
#include <map>
#include <string>

#include "comfy/core/error.hpp"
#include "comfy/sampling/sampler.hpp"
#include "sampling/samplers/noise_choice.hpp"
#include "sampling/samplers/scalar_f32.hpp"

namespace comfy {
namespace {

using namespace samplers_detail;

class DPMSolver {
 public:
  explicit DPMSolver(SamplerRun& run) : run_(run) {}

  static float t(float sigma) { return -sf32::log(sigma); }
  static float sigma(float t) { return sf32::exp(-t); }

  // eps cache of one outer step: keys "eps", "eps_r1", "eps_r2".
  using Cache = std::map<std::string, at::Tensor>;

  at::Tensor eps(Cache& cache, const std::string& key, const at::Tensor& x, float tv) {
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
    const float s = sigma(tv);
    at::Tensor e = (x - (*run_.model)(x, s)) / s;
    cache[key] = e;
    return e;
  }

  at::Tensor step1(const at::Tensor& x, float tv, float t_next, Cache& cache) {
    const float h = t_next - tv;
    at::Tensor e = eps(cache, "eps", x, tv);
    return x - e * (sigma(t_next) * sf32::expm1(h));
  }

  at::Tensor step2(const at::Tensor& x, float tv, float t_next, double r1, Cache& cache) {
    const float r1f = static_cast<float>(r1);
    const float h = t_next - tv;
    at::Tensor e = eps(cache, "eps", x, tv);
    const float s1 = tv + r1f * h;
    at::Tensor u1 = x - e * (sigma(s1) * sf32::expm1(r1f * h));
    at::Tensor e_r1 = eps(cache, "eps_r1", u1, s1);
    return x - e * (sigma(t_next) * sf32::expm1(h)) -
           (e_r1 - e) * ((sigma(t_next) / static_cast<float>(2 * r1)) * sf32::expm1(h));
  }

  at::Tensor step3(const at::Tensor& x, float tv, float t_next, Cache& cache) {
    const double r1 = 1. / 3, r2 = 2. / 3;
    const float r1f = static_cast<float>(r1), r2f = static_cast<float>(r2);
    const float h = t_next - tv;
    at::Tensor e = eps(cache, "eps", x, tv);
    const float s1 = tv + r1f * h;
    const float s2 = tv + r2f * h;
    at::Tensor u1 = x - e * (sigma(s1) * sf32::expm1(r1f * h));
    at::Tensor e_r1 = eps(cache, "eps_r1", u1, s1);
    at::Tensor u2 = x - e * (sigma(s2) * sf32::expm1(r2f * h)) -
                    (e_r1 - e) * ((sigma(s2) * static_cast<float>(r2 / r1)) * (sf32::expm1(r2f * h) / (r2f * h) - 1));
    at::Tensor e_r2 = eps(cache, "eps_r2", u2, s2);
    return x - e * (sigma(t_next) * sf32::expm1(h)) -
           (e_r2 - e) * ((sigma(t_next) / r2f) * (sf32::expm1(h) / h - 1));
  }

 private:
  SamplerRun& run_;
};

// KSAMPLER's wrapper (X5.1): sigma_min is the last sigma, or the one before it when the last is 0.
std::pair<float, float> solver_range(const std::vector<float>& sig) {
  float sigma_min = sig.back();
  if (sigma_min == 0.0f) sigma_min = sig[sig.size() - 2];
  const float sigma_max = sig.front();
  if (sigma_min <= 0 || sigma_max <= 0)
    throw Error("execution_error", "sigma_min and sigma_max must not be 0");
  return {sigma_min, sigma_max};
}

at::Tensor sample_dpm_fast(SamplerRun& run) {
  at::Tensor x = run.x;
  if (run.sigmas.size() <= 1) return x;
  auto [sigma_min, sigma_max] = solver_range(run.sigmas);
  const int64_t n = static_cast<int64_t>(run.sigmas.size()) - 1;  // the NFE budget
  DPMSolver solver(run);
  const float t_start = DPMSolver::t(sigma_max), t_end = DPMSolver::t(sigma_min);

  const int64_t m = n / 3 + 1;
  at::Tensor ts_t = at::linspace(t_start, t_end, m + 1, at::TensorOptions().dtype(at::kFloat)).contiguous();
  const float* ts = ts_t.data_ptr<float>();
  std::vector<int> orders;
  if (n % 3 == 0) {
    orders.assign(static_cast<size_t>(std::max<int64_t>(m - 2, 0)), 3);
    orders.push_back(2);
    orders.push_back(1);
  } else {
    orders.assign(static_cast<size_t>(m - 1), 3);
    orders.push_back(static_cast<int>(n % 3));
  }
  // The reference builds its default noise sampler (which fails for seed 2^64-1 on the CPU) and adds
  // `0 * noise` each step (eta = 0): the draws cannot change x, so none are made here.
  std::unique_ptr<NoiseSampler> own;
  default_noise(run, own);
  for (size_t i = 0; i < orders.size(); ++i) {
    if (run.interrupted()) break;
    DPMSolver::Cache cache;
    const float tv = ts[i], t_next = ts[i + 1];
    at::Tensor e = solver.eps(cache, "eps", x, tv);
    at::Tensor denoised = x - e * DPMSolver::sigma(tv);
    callback(run, static_cast<int64_t>(i), x, denoised);
    if (orders[i] == 1)
      x = solver.step1(x, tv, t_next, cache);
    else if (orders[i] == 2)
      x = solver.step2(x, tv, t_next, 1. / 2, cache);
    else
      x = solver.step3(x, tv, t_next, cache);
  }
  return x;
}

// PIDStepSizeController (Python doubles).
struct PIDStepSizeController {
  double h, b1, b2, b3, accept_safety, eps;
  std::vector<double> errs;
  PIDStepSizeController(double h_, double pcoeff, double icoeff, double dcoeff, double order, double accept_safety_,
                        double eps_ = 1e-8)
      : h(h_),
        b1((pcoeff + icoeff + dcoeff) / order),
        b2(-(pcoeff + 2 * dcoeff) / order),
        b3(dcoeff / order),
        accept_safety(accept_safety_),
        eps(eps_) {}
  bool propose_step(double error) {
    const double inv_error = 1 / (error + eps);
    if (errs.empty()) errs = {inv_error, inv_error, inv_error};
    errs[0] = inv_error;
    double factor = std::pow(errs[0], b1) * std::pow(errs[1], b2) * std::pow(errs[2], b3);
    factor = 1 + std::atan(factor - 1);
    const bool accept = factor >= accept_safety;
    if (accept) {
      errs[2] = errs[1];
      errs[1] = errs[0];
    }
    h *= factor;
    return accept;
  }
};

at::Tensor sample_dpm_adaptive(SamplerRun& run) {
  at::Tensor x = run.x;
  if (run.sigmas.size() <= 1) return x;
  auto [sigma_min, sigma_max] = solver_range(run.sigmas);
  DPMSolver solver(run);
  const float t_start = DPMSolver::t(sigma_max), t_end = DPMSolver::t(sigma_min);
  std::unique_ptr<NoiseSampler> own;
  default_noise(run, own);  // built as in the reference; with eta = 0 its draws are multiplied by 0
  const int order = 3;
  const double rtol = 0.05, atol = 0.0078, h_init = 0.05, pcoeff = 0., icoeff = 1., dcoeff = 0., accept_safety = 0.81;
  const bool forward = t_end > t_start;
  const double h0 = std::fabs(h_init) * (forward ? 1 : -1);
  const auto opts = x.options();
  const at::Tensor atol_t = at::scalar_tensor(atol, opts.dtype(at::kFloat));
  const at::Tensor rtol_t = at::scalar_tensor(rtol, opts.dtype(at::kFloat));
  float s = t_start;
  at::Tensor x_prev = x;
  PIDStepSizeController pid(h0, pcoeff, icoeff, dcoeff, order, accept_safety);
  int64_t steps = 0;
  const double sqrt_numel = std::pow(static_cast<double>(x.numel()), 0.5);  // x.numel() ** 0.5
  const float end_minus = t_end - static_cast<float>(1e-5), end_plus = t_end + static_cast<float>(1e-5);

  while (forward ? s < end_minus : s > end_plus) {
    if (run.interrupted()) break;
    DPMSolver::Cache cache;
    const float step_end = s + static_cast<float>(pid.h);
    const float tv = forward ? std::min(t_end, step_end) : std::max(t_end, step_end);
    at::Tensor e = solver.eps(cache, "eps", x, s);
    at::Tensor denoised = x - e * DPMSolver::sigma(s);
    at::Tensor x_low = solver.step2(x, s, tv, 1. / 3, cache);
    at::Tensor x_high = solver.step3(x, s, tv, cache);
    at::Tensor delta = at::maximum(atol_t, rtol_t * at::maximum(x_low.abs(), x_prev.abs()));
    at::Tensor error = at::linalg_norm((x_low - x_high) / delta, c10::nullopt, c10::nullopt, false, c10::nullopt) / sqrt_numel;
    // The accept/reject decision needs the error on the host: one device sync per attempt, inherent to the method.
    const bool accept = pid.propose_step(static_cast<double>(error.item<float>()));
    if (accept) {
      x_prev = x_low;
      x = x_high;  // eta = 0: no noise term
      s = tv;
    }
    ++steps;
    callback(run, steps - 1, x, denoised);
  }
  return x;
}

}  // namespace

void register_dpm_solver_samplers(SamplerRegistry& reg) {
  reg.add({"dpm_fast", [](SamplerRun& r) { return sample_dpm_fast(r); }, false, false});
  reg.add({"dpm_adaptive", [](SamplerRun& r) { return sample_dpm_adaptive(r); }, false, false});
}

}  // namespace comfy
