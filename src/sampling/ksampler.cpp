// comfy.sample.sample_custom -> CFGGuider.sample -> KSAMPLER.sample, and the core common_ksampler
// (sampling.md 3.1-3.8).
#include "comfy/sampling/ksampler.hpp"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "comfy/core/error.hpp"
#include "comfy/sampling/guider.hpp"
#include "comfy/sampling/noise.hpp"
#include "comfy/sampling/schedulers.hpp"

namespace comfy {

namespace {
thread_local SampleTraceFn g_trace;

// comfy.utils.reshape_mask for 2-D latents: bilinear resize to H x W, repeat over channels and batch.
at::Tensor reshape_mask(const at::Tensor& mask, at::IntArrayRef shape) {
  auto m = mask.to(at::kFloat).reshape({-1, 1, mask.size(-2), mask.size(-1)});
  m = at::upsample_bilinear2d(m, {shape[2], shape[3]}, false);
  if (m.size(1) < shape[1]) m = m.repeat({1, shape[1], 1, 1}).slice(1, 0, shape[1]);
  if (m.size(0) > shape[0]) return m.slice(0, 0, shape[0]);
  if (m.size(0) < shape[0]) return m.repeat({(shape[0] + m.size(0) - 1) / m.size(0), 1, 1, 1}).slice(0, 0, shape[0]);
  return m;
}
}  // namespace

SampleTraceFn set_sample_trace(SampleTraceFn fn) {
  auto prev = std::move(g_trace);
  g_trace = std::move(fn);
  return prev;
}

at::Tensor fix_empty_latent_channels(const Model& model, const at::Tensor& z) {
  const int64_t ch = model.latent_format.channels;
  if (z.dim() < 2 || z.size(1) == ch) return z;
  if (at::count_nonzero(z).item<int64_t>() != 0) return z;
  if (z.size(1) > ch) return z.slice(1, 0, ch);
  std::vector<int64_t> reps(size_t(z.dim()), 1);
  reps[1] = (ch + z.size(1) - 1) / z.size(1);
  return z.repeat(reps).slice(1, 0, ch);
}

bool max_denoise(const ModelSampling& ms, const std::vector<float>& sigmas) {
  const double mx = double(ms.sigma_max()), s0 = double(sigmas.at(0));
  return std::fabs(mx - s0) <= 1e-5 * std::max(std::fabs(mx), std::fabs(s0)) || s0 > mx;
}

std::vector<float> sigmas_to_host(const at::Tensor& sigmas) {
  auto s = sigmas.to(at::kCPU, at::kFloat).contiguous();
  return std::vector<float>(s.data_ptr<float>(), s.data_ptr<float>() + s.numel());
}

CustomSampleResult sample_custom(CustomSampleArgs a) {
  if (g_trace) {
    SampleTrace t;
    t.sigmas = a.sigmas;
    t.noise = a.noise.to(at::kCPU);
    t.seed = a.seed;
    t.cfg = a.cfg;
    t.impact_total_sigmas = a.impact_total_sigmas;
    g_trace(t);
  }
  CustomSampleResult res;
  if (a.sigmas.empty()) {  // CFGGuider.sample: nothing to do, the latent comes back untouched
    res.samples = a.latent.to(at::kCPU);
    return res;
  }
  const SamplerInfo& info = get_sampler(a.sampler_name);
  const Model& model = *a.model;
  const ModelSampling& ms = *model.sampling;
  const c10::Device dev = model.device;

  auto noise = a.noise.to(dev, at::kFloat);
  auto latent = a.latent.to(dev, at::kFloat);
  at::Tensor mask;
  if (a.noise_mask) mask = reshape_mask(a.noise_mask->to(dev), noise.sizes());
  if (at::count_nonzero(latent).item<int64_t>() > 0) latent = model.latent_format.process_in(latent);

  CFGGuider guider(a.model, a.positive, a.negative, a.cfg);
  if (a.dual) guider.set_dual(a.dual->middle, a.dual->cfg_conds, a.dual->cfg_cond2_negative, a.dual->nested);
  guider.prepare(noise.sizes(), dev, latent, mask);

  // KSAMPLER.sample
  at::Tensor inpaint_noise = noise;
  if (info.inpaint_random) {  // ddim: a separate inpaint noise from the global generator (N5)
    uint64_t s = a.seed.value_or(41);
    if (s == ~uint64_t(0)) throw Error("execution_error", "Overflow when unpacking long", "seed");
    inpaint_noise = randn_cpu(noise.sizes(), s + 1).to(dev, noise.scalar_type());
  }
  if (mask.defined()) guider.set_inpaint(mask, latent, inpaint_noise);
  auto opts = noise.options();
  auto x = ms.noise_scaling(at::scalar_tensor(a.sigmas[0], opts), noise, latent, max_denoise(ms, a.sigmas));

  SamplerRun run;
  run.model = &guider;
  run.x = x;
  run.sigmas = a.sigmas;
  run.seed = a.seed;
  run.noise = inpaint_noise;
  run.latent_image = latent;
  run.denoise_mask = mask;
  if (a.noise_sampler_factory) run.noise_sampler = a.noise_sampler_factory(x);
  const int64_t total = int64_t(a.sigmas.size()) - 1;
  at::Tensor last_x0;
  run.callback = [&](int64_t i, const at::Tensor& xs, const at::Tensor& den) {
    last_x0 = den;
    if (a.callback) a.callback(i, den, xs, total);
    if (a.interrupt && a.interrupt->load()) throw Error("execution_interrupted", "Processing interrupted");
  };
  auto out = info.fn(run);
  // UniPC may have replaced the final 0 in run.sigmas: the reference reads sigmas[-1] after sampling.
  out = ms.inverse_noise_scaling(at::scalar_tensor(run.sigmas.back(), opts), out);
  res.samples = model.latent_format.process_out(out.to(at::kFloat)).to(at::kCPU);
  if (last_x0.defined()) res.last_x0 = model.latent_format.process_out(last_x0.to(at::kCPU));
  return res;
}

std::vector<float> core_ksampler_sigmas(const ModelSampling& ms, const std::string& sampler_in,
                                        const std::string& scheduler_in, int64_t steps, double denoise) {
  // Unknown names silently fall back to the first list entries.
  const auto& sn = sampler_names();
  const auto& cn = core_scheduler_names();
  std::string sampler = std::find(sn.begin(), sn.end(), sampler_in) != sn.end() ? sampler_in : sn.front();
  std::string scheduler = std::find(cn.begin(), cn.end(), scheduler_in) != cn.end() ? scheduler_in : cn.front();
  auto calc = [&](int64_t n) {
    const bool discard = sampler == "dpm_2" || sampler == "dpm_2_ancestral" || sampler == "uni_pc" ||
                         sampler == "uni_pc_bh2";
    auto s = sigmas_to_host(calculate_sigmas(ms, scheduler, discard ? n + 1 : n));
    if (discard && s.size() >= 2) s.erase(s.end() - 2);
    return s;
  };
  if (denoise > 0.9999) return calc(steps);
  if (denoise <= 0) return {};
  auto s = calc(int64_t(double(steps) / denoise));
  if (int64_t(s.size()) > steps + 1) s.erase(s.begin(), s.end() - (steps + 1));
  return s;
}

std::shared_ptr<Latent> common_ksampler(const CoreKSamplerArgs& a) {
  const Model& model = *a.model;
  auto z = fix_empty_latent_channels(model, a.latent->samples);
  at::Tensor noise = a.disable_noise ? at::zeros(z.sizes(), z.options().device(at::kCPU))
                                     : comfy_prepare_noise(z, a.seed, a.latent->batch_index);
  auto sigmas = core_ksampler_sigmas(*model.sampling, a.sampler_name, a.scheduler, a.steps, a.denoise);
  auto out = std::make_shared<Latent>(*a.latent);
  if (a.last_step && *a.last_step < int64_t(sigmas.size()) - 1) {
    sigmas.resize(size_t(*a.last_step + 1));
    if (a.force_full_denoise) sigmas.back() = 0.0f;
  }
  if (a.start_step) {
    if (*a.start_step < int64_t(sigmas.size()) - 1) {
      sigmas.erase(sigmas.begin(), sigmas.begin() + *a.start_step);
    } else {
      out->samples = z.to(at::kCPU);
      return out;
    }
  }
  CustomSampleArgs c;
  c.model = a.model;
  c.positive = a.positive;
  c.negative = a.negative;
  c.cfg = a.cfg;
  const auto& sn = sampler_names();
  c.sampler_name = std::find(sn.begin(), sn.end(), a.sampler_name) != sn.end() ? a.sampler_name : sn.front();
  c.sigmas = std::move(sigmas);
  c.noise = noise;
  c.latent = z;
  c.noise_mask = a.latent->noise_mask;
  c.callback = a.callback;
  c.seed = a.seed;
  c.interrupt = a.interrupt;
  out->samples = sample_custom(std::move(c)).samples;
  return out;
}

}  // namespace comfy
