// KSampler //Inspire — "KSampler (inspire)" (sampling.md 1.2-1.4, workflow-nodes-files.md 10.1)
#include "comfy/sampling/schedulers.hpp"
#include "sampling_node_util.hpp"

namespace comfy {

using namespace sampling_nodes;

void register_ksampler_inspire(Registry& r) {
  NodeSchema s("KSampler //Inspire");
  s.display("KSampler (inspire)").cat("InspirePack/a1111_compat").module(kInspireModule)
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
      .combo("batch_seed_mode", batch_seed_modes())
      .int_("variation_seed", 0, 0, kSeedMax)
      .float_("variation_strength", 0.0, 0.0, 1.0, 0.01)
      .optional()
      .combo("variation_method", variation_methods())
      .input("scheduler_func_opt", "SCHEDULER_FUNC")
      .int_("internal_seed", 0, 0, kSeedMax)
      .output("LATENT");
  r.add({s, [](const NodeInputs& in, ExecContext& ctx) {
           InspireKSamplerArgs a;
           read_sampler_inputs(in, ctx, a, "seed");
           read_variation_inputs(in, a);
           a.denoise = in.f64("denoise");
           a.noise_mode = in.str("noise_mode");
           a.scheduler_func = scheduler_func_in(in);
           return NodeOutput{{Value(std::const_pointer_cast<Latent>(inspire_ksampler(a).first))}};
         }});
}

}  // namespace comfy
