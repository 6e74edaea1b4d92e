// KSamplerProgress //Inspire and KSamplerAdvancedProgress //Inspire (sampling.md 1.2, 1.4;
// workflow-nodes-files.md 10.3): sampling plus a batch of intermediate latents.
#include <cmath>
#include <limits>

#include "comfy/sampling/schedulers.hpp"
#include "sampling_node_util.hpp"

namespace comfy {

using namespace sampling_nodes;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Runs inspire_ksampler with a callback that keeps process_latent_out(x) of every interval-th step
// (and of the last one); returns the sampled latent.
std::shared_ptr<const Latent> sample_with_frames(InspireKSamplerArgs a, int64_t interval, ProgressFrames& frames,
                                                 std::vector<float>& sigmas_used, const ExecContext& ctx) {
  const Model& model = *a.model;
  auto prev = set_sample_trace({});
  set_sample_trace([&sigmas_used, prev](const SampleTrace& t) {
    sigmas_used = t.sigmas;
    if (prev) prev(t);
  });
  a.callback = progress_callback(ctx, [&](int64_t step, const at::Tensor&, const at::Tensor& x, int64_t total) {
    if (total - 1 != step && step % interval != 0) return;
    const float sig = size_t(step) < sigmas_used.size() ? sigmas_used[size_t(step)] : kNaN;
    frames.add(model.latent_format.process_out(x).to(at::kCPU), step, sig);
  });
  std::shared_ptr<const Latent> out;
  try {
    out = inspire_ksampler(a).first;
  } catch (...) {
    set_sample_trace(prev);
    throw;
  }
  set_sample_trace(prev);
  return out;
}

NodeOutput finish(const ExecContext& ctx, std::shared_ptr<const Latent> out, ProgressFrames& frames,
                  const std::vector<float>& sigmas_used, bool omit_final, const std::shared_ptr<const Latent>& prev) {
  if (!omit_final)
    frames.add(out->samples.to(at::kCPU), sigmas_used.empty() ? -1 : int64_t(sigmas_used.size()) - 1,
               sigmas_used.empty() ? kNaN : sigmas_used.back());
  std::shared_ptr<const Latent> progress;
  const bool no_frames = frames.samples.empty();
  if (!no_frames) {
    auto p = std::make_shared<Latent>();
    p->samples = at::cat(frames.samples, 0);
    progress = p;
  } else {
    progress = out;
  }
  if (prev) {
    auto cat = at::cat({prev->samples.to(at::kCPU), progress->samples}, 0);
    std::vector<int64_t> steps(size_t(prev->samples.size(0)), -2);
    std::vector<float> sig(size_t(prev->samples.size(0)), kNaN);
    steps.insert(steps.end(), frames.steps.begin(), frames.steps.end());
    sig.insert(sig.end(), frames.sigmas.begin(), frames.sigmas.end());
    frames.steps = steps;
    frames.sigmas = sig;
    // Quirk kept: with no frames the progress dict IS the output dict, so both get the concatenation.
    if (no_frames) out = progress = out->with_samples(cat);
    else progress = progress->with_samples(cat);
  }
  if (!no_frames || prev) dump_progress(ctx, progress->samples, frames.steps, frames.sigmas);
  return NodeOutput{{Value(std::const_pointer_cast<Latent>(out)), Value(std::const_pointer_cast<Latent>(progress))}};
}

}  // namespace

