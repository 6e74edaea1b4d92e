// gradient_estimation(+_cfg_pp), ge_gamma = 2 (sampling-samplers.md X7.5).
#include <ATen/ATen.h>

#include "comfy/sampling/sampler.hpp"
#include "sampling/samplers/noise_choice.hpp"

namespace comfy {
namespace {

using namespace samplers_detail;

at::Tensor sample_gradient_estimation(SamplerRun& run, bool cfg_pp) {
  const double ge_gamma = 2.0;
  at::Tensor x = run.x;
  const std::vector<float>& sig = run.sigmas;
  if (cfg_pp) run.model->enable_uncond_capture();
  at::Tensor old_d;
  for (size_t i = 0; i + 1 < sig.size(); ++i) {
    if (run.interrupted()) break;
    const float s = sig[i], s_next = sig[i + 1];
    at::Tensor denoised = (*run.model)(x, s);
    at::Tensor d = (x - (cfg_pp ? run.model->last_uncond() : denoised)) / s;
    callback(run, static_cast<int64_t>(i), x, denoised);
    const float dt = s_next - s;
    if (s_next == 0.0f) {
      x = denoised;  // denoising step
    } else {
      x = cfg_pp ? denoised + d * s_next : x + d * dt;
      if (i >= 1) {
        at::Tensor d_bar = (d - old_d) * (ge_gamma - 1);
        x = x + d_bar * dt;
      }
    }
    old_d = d;
  }
  return x;
}

}  // namespace

void register_gradient_estimation_samplers(SamplerRegistry& reg) {
  reg.add({"gradient_estimation", [](SamplerRun& r) { return sample_gradient_estimation(r, false); }, false, false});
  reg.add({"gradient_estimation_cfg_pp", [](SamplerRun& r) { return sample_gradient_estimation(r, true); }, false, false});
}

}  // namespace comfy
