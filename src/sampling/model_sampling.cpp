#include "comfy/sampling/model_sampling.hpp"

#include <ATen/ATen.h>

#include <cmath>

#include "comfy/core/error.hpp"
#include "sampling/fused.hpp"
#include "sampling/samplers/scalar_f32.hpp"

namespace comfy {

namespace {
at::Tensor make_betas(const std::string& schedule, int64_t T, double start, double end) {
  auto f64 = at::TensorOptions().dtype(at::kDouble);
  if (schedule == "linear") return at::linspace(std::sqrt(start), std::sqrt(end), T, f64).pow(2);
  if (schedule == "sqrt_linear") return at::linspace(start, end, T, f64);
  if (schedule == "sqrt") return at::linspace(start, end, T, f64).pow(0.5);
  if (schedule == "cosine") {
    const double s = 8e-3;
    auto u = at::arange(T + 1, f64) / double(T) + s;
    auto a = (u / (1 + s) * M_PI / 2).cos().pow(2);
    a = a / a[0];
    auto b = 1 - a.slice(0, 1) / a.slice(0, 0, T);
    return b.clamp(0, 0.999);
  }
  if (schedule == "squaredcos_cap_v2") {
    auto f = [](double t) { double c = std::cos((t + 0.008) / 1.008 * M_PI / 2); return c * c; };
    std::vector<double> b(T);
    for (int64_t i = 0; i < T; ++i) b[i] = std::min(1 - f(double(i + 1) / T) / f(double(i) / T), 0.999);
    return at::tensor(b, f64);
  }
  throw Error("execution_error", "unknown beta schedule: " + schedule);
}
}  // namespace

ModelSampling ModelSampling::discrete(const std::string& beta_schedule, double linear_start, double linear_end,
                                      int64_t T, bool zsnr, Prediction pred) {
  ModelSampling ms;
  ms.prediction = pred;
  auto betas = make_betas(beta_schedule, T, linear_start, linear_end);
  auto ac = at::cumprod(1 - betas, 0);
  auto s64 = ((1 - ac) / ac).pow(0.5);
  if (zsnr) {
    auto a = (1 / (s64 * s64 + 1)).sqrt();
    double a0 = a[0].item<double>(), aT = a[-1].item<double>();
    a = (a - aT) * (a0 / (a0 - aT));
    auto ab = a * a;
    ab[-1] = 4.8973451890853435e-08;
    s64 = ((1 - ab) / ab).sqrt();
  }
  ms.sigmas = s64.to(at::kFloat).contiguous();
  ms.log_sigmas = s64.log().to(at::kFloat).contiguous();
  ms.sigmas_host.assign(ms.sigmas.data_ptr<float>(), ms.sigmas.data_ptr<float>() + T);
  ms.log_sigmas_host.assign(ms.log_sigmas.data_ptr<float>(), ms.log_sigmas.data_ptr<float>() + T);
  return ms;
}

ModelSampling ModelSampling::continuous_edm(double sigma_min, double sigma_max, double sigma_data, Prediction pred) {
  if (!(sigma_min > 0) || !(sigma_max > 0))
    throw Error("execution_error", "ModelSamplingContinuousEDM needs positive sigma_min and sigma_max (got " +
                                       std::to_string(sigma_min) + ", " + std::to_string(sigma_max) + ")");
  ModelSampling ms;
  ms.kind = Kind::ContinuousEDM;
  ms.prediction = pred;
  ms.sigma_data = sigma_data;
  // torch.linspace(math.log(min), math.log(max), 1000).exp() in the default float32; log_sigmas = its log
  ms.sigmas = at::linspace(std::log(sigma_min), std::log(sigma_max), 1000, at::kFloat).exp().contiguous();
  ms.log_sigmas = ms.sigmas.log().contiguous();
  ms.sigmas_host.assign(ms.sigmas.data_ptr<float>(), ms.sigmas.data_ptr<float>() + 1000);
  ms.log_sigmas_host.assign(ms.log_sigmas.data_ptr<float>(), ms.log_sigmas.data_ptr<float>() + 1000);
  return ms;
}

ModelSampling ModelSampling::distilled(int64_t original) const {
  ModelSampling ms = *this;
  const int64_t T = int64_t(sigmas_host.size());
  ms.kind = Kind::DiscreteDistilled;
  ms.skip_steps = T / original;
  std::vector<float> s(size_t(original), 0.0f);
  for (int64_t x = 0; x < original; ++x) s[size_t(original - 1 - x)] = sigmas_host[size_t(T - 1 - x * ms.skip_steps)];
  // set_sigmas: the log of the float32 values
  ms.sigmas = at::tensor(s, at::kFloat);
  ms.log_sigmas = ms.sigmas.log().contiguous();
  ms.sigmas_host = s;
  ms.log_sigmas_host.assign(ms.log_sigmas.data_ptr<float>(), ms.log_sigmas.data_ptr<float>() + original);
  return ms;
}

float ModelSampling::timestep_value(float sigma) const {
  if (kind == Kind::DiscreteFlow) return sigma * float(flow_multiplier);
  if (kind == Kind::ContinuousEDM) return 0.25f * sf32::log(sigma);
  const float ls = sf32::log(sigma);
  size_t best = 0;
  float bd = std::fabs(ls - log_sigmas_host[0]);
  for (size_t i = 1; i < log_sigmas_host.size(); ++i) {
    const float d = std::fabs(ls - log_sigmas_host[i]);
    if (d < bd) {
      bd = d;
      best = i;
    }
  }
  if (kind == Kind::DiscreteDistilled) return float(int64_t(best) * skip_steps + (skip_steps - 1));
  return float(best);
}

at::Tensor ModelSampling::timestep(const at::Tensor& sigma) const {
  if (kind == Kind::DiscreteFlow) return sigma * flow_multiplier;
  if (kind == Kind::ContinuousEDM) return sigma.to(at::kFloat).log() * 0.25;
  auto ls = log_sigmas.to(sigma.device());
  auto log_sigma = sigma.to(at::kFloat).log();
  auto dists = log_sigma.reshape({1, -1}) - ls.reshape({-1, 1});  // [T, N]
  auto idx = dists.abs().argmin(0);                                 // first index on ties
  if (kind == Kind::DiscreteDistilled) idx = idx * skip_steps + (skip_steps - 1);
  return idx.reshape(sigma.sizes()).to(at::kFloat);
}

float ModelSampling::sigma_at(float t) const {
  if (kind == Kind::ContinuousEDM) return sf32::exp(t / 0.25f);
  if (kind == Kind::DiscreteDistilled) t = (t - float(skip_steps - 1)) / float(skip_steps);
  float T1 = float(log_sigmas_host.size() - 1);
  t = std::min(std::max(t, 0.0f), T1);
  float lo = std::floor(t), hi = std::ceil(t), w = t - lo;
  float ls = (1 - w) * log_sigmas_host[size_t(lo)] + w * log_sigmas_host[size_t(hi)];
  return std::exp(ls);
}

at::Tensor ModelSampling::sigma(const at::Tensor& t) const {
  auto tf = t.to(at::kFloat);
  if (kind == Kind::ContinuousEDM) return (tf / 0.25).exp();
  if (kind == Kind::DiscreteDistilled) tf = (tf - double(skip_steps - 1)) / double(skip_steps);
  auto tt = tf.clamp(0, double(log_sigmas_host.size() - 1));
  auto lo = tt.floor().to(at::kLong), hi = tt.ceil().to(at::kLong);
  auto w = tt - tt.floor();
  auto ls = log_sigmas.to(t.device());
  return ((1 - w) * ls.index_select(0, lo.flatten()).reshape(tt.sizes()) +
          w * ls.index_select(0, hi.flatten()).reshape(tt.sizes())).exp();
}

double ModelSampling::percent_to_sigma(double p) const {
  if (kind == Kind::DiscreteFlow) {
    if (p <= 0) return 1.0;
    if (p >= 1) return 0.0;
    double t = 1.0 - p;
    return flow_shift * t / (1 + (flow_shift - 1) * t);
  }
  if (p <= 0) return 999999999.9;
  if (p >= 1) return 0.0;
  if (kind == Kind::ContinuousEDM) {  // log-linear between the float32 table ends, in double
    const double log_min = std::log(double(sigma_min()));
    return std::exp((std::log(double(sigma_max())) - log_min) * (1.0 - p) + log_min);
  }
  return double(sigma_at(float((1.0 - p) * 999.0)));
}

namespace {
// sigma arrives as [B] (or 0-d); reshape to 0-d when it has one element, else [B,1,1,1].
at::Tensor bcast(const at::Tensor& sigma, const at::Tensor& x) {
  if (sigma.numel() == 1) return sigma.reshape({});
  std::vector<int64_t> shape(size_t(x.dim()), 1);
  shape[0] = sigma.size(0);
  return sigma.reshape(shape);
}
}  // namespace

at::Tensor ModelSampling::calculate_input(const at::Tensor& sigma_, const at::Tensor& x) const {
  if (prediction == Prediction::CONST) return x;
  auto s = bcast(sigma_, x);
  return x / (s.pow(2) + sigma_data * sigma_data).pow(0.5);
}

at::Tensor ModelSampling::calculate_input(float sigma, const at::Tensor& x) const {
  if (prediction == Prediction::CONST) return x;
  // (s ** 2 + sigma_data ** 2) ** 0.5 in float32: s*s, + float(sd2), sqrt (pow 0.5 is sqrt in ATen)
  const float s2 = sigma * sigma;
  return x / std::sqrt(s2 + float(sigma_data * sigma_data));
}

at::Tensor ModelSampling::calculate_denoised(float sigma, const at::Tensor& out, const at::Tensor& x) const {
  if (prediction == Prediction::EPS || prediction == Prediction::CONST) return fused::eps_denoised(x, out, sigma);
  if (prediction == Prediction::X0) return out;
  return calculate_denoised(at::scalar_tensor(sigma, x.options().dtype(at::kFloat)), out, x);
}

at::Tensor ModelSampling::calculate_denoised(const at::Tensor& sigma_, const at::Tensor& out,
                                             const at::Tensor& x) const {
  auto s = bcast(sigma_, x);
  const double sd2 = sigma_data * sigma_data;
  switch (prediction) {
    case Prediction::EPS:
    case Prediction::CONST: return x - out * s;
    case Prediction::V_PREDICTION:
      return x * sd2 / (s.pow(2) + sd2) - out * s * sigma_data / (s.pow(2) + sd2).pow(0.5);
    case Prediction::EDM:
      return x * sd2 / (s.pow(2) + sd2) + out * s * sigma_data / (s.pow(2) + sd2).pow(0.5);
    case Prediction::X0: return out;
    case Prediction::LCM: {
      // c_out * (x - out*sigma) + c_skip * x at the scaled timestep (sigma_data 0.5, timestep x10)
      auto t = bcast(timestep(sigma_.reshape({-1})), x) * 10.0;
      auto x0 = x - out * s;
      auto c_skip = 0.25 / (t.pow(2) + 0.25);
      auto c_out = t / (t.pow(2) + 0.25).pow(0.5);
      return c_out * x0 + c_skip * x;
    }
  }
  return x;
}

at::Tensor ModelSampling::noise_scaling(const at::Tensor& sigma_, const at::Tensor& noise, const at::Tensor& latent,
                                        bool max_denoise) const {
  auto s = bcast(sigma_, noise);
  if (prediction == Prediction::CONST) return s * noise + (1.0 - s) * latent;
  auto n = max_denoise ? noise * (1.0 + s.pow(2.0)).sqrt() : noise * s;
  return n + latent;
}

at::Tensor ModelSampling::inverse_noise_scaling(const at::Tensor& sigma_, const at::Tensor& x) const {
  if (prediction == Prediction::CONST) return x / (1.0 - bcast(sigma_, x));
  return x;
}

at::Tensor LatentFormat::process_in(const at::Tensor& z) const {
  if (!mean.empty()) {
    auto m = at::tensor(mean, z.options()).view({1, -1, 1, 1});
    auto sd = at::tensor(std, z.options()).view({1, -1, 1, 1});
    return (z - m) * 0.5 / sd;
  }
  return z * scale_factor;
}

at::Tensor LatentFormat::process_out(const at::Tensor& z) const {
  if (!mean.empty()) {
    auto m = at::tensor(mean, z.options()).view({1, -1, 1, 1});
    auto sd = at::tensor(std, z.options()).view({1, -1, 1, 1});
    return z * sd / 0.5 + m;
  }
  return z / scale_factor;
}

}  // namespace comfy