void register_ksampler_progress_inspire(Registry& r) {
  NodeSchema s("KSamplerProgress //Inspire");
  s.display("KSampler Progress (Inspire)").cat("InspirePack/analysis").module(kInspireModule)
      .input("model", "MODEL")
      .int_("seed", 0, 0, kSeedMax)
      .int_("steps", 20, 1, 10000)
      .float_("cfg", 8.0, 0.0, 100.0)
      .combo("sampler_name", implemented_sampler_names())
      .combo("scheduler", inspire_scheduler_names())
      .input("positive", "CONDITIONING")
      .input("negative", "CONDITIONING")
      .input("latent_image", "LATENT")
      .float_("denoise", 1.0, 0.0, 1.0, 0.01)
      .combo("noise_mode", noise_modes())
      .int_("interval", 1, 1, 10000)
      .bool_("omit_start_latent", true, "True", "False")
      .bool_("omit_final_latent", false, "True", "False")
      .optional()
      .input("scheduler_func_opt", "SCHEDULER_FUNC")
      .output("LATENT", "latent")
      .output("LATENT", "progress_latent");
  r.add({s, [](const NodeInputs& in, ExecContext& ctx) {
           const double denoise = in.f64("denoise");
           const int64_t steps = in.i64("steps");
           if (denoise == 0.0)
             throw Error("execution_error", "float division by zero: denoise must be greater than 0", "denoise")
                 .at_input("denoise");
           const int64_t adv_steps = int64_t(double(steps) / denoise);
           InspireKSamplerArgs a;
           read_sampler_inputs(in, ctx, a, "seed");  // the callback is replaced in sample_with_frames
           a.steps = adv_steps;
           a.start_step = adv_steps - steps;
           a.last_step = adv_steps;
           a.noise_mode = in.str("noise_mode");
           a.force_full_denoise = true;
           a.scheduler_func = scheduler_func_in(in);
           ProgressFrames frames;
           if (!in.boolean("omit_start_latent"))
             frames.add(fix_empty_latent_channels(*a.model, a.latent->samples).to(at::kCPU), -1, kNaN);
           std::vector<float> sigmas_used;
           auto out = sample_with_frames(a, in.i64("interval"), frames, sigmas_used, ctx);
           return finish(ctx, out, frames, sigmas_used, in.boolean("omit_final_latent"), nullptr);
         }});
}

void register_ksampler_advanced_progress_inspire(Registry& r) {
  NodeSchema s("KSamplerAdvancedProgress //Inspire");
  s.display("KSampler Advanced Progress (Inspire)").cat("InspirePack/analysis").module(kInspireModule)
      .input("model", "MODEL")
      .bool_("add_noise", true, "enable", "disable")
      .int_("noise_seed", 0, 0, kSeedMax)
      .int_("steps", 20, 1, 10000)
      .float_("cfg", 8.0, 0.0, 100.0, 0.5, 0.01)
      .combo("sampler_name", implemented_sampler_names())
      .combo("scheduler", inspire_scheduler_names())
      .input("positive", "CONDITIONING")
      .input("negative", "CONDITIONING")
      .input("latent_image", "LATENT")
      .int_("start_at_step", 0, 0, 10000)
      .int_("end_at_step", 10000, 0, 10000)
      .combo("noise_mode", noise_modes())
      .bool_("return_with_leftover_noise", false, "enable", "disable")
      .int_("interval", 1, 1, 10000)
      .bool_("omit_start_latent", false, "True", "False")
      .bool_("omit_final_latent", false, "True", "False")
      .optional()
      .input("prev_progress_latent_opt", "LATENT")
      .input("scheduler_func_opt", "SCHEDULER_FUNC")
      .output("LATENT", "latent")
      .output("LATENT", "progress_latent");
  r.add({s, [](const NodeInputs& in, ExecContext& ctx) {
           InspireKSamplerArgs a;
           read_sampler_inputs(in, ctx, a, "noise_seed");  // the callback is replaced in sample_with_frames
           a.disable_noise = !in.boolean("add_noise");
           a.start_step = in.i64("start_at_step");
           a.last_step = in.i64("end_at_step");
           a.noise_mode = in.str("noise_mode");
           a.force_full_denoise = !in.boolean("return_with_leftover_noise");
           a.scheduler_func = scheduler_func_in(in);
           ProgressFrames frames;
           if (!in.boolean("omit_start_latent")) frames.add(a.latent->samples.to(at::kCPU), -1, kNaN);
           std::vector<float> sigmas_used;
           auto out = sample_with_frames(a, in.i64("interval"), frames, sigmas_used, ctx);
           return finish(ctx, out, frames, sigmas_used, in.boolean("omit_final_latent"),
                         in.obj_opt<Latent>("prev_progress_latent_opt"));
         }});
}

}  // namespace comfy
