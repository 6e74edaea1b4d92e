#include "sampling/schedulers/schedule_util.hpp"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

namespace comfy::sched_detail {

at::Tensor to_f32_tensor(const std::vector<double>& values) {
  std::vector<float> f(values.begin(), values.end());
  return at::tensor(f, at::TensorOptions().dtype(at::kFloat)).reshape({int64_t(f.size())});
}

at::Tensor append_zero(const at::Tensor& sigmas) { return at::cat({sigmas, at::zeros({1}, sigmas.options())}); }

std::vector<double> np_linspace01(int64_t n) {
  std::vector<double> out(size_t(std::max<int64_t>(n, 0)));
  if (n == 1) {
    out[0] = 0.0;
    return out;
  }
  const double step = 1.0 / double(n - 1);
  for (int64_t k = 0; k < n; ++k) out[size_t(k)] = double(k) * step;
  if (n > 1) out[size_t(n - 1)] = 1.0;
  return out;
}

std::vector<double> loglinear_interp(const std::vector<double>& levels, int64_t m) {
  const size_t L = levels.size();
  const std::vector<double> xs = np_linspace01(int64_t(L));
  std::vector<double> ys(L);
  for (size_t k = 0; k < L; ++k) ys[k] = std::log(levels[L - 1 - k]);  // ascending
  const std::vector<double> nx = np_linspace01(m);
  std::vector<double> out(nx.size());
  for (size_t j = 0; j < nx.size(); ++j) {
    const double x = nx[j];
    double y;
    if (x >= xs[L - 1]) {
      y = ys[L - 1];
    } else if (x <= xs[0]) {
      y = ys[0];
    } else {
      // largest k with xs[k] <= x (NumPy's interp: exact hit returns the knot value)
      size_t k = size_t(std::upper_bound(xs.begin(), xs.end(), x) - xs.begin()) - 1;
      if (x == xs[k]) {
        y = ys[k];
      } else {
        const double slope = (ys[k + 1] - ys[k]) / (xs[k + 1] - xs[k]);
        y = slope * (x - xs[k]) + ys[k];
      }
    }
    out[j] = std::exp(y);
  }
  std::reverse(out.begin(), out.end());  // descending again
  return out;
}

at::Tensor table_schedule_tail(std::vector<double> levels, int64_t steps, double denoise) {
  int64_t total = steps;
  if (denoise < 1.0) {
    if (denoise <= 0.0) return at::empty({0}, at::kFloat);
    total = int64_t(std::nearbyint(double(steps) * denoise));  // Python round(): half to even
  }
  const int64_t n = int64_t(levels.size());
  const int64_t keep = std::min(total + 1, n);  // Python slice [-(total+1):] clamps at the start
  std::vector<double> tail(levels.end() - keep, levels.end());
  if (!tail.empty()) tail.back() = 0.0;
  return to_f32_tensor(tail);
}

// ---- incomplete beta (continued fraction, modified Lentz), accurate to ~1e-15 relative
namespace {
double betacf(double a, double b, double x) {
  const double tiny = 1e-300, eps = 1e-16;
  double qab = a + b, qap = a + 1.0, qam = a - 1.0;
  double c = 1.0, d = 1.0 - qab * x / qap;
  if (std::fabs(d) < tiny) d = tiny;
  d = 1.0 / d;
  double h = d;
  for (int m = 1; m <= 10000; ++m) {
    const int m2 = 2 * m;
    double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
    d = 1.0 + aa * d;
    if (std::fabs(d) < tiny) d = tiny;
    c = 1.0 + aa / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1.0 / d;
    h *= d * c;
    aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
    d = 1.0 + aa * d;
    if (std::fabs(d) < tiny) d = tiny;
    c = 1.0 + aa / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1.0 / d;
    const double del = d * c;
    h *= del;
    if (std::fabs(del - 1.0) < eps) break;
  }
  return h;
}
}  // namespace

double ibeta(double x, double a, double b) {
  if (x <= 0.0) return 0.0;
  if (x >= 1.0) return 1.0;
  const double lbt = std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x);
  const double bt = std::exp(lbt);
  if (x < (a + 1.0) / (a + b + 2.0)) return bt * betacf(a, b, x) / a;
  return 1.0 - bt * betacf(b, a, 1.0 - x) / b;
}

double ibeta_inv(double p, double a, double b) {
  if (p <= 0.0) return 0.0;
  if (p >= 1.0) return 1.0;
  // Symmetric case: the median is exactly 1/2 (scipy returns 0.5 there too; the beta scheduler's
  // rint(0.5 * 999) = 500 depends on it).
  if (a == b && p == 0.5) return 0.5;
  // Work on the lower tail for accuracy; I_x(a,b) = 1 - I_{1-x}(b,a).
  if (p > 0.5) return 1.0 - ibeta_inv(1.0 - p, b, a);
  double lo = 0.0, hi = 1.0;
  for (int it = 0; it < 200; ++it) {
    const double mid = 0.5 * (lo + hi);
    if (mid <= lo || mid >= hi) break;
    if (ibeta(mid, a, b) < p) lo = mid; else hi = mid;
  }
  return 0.5 * (lo + hi);
}

}  // namespace comfy::sched_detail
