#pragma once
// Shared pieces of the sampler nodes: option lists, input helpers, the progress-bar callback and
// progress-latent frames (KSamplerProgress //Inspire, KSamplerAdvancedProgress //Inspire).
#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <vector>

#include "comfy/core/node.hpp"
#include "comfy/core/types.hpp"
#include "comfy/exec/preview.hpp"
#include "comfy/models/model.hpp"
#include "comfy/sampling/ksampler.hpp"
#include "inspire/inspire_pack.hpp"

namespace comfy::sampling_nodes {

inline constexpr const char* kInspireModule = kInspirePackModule;
inline const std::vector<std::string>& noise_modes() {
  static const std::vector<std::string> v = {"GPU(=A1111)", "CPU", "GPU+internal_seed", "CPU+internal_seed"};
  return v;
}
inline const std::vector<std::string>& batch_seed_modes() {
  static const std::vector<std::string> v = {"incremental", "comfy", "variation str inc:0.01", "variation str inc:0.05"};
  return v;
}
inline const std::vector<std::string>& variation_methods() {
  static const std::vector<std::string> v = {"linear", "slerp"};
  return v;
}

// Inputs as ComfyUI hands them to the node function.
inline std::shared_ptr<const Model> model_in(const NodeInputs& in, const char* name = "model") { return in.obj<Model>(name); }
inline std::shared_ptr<const Conditioning> cond_in(const NodeInputs& in, const char* name) { return in.obj<Conditioning>(name); }
inline std::shared_ptr<const Latent> latent_in(const NodeInputs& in, const char* name = "latent_image") { return in.obj<Latent>(name); }

// ComfyUI's progress bar (one "progress" event per step) chained after an optional inner callback.
inline StepCallback progress_callback(const ExecContext& ctx, StepCallback inner = {}) {
  return [&ctx, inner](int64_t step, const at::Tensor& x0, const at::Tensor& x, int64_t total) {
    if (inner) inner(step, x0, x, total);
    report_preview(ctx.node_id, x0);  // `serve`'s latent previews; nothing without a sink
    ctx.progress(step + 1, total);
  };
}

// Collected progress-latent frames: samples (user space, CPU) plus, per row, the step index and sigma.
struct ProgressFrames {
  std::vector<at::Tensor> samples;
  std::vector<int64_t> steps;   // -1: start frame (input latent), total: final frame, -2: previous progress
  std::vector<float> sigmas;    // NaN where the frame is no sampler state
  void add(const at::Tensor& s, int64_t step, float sigma) {
    samples.push_back(s);
    for (int64_t b = 0; b < s.size(0); ++b) {
      steps.push_back(step);
      sigmas.push_back(sigma);
    }
  }
};

// Writes the progress latent to RuntimeConfig::dump_progress_dir as <node_id>_progress_<counter>.pt
// (a torch.load-able dict: samples, steps, sigmas, node_id) when that option is set.
void dump_progress(const ExecContext& ctx, const at::Tensor& samples, const std::vector<int64_t>& steps,
                   const std::vector<float>& sigmas);

// The inputs every KSampler-like node has (model, seed, steps, cfg, sampler_name, scheduler,
// positive, negative, latent_image), read into CoreKSamplerArgs or InspireKSamplerArgs, plus the
// run context (progress bar, interrupt flag).
template <class Args>
void read_sampler_inputs(const NodeInputs& in, const ExecContext& ctx, Args& a, const char* seed_input) {
  a.model = model_in(in);
  a.seed = in.u64(seed_input);
  a.steps = in.i64("steps");
  a.cfg = in.f64("cfg");
  a.sampler_name = in.str("sampler_name");
  a.scheduler = in.str("scheduler");
  a.positive = cond_in(in, "positive");
  a.negative = cond_in(in, "negative");
  a.latent = latent_in(in);
  a.callback = progress_callback(ctx);
  a.interrupt = ctx.cfg().interrupt;
}

// The Inspire seed controls: batch_seed_mode, variation seed / strength / method, internal_seed.
inline void read_variation_inputs(const NodeInputs& in, InspireKSamplerArgs& a) {
  a.incremental_seed_mode = in.str("batch_seed_mode");
  a.variation_seed = in.u64("variation_seed");
  a.variation_strength = in.f64("variation_strength");
  if (in.has("variation_method")) a.variation_method = in.str("variation_method");
  if (in.has("internal_seed")) a.internal_seed = in.u64("internal_seed");
}

// Validation of the optional scheduler_func_opt input.
inline std::shared_ptr<const SchedulerFunc> scheduler_func_in(const NodeInputs& in) {
  return in.obj_opt<SchedulerFunc>("scheduler_func_opt");
}

}  // namespace comfy::sampling_nodes
