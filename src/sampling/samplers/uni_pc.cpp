// uni_pc (variant bh1), uni_pc_bh2 (sampling-samplers.md X10; comfy/extra_samplers/uni_pc.py):
// multistep UniPC with data prediction, lower_order_final, order min(3, n - 1).
#include "common.hpp"

namespace comfy {
namespace samplers {
namespace {

// SigmaConvert: VP quantities of a sigma, in f32 as the reference's tensor ops.
struct VP {
  float m, alpha, std, lambda;
  explicit VP(float s) {
    m = 0.5f * slog(1 / ((s * s) + 1));
    alpha = sexp(m);
    std = ssqrt(1.0f - sexp(2.0f * m));
    lambda = m - 0.5f * slog(1.0f - sexp(2.0f * m));
  }
};

// Solves the leading n x n block of the row-major K x K matrix A for the first n entries of b:
// Gaussian elimination with partial pivoting in float32 (what LAPACK's sgesv does for such sizes).
std::vector<float> solve_small(const std::vector<float>& A, int K, const std::vector<float>& b, int n) {
  std::vector<float> M(size_t(n * n)), y(b.begin(), b.begin() + n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) M[size_t(i * n + j)] = A[size_t(i * K + j)];
  for (int c = 0; c < n; ++c) {
    int p = c;
    for (int i = c + 1; i < n; ++i)
      if (std::fabs(M[size_t(i * n + c)]) > std::fabs(M[size_t(p * n + c)])) p = i;
    if (p != c) {
      for (int j = 0; j < n; ++j) std::swap(M[size_t(c * n + j)], M[size_t(p * n + j)]);
      std::swap(y[size_t(c)], y[size_t(p)]);
    }
    const float piv = M[size_t(c * n + c)];
    if (piv == 0.0f) throw std::runtime_error("uni_pc: singular order system (repeated sigmas?)");
    const float inv = 1.0f / piv;
    for (int i = c + 1; i < n; ++i) {
      const float f = M[size_t(i * n + c)] * inv;
      for (int j = c + 1; j < n; ++j) M[size_t(i * n + j)] -= f * M[size_t(c * n + j)];
      y[size_t(i)] -= f * y[size_t(c)];
    }
  }
  for (int i = n - 1; i >= 0; --i) {
    float v = y[size_t(i)];
    for (int j = i + 1; j < n; ++j) v -= M[size_t(i * n + j)] * y[size_t(j)];
    y[size_t(i)] = v / M[size_t(i * n + i)];
  }
  return y;
}

struct UniPC {
  SamplerRun& r;
  bool bh2;

  // data_prediction_fn(x, t) with predict_eps_sigma: x0 = (x - std(t) eps) / alpha(t).
  at::Tensor x0(const at::Tensor& x, float t) {
    auto xin = x * ssqrt(t * t + 1.0f);
    auto eps = (xin - (*r.model)(xin, t)) / t;
    VP v(t);
    return (x - eps * v.std) / v.alpha;
  }

