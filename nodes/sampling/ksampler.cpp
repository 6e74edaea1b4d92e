// KSampler — core ComfyUI sampler node (workflow-nodes-files.md 9.22, sampling.md 3.8)
#include "comfy/sampling/schedulers.hpp"
#include "sampling_node_util.hpp"

namespace comfy {

using namespace sampling_nodes;

void register_ksampler(Registry& r) {
  NodeSchema s("KSampler");
  s.display("KSampler").cat("sampling")
      .input("model", "MODEL")
      .seed("seed")
      .int_("steps", 20, 1, 10000)
      .float_("cfg", 8.0, 0.0, 100.0, 0.1, 0.01)
      .combo("sampler_name", implemented_sampler_names())
      .combo("scheduler", core_scheduler_names())
      .input("positive", "CONDITIONING")
      .input("negative", "CONDITIONING")
      .input("latent_image", "LATENT")
      .float_("denoise", 1.0, 0.0, 1.0, 0.01)
      .output("LATENT");
  r.add({s, [](const NodeInputs& in, ExecContext& ctx) {
           CoreKSamplerArgs a;
           read_sampler_inputs(in, ctx, a, "seed");
           a.denoise = in.f64("denoise");
           return NodeOutput{{Value(common_ksampler(a))}};
         }});
}

void register_ksampler_advanced(Registry& r) {
  NodeSchema s("KSamplerAdvanced");
  s.display("KSampler (Advanced)").cat("sampling")
      .input("model", "MODEL")
      .combo("add_noise", {"enable", "disable"})
      .seed("noise_seed")
      .int_("steps", 20, 1, 10000)
      .float_("cfg", 8.0, 0.0, 100.0, 0.1, 0.01)
      .combo("sampler_name", implemented_sampler_names())
      .combo("scheduler", core_scheduler_names())
      .input("positive", "CONDITIONING")
      .input("negative", "CONDITIONING")
      .input("latent_image", "LATENT")
      .int_("start_at_step", 0, 0, 10000)
      .int_("end_at_step", 10000, 0, 10000)
      .combo("return_with_leftover_noise", {"disable", "enable"})
      .output("LATENT");
  r.add({s, [](const NodeInputs& in, ExecContext& ctx) {
           CoreKSamplerArgs a;
           read_sampler_inputs(in, ctx, a, "noise_seed");
           a.disable_noise = in.str("add_noise") == "disable";
           a.denoise = 1.0;
           a.start_step = in.i64("start_at_step");
           a.last_step = in.i64("end_at_step");
           a.force_full_denoise = in.str("return_with_leftover_noise") != "enable";
           return NodeOutput{{Value(common_ksampler(a))}};
         }});
}

}  // namespace comfy
