// lms: linear multistep, order 4 (sampling-samplers.md X3.8).
#include <deque>

#include "common.hpp"

namespace comfy {
namespace samplers {
namespace {

// linear_multistep_coeff: integral over [t_i, t_{i+1}] of the j-th Lagrange basis polynomial through
// t_i, t_{i-1}, ... The reference integrates with QUADPACK (exact for these cubics up to rounding);
// here a 4-point Gauss-Legendre rule, exact for degree <= 7. NumPy 1.x precision: the numerator
// (tau - t) is double, the denominator an f32 difference.
double lms_coeff(int order, const std::vector<float>& t, int64_t i, int j) {
  static const double xs[4] = {-0.8611363115940526, -0.3399810435848563, 0.3399810435848563, 0.8611363115940526};
  static const double ws[4] = {0.3478548451374538, 0.6521451548625461, 0.6521451548625461, 0.3478548451374538};
  const double a = t[size_t(i)], b = t[size_t(i) + 1];
  const double half = 0.5 * (b - a), mid = 0.5 * (b + a);
  double acc = 0;
  for (int q = 0; q < 4; ++q) {
    const double tau = mid + half * xs[q];
    double prod = 1.0;
    for (int k = 0; k < order; ++k) {
      if (k == j) continue;
      const float den = t[size_t(i - j)] - t[size_t(i - k)];
      prod *= (tau - double(t[size_t(i - k)])) / double(den);
    }
    acc += ws[q] * prod;
  }
  return acc * half;
}

at::Tensor sample_lms(SamplerRun& r) {
  constexpr int kOrder = 4;
  auto x = r.x;
  const auto& s = r.sigmas;
  std::deque<at::Tensor> ds;
  for (int64_t i = 0; i < steps(r); ++i) {
    const size_t k = size_t(i);
    auto denoised = (*r.model)(x, s[k]);
    ds.push_back(to_d(x, s[k], denoised));
    if (int(ds.size()) > kOrder) ds.pop_front();
    callback(r, i, x, denoised);
    if (s[k + 1] == 0.0f) {
      x = denoised;
    } else {
      const int cur = int(std::min<int64_t>(i + 1, kOrder));
      // sum(coeff * d for coeff, d in zip(coeffs, reversed(ds))), starting from Python's 0
      at::Tensor acc;
      for (int j = 0; j < cur; ++j) {
        auto term = ds[ds.size() - 1 - size_t(j)] * lms_coeff(cur, s, i, j);
        acc = j == 0 ? term : acc + term;
      }
      x = x + acc;
    }
  }
  return x;
}

}  // namespace
}  // namespace samplers

void register_lms_samplers(SamplerRegistry& reg) { reg.add({"lms", samplers::sample_lms}); }

}  // namespace comfy