  // multistep_uni_pc_bh_update (x0 prediction). Returns (x_t, model_t or undefined).
  std::pair<at::Tensor, at::Tensor> update(const at::Tensor& x, const std::vector<at::Tensor>& Ms,
                                           const std::vector<float>& Ts, float t, int order, bool use_corrector) {
    const float t0 = Ts.back();
    const VP v0(t0), vt(t);
    const at::Tensor& m0 = Ms.back();
    const float h = vt.lambda - v0.lambda;
    std::vector<float> rks;
    std::vector<at::Tensor> D1s;
    for (int i = 1; i < order; ++i) {
      const float ti = Ts[Ts.size() - 1 - size_t(i)];
      const float rk = (VP(ti).lambda - v0.lambda) / h;
      rks.push_back(rk);
      D1s.push_back((Ms[Ms.size() - 1 - size_t(i)] - m0) / rk);
    }
    rks.push_back(1.0f);
    const float hh = -h;
    const float h_phi_1 = sexpm1(hh);
    float h_phi_k = h_phi_1 / hh - 1;
    double factorial = 1;
    const float B_h = bh2 ? sexpm1(hh) : hh;
    // R[i][j] = rks[j] ** i (i < 3: 1, r, r*r exactly as torch.pow), b as the reference builds it.
    const int K = order;
    std::vector<float> R(size_t(K * K)), b;
    for (int i = 1; i <= order; ++i) {
      for (int j = 0; j < K; ++j) {
        const float rj = rks[size_t(j)];
        R[size_t((i - 1) * K + j)] = i == 1 ? 1.0f : i == 2 ? rj : i == 3 ? rj * rj : sf32::pow(rj, double(i - 1));
      }
      b.push_back(h_phi_k * float(factorial) / B_h);
      factorial *= (i + 1);
      h_phi_k = h_phi_k / hh - float(1 / factorial);
    }
    // The tiny linear systems (at most 3x3) are solved on the host; weights stay host floats, so the
    // weighted sums of D1s below need no stacking, no tensordot and no host<->device copies.
    std::vector<float> rhos_p, rhos_c;
    if (!D1s.empty()) rhos_p = order == 2 ? std::vector<float>{0.5f} : solve_small(R, K, b, K - 1);
    if (use_corrector) rhos_c = order == 1 ? std::vector<float>{0.5f} : solve_small(R, K, b, K);
    auto weighted = [&](const std::vector<float>& w, size_t n) {  // sum_k w[k] * D1s[k], k < n
      at::Tensor acc = D1s[0] * w[0];
      for (size_t k = 1; k < n; ++k) acc = acc + D1s[k] * w[k];
      return acc;
    };
    auto x_ = x * (vt.std / v0.std) - m0 * (vt.alpha * h_phi_1);
    at::Tensor xt = !D1s.empty() ? x_ - weighted(rhos_p, D1s.size()) * (vt.alpha * B_h) : x_ - 0 * (vt.alpha * B_h);
    at::Tensor mt;
    if (use_corrector) {
      mt = x0(xt, t);
      auto D1_t = mt - m0;
      auto tail = D1_t * rhos_c.back();
      auto inner = !D1s.empty() ? weighted(rhos_c, D1s.size()) + tail : tail;
      xt = x_ - inner * (vt.alpha * B_h);
    }
    return {xt, mt};
  }
};

at::Tensor sample_unipc(SamplerRun& r, bool bh2) {
  // The reference overwrites a final 0 in the caller's sigma tensor with 0.001 (kept: run.sigmas).
  if (r.sigmas.back() == 0.0f) r.sigmas.back() = 0.001f;
  const std::vector<float>& T = r.sigmas;
  const int64_t n = int64_t(T.size()) - 1;
  UniPC u{r, bh2};
  auto x = r.x / ssqrt(1.0f + T[0] * T[0]);
  const int order = int(std::min<int64_t>(3, int64_t(T.size()) - 2));
  std::vector<at::Tensor> Ms;
  std::vector<float> Ts;
  for (int64_t k = 0; k < n; ++k) {
    if (k == 0) {
      Ms = {u.x0(x, T[0])};
      Ts = {T[0]};
    } else if (k < order) {
      auto [xn, mx] = u.update(x, Ms, Ts, T[size_t(k)], int(k), true);
      x = xn;
      Ms.push_back(mx.defined() ? mx : u.x0(x, T[size_t(k)]));
      Ts.push_back(T[size_t(k)]);
    } else {
      const int64_t extra = k == n - 1 ? 1 : 0;
      for (int64_t step = k; step < k + 1 + extra; ++step) {
        const float vt = T[size_t(step)];
        const int step_order = int(std::min<int64_t>(order, n + 1 - step));
        auto [xn, mx] = u.update(x, Ms, Ts, vt, step_order, step != n);
        x = xn;
        for (int i = 0; i + 1 < order; ++i) {
          Ts[size_t(i)] = Ts[size_t(i) + 1];
          Ms[size_t(i)] = Ms[size_t(i) + 1];
        }
        Ts.back() = vt;
        if (step < n) Ms.back() = mx.defined() ? mx : u.x0(x, vt);
      }
    }
    callback(r, k, x, Ms.back());
  }
  return x / VP(T.back()).alpha;
}

at::Tensor sample_uni_pc(SamplerRun& r) { return sample_unipc(r, false); }
at::Tensor sample_uni_pc_bh2(SamplerRun& r) { return sample_unipc(r, true); }

}  // namespace
}  // namespace samplers

void register_uni_pc_samplers(SamplerRegistry& reg) {
  reg.add({"uni_pc", samplers::sample_uni_pc});
  reg.add({"uni_pc_bh2", samplers::sample_uni_pc_bh2});
}

}  // namespace comfy
