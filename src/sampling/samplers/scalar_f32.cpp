#include "sampling/samplers/scalar_f32.hpp"

#include <ATen/ATen.h>

#include <algorithm>
#include <limits>

#include "comfy/sampling/model_sampling.hpp"

namespace comfy::sf32 {
namespace {
at::Tensor t0d(float x) { return at::scalar_tensor(x, at::TensorOptions().dtype(at::kFloat)); }
float value(const at::Tensor& t) { return t.item<float>(); }

// The hot transcendental ops run in place on one reused one-element CPU buffer (no allocation per call).
template <class Op>
float unary(float v, Op op) {
  thread_local at::Tensor in = at::empty({1}, at::TensorOptions().dtype(at::kFloat));
  thread_local at::Tensor out = at::empty({1}, at::TensorOptions().dtype(at::kFloat));
  in.data_ptr<float>()[0] = v;
  op(out, in);
  return out.data_ptr<float>()[0];
}
}  // namespace

float exp(float x) { return unary(x, [](at::Tensor& o, const at::Tensor& i) { at::exp_out(o, i); }); }
float log(float x) { return unary(x, [](at::Tensor& o, const at::Tensor& i) { at::log_out(o, i); }); }
float expm1(float x) { return unary(x, [](at::Tensor& o, const at::Tensor& i) { at::expm1_out(o, i); }); }
float pow(float x, double e) { return value(at::pow(t0d(x), e)); }
float lerp(float a, float b, float w) { return value(at::lerp(t0d(a), t0d(b), w)); }
float sigmoid(float x) { return value(at::sigmoid(t0d(x))); }
float logit(float x) { return value(at::logit(t0d(x))); }
float nan_to_num(float x) {
  if (std::isnan(x)) return 0.0f;
  if (std::isinf(x)) return x > 0 ? std::numeric_limits<float>::max() : std::numeric_limits<float>::lowest();
  return x;
}

std::pair<float, float> ancestral_step(float sigma_from, float sigma_to, float eta) {
  if (eta == 0.0f) return {sigma_to, 0.0f};
  // min(sigma_to, eta * (sigma_to**2 * (sigma_from**2 - sigma_to**2) / sigma_from**2) ** 0.5)
  const float st2 = sigma_to * sigma_to, sf2 = sigma_from * sigma_from;
  const float cand = eta * std::sqrt((st2 * (sf2 - st2)) / sf2);
  const float sigma_up = (cand < sigma_to) ? cand : sigma_to;  // Python min keeps the first unless the second is smaller
  const float sigma_down = std::sqrt(st2 - sigma_up * sigma_up);
  return {sigma_down, sigma_up};
}

float sigma_to_half_log_snr(float sigma, const ModelSampling& ms) {
  if (ms.prediction == Prediction::CONST) return -logit(sigma);
  return -log(sigma);
}

float half_log_snr_to_sigma(float lambda, const ModelSampling& ms) {
  if (ms.prediction == Prediction::CONST) return sigmoid(-lambda);
  return exp(-lambda);
}

std::vector<float> offset_first_sigma_for_snr(std::vector<float> sigmas, const ModelSampling& ms) {
  if (sigmas.size() <= 1) return sigmas;
  if (ms.prediction == Prediction::CONST && sigmas[0] >= 1.0f) sigmas[0] = static_cast<float>(ms.percent_to_sigma(1e-4));
  return sigmas;
}

}  // namespace comfy::sf32
