#pragma once
// The sampling pipeline, layer by layer (sampling.md):
//   sample_custom        comfy.sample.sample_custom -> CFGGuider.sample -> KSAMPLER.sample (3.1-3.7)
//   common_ksampler      nodes.common_ksampler + comfy.samplers.KSampler schedule handling (3.8, S4.1)
//   separated_sample     Impact separated_sample + sample_with_custom_noise (2.1-2.4)
//   inspire_ksampler     Inspire's common core of its four sampler nodes (1.3)
// Latents passed in and out are in user (latent-format) space; outputs are on the CPU.
#include <ATen/core/Tensor.h>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "comfy/core/types.hpp"
#include "comfy/core/value.hpp"
#include "comfy/models/model.hpp"
#include "comfy/sampling/sampler.hpp"

namespace comfy {

// callback(step, x0, x, total_steps): x0 = the step's denoised prediction, x = the sampler state, both in
// model space on the compute device (sampling.md 2.3).
using StepCallback = std::function<void(int64_t step, const at::Tensor& x0, const at::Tensor& x, int64_t total)>;

// SCHEDULER_FUNC: (model, sampler_name, steps) -> sigmas (f32 CPU 1-D).
struct SchedulerFunc : Object {
  std::function<at::Tensor(const Model&, const std::string& sampler_name, int64_t steps)> fn;
  std::string type_name() const override { return "SCHEDULER_FUNC"; }
};
// SAMPLER (KSamplerSelect): a sampler name from KSampler.SAMPLERS.
struct SamplerObject : Object {
  std::string name;
  std::string type_name() const override { return "SAMPLER"; }
};
// NOISE (RandomNoise, RandomNoise //Inspire): initial noise for a latent plus the per-step seed.
struct NoiseObject : Object {
  uint64_t seed = 0;  // handed to the sampler as extra_args["seed"]
  std::function<at::Tensor(const Latent&)> generate;  // f32 CPU, the latent's shape
  std::string type_name() const override { return "NOISE"; }
};
// DualCFGGuider's second conditioning and scales (nodes-control-upscale.md 3.5).
struct DualCfg {
  std::shared_ptr<const Conditioning> middle;  // cond2
  double cfg_conds = 8.0, cfg_cond2_negative = 8.0;
  bool nested = false;
};
// GUIDER (CFGGuider / DualCFGGuider node).
struct GuiderObject : Object {
  std::shared_ptr<const Model> model;
  std::shared_ptr<const Conditioning> positive, negative;
  double cfg = 1.0;
  std::optional<DualCfg> dual;
  std::string type_name() const override { return "GUIDER"; }
};

// What comfy.samplers.sample received: the golden data's "observed" spy (tests and debugging).
struct SampleTrace {
  std::vector<float> sigmas;       // the schedule handed to the sampler
  at::Tensor noise;                // initial noise, unscaled, user space (CPU)
  std::optional<uint64_t> seed;    // per-step noise seed
  double cfg = 0;
  std::vector<float> impact_total_sigmas;  // Impact only: the whole schedule (after in-place zeroing)
};
using SampleTraceFn = std::function<void(const SampleTrace&)>;
// Installs a per-thread observer of every sampling run (empty function = none). Returns the previous one.
SampleTraceFn set_sample_trace(SampleTraceFn fn);

// comfy.sample.fix_empty_latent_channels (sampling-schedules.md S3).
at::Tensor fix_empty_latent_channels(const Model& model, const at::Tensor& z);
// max_denoise rule of comfy.samplers.Sampler (S2).
bool max_denoise(const ModelSampling& ms, const std::vector<float>& sigmas);
// Host copy of a 1-D sigma tensor.
std::vector<float> sigmas_to_host(const at::Tensor& sigmas);

struct CustomSampleArgs {
  std::shared_ptr<const Model> model;
  std::shared_ptr<const Conditioning> positive, negative;  // negative null = basic guider
  double cfg = 1.0;
  std::optional<DualCfg> dual;             // DualCFGGuider
  std::string sampler_name;
  std::vector<float> sigmas;
  at::Tensor noise;                        // user-space initial noise (CPU or device)
  at::Tensor latent;                       // user-space latent (unprocessed)
  std::optional<at::Tensor> noise_mask;
  StepCallback callback;
  std::optional<uint64_t> seed;
  // Built once the initial x exists (Impact's Brownian sampler for its six SDE samplers, 2.4).
  std::function<std::unique_ptr<NoiseSampler>(const at::Tensor& x)> noise_sampler_factory;
  const std::atomic<bool>* interrupt = nullptr;
  std::vector<float> impact_total_sigmas;  // for the trace only
};
struct CustomSampleResult {
  at::Tensor samples;                      // process_latent_out(final x), CPU; the latent itself if no sigmas
  std::optional<at::Tensor> last_x0;       // process_latent_out(x0 of the last callback), CPU
};
CustomSampleResult sample_custom(CustomSampleArgs args);

// nodes.common_ksampler (core KSampler / KSamplerAdvanced).
struct CoreKSamplerArgs {
  std::shared_ptr<const Model> model;
  uint64_t seed = 0;
  int64_t steps = 20;
  double cfg = 8.0;
  std::string sampler_name = "euler", scheduler = "simple";
  std::shared_ptr<const Conditioning> positive, negative;
  std::shared_ptr<const Latent> latent;
  double denoise = 1.0;
  bool disable_noise = false;
  std::optional<int64_t> start_step, last_step;
  bool force_full_denoise = false;
  StepCallback callback;
  const std::atomic<bool>* interrupt = nullptr;
};
std::shared_ptr<Latent> common_ksampler(const CoreKSamplerArgs& a);
// comfy.samplers.KSampler.calculate_sigmas + set_steps (S4.1): the core node's schedule.
std::vector<float> core_ksampler_sigmas(const ModelSampling& ms, const std::string& sampler,
                                        const std::string& scheduler, int64_t steps, double denoise);

// Impact separated_sample (2.1).
struct SeparatedSampleArgs {
  std::shared_ptr<const Model> model;
  bool add_noise = true;
  uint64_t seed = 0;
  int64_t steps = 20;
  double cfg = 8.0;
  std::string sampler_name = "euler", scheduler = "simple";
  std::shared_ptr<const Conditioning> positive, negative;
  std::shared_ptr<const Latent> latent;
  std::optional<int64_t> start_at_step, end_at_step;
  bool return_with_leftover_noise = false;
  std::optional<at::Tensor> noise;
  StepCallback callback;
  std::shared_ptr<const SchedulerFunc> scheduler_func;
  const std::atomic<bool>* interrupt = nullptr;
};
std::shared_ptr<const Latent> separated_sample(const SeparatedSampleArgs& a);

// Inspire inspire_ksampler (1.3). Returns (latent, initial noise).
struct InspireKSamplerArgs {
  std::shared_ptr<const Model> model;
  uint64_t seed = 0;
  int64_t steps = 20;
  double cfg = 8.0;
  std::string sampler_name = "euler", scheduler = "simple";
  std::shared_ptr<const Conditioning> positive, negative;
  std::shared_ptr<const Latent> latent;
  double denoise = 1.0;
  std::string noise_mode = "CPU";
  bool disable_noise = false;
  std::optional<int64_t> start_step, last_step;
  bool force_full_denoise = false;
  std::string incremental_seed_mode = "comfy";
  uint64_t variation_seed = 0;
  double variation_strength = 0.0;
  std::optional<at::Tensor> noise;
  StepCallback callback;
  std::string variation_method = "linear";
  std::shared_ptr<const SchedulerFunc> scheduler_func;
  std::optional<uint64_t> internal_seed;
  const std::atomic<bool>* interrupt = nullptr;
};
std::pair<std::shared_ptr<const Latent>, at::Tensor> inspire_ksampler(const InspireKSamplerArgs& a);

}  // namespace comfy
