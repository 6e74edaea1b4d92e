// Closed-form check of the ODE samplers, independent of any golden data. For data N(mu, 0.5^2) the
// optimal denoiser is D(x, s) = mu + (x - mu) * 0.25 / (0.25 + s^2) and the probability-flow ODE
// dx/ds = (x - D)/s = (x - mu) s / (0.25 + s^2) has the exact solution
//   x(s) = mu + (x_T - mu) * sqrt(0.25 + s^2) / sqrt(0.25 + s_T^2).
// The toy network quantises sigma to its 1000-entry table, so this test uses a denoiser with the exact
// continuous sigma. Halving the step size must shrink the error by ~2 (euler) or ~4 (heun, dpmpp_2m).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include "comfy/sampling/sampler.hpp"

using namespace comfy;

namespace {

struct ExactGaussianDenoiser : Denoiser {
  at::Tensor mu;
  ModelSampling ms = ModelSampling::discrete();
  at::Tensor operator()(const at::Tensor& x, float sigma) override {
    const double s = sigma;
    return mu + (x - mu) * (0.25 / (0.25 + s * s));
  }
  void enable_uncond_capture() override {}
  at::Tensor last_uncond() const override { return at::Tensor(); }
  const ModelSampling& model_sampling() const override { return ms; }
};

// Geometric schedule from s_max down to s_min (no final 0: the ODE is compared at s_min).
std::vector<float> schedule(int n, double s_max, double s_min) {
  std::vector<float> s;
  for (int i = 0; i <= n; ++i) s.push_back(float(s_max * std::pow(s_min / s_max, double(i) / n)));
  return s;
}

double solve_error(const std::string& name, int n) {
  ExactGaussianDenoiser den;
  auto opts = at::TensorOptions().dtype(at::kDouble);
  den.mu = at::tensor({0.3, -0.2, 0.05, 0.4}, opts).reshape({1, 4, 1, 1});
  auto sig = schedule(n, 10.0, 0.1);
  auto xT = den.mu + at::tensor({8.0, -5.0, 3.0, 11.0}, opts).reshape({1, 4, 1, 1});
  SamplerRun run;
  run.model = &den;
  run.x = xT;
  run.sigmas = sig;
  run.seed = 0;
  auto x = get_sampler(name).fn(run);
  const double sT = sig.front(), s0 = sig.back();
  auto exact = den.mu + (xT - den.mu) * (std::sqrt(0.25 + s0 * s0) / std::sqrt(0.25 + sT * sT));
  return (x - exact).abs().max().item<double>();
}

void expect_order(const std::string& name, double order) {
  std::vector<double> err;
  // 16..128 steps: at 8 steps (h = ln(100)/8 ~ 0.58) the multistep solver is not yet in its asymptotic regime.
  for (int n : {16, 32, 64, 128}) err.push_back(solve_error(name, n));
  for (size_t i = 1; i < err.size(); ++i) {
    const double measured = std::log2(err[i - 1] / err[i]);
    EXPECT_NEAR(measured, order, 0.35) << name << " steps " << (16 << (i - 1)) << "->" << (16 << i)
                                       << " errors " << err[i - 1] << " -> " << err[i];
  }
  EXPECT_LT(err.back(), order == 1 ? 0.1 : 2e-3) << name;
}

}  // namespace

TEST(SamplerConvergence, EulerIsFirstOrderOnGaussianOde) { expect_order("euler", 1.0); }
TEST(SamplerConvergence, HeunIsSecondOrderOnGaussianOde) { expect_order("heun", 2.0); }
TEST(SamplerConvergence, Dpmpp2mIsSecondOrderOnGaussianOde) { expect_order("dpmpp_2m", 2.0); }
