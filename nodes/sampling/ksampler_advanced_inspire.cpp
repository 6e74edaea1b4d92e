// KSamplerAdvanced //Inspire — "KSamplerAdvanced (inspire)" (sampling.md 1.2-1.4, workflow-nodes-files.md 10.2)
#include "comfy/sampling/schedulers.hpp"
#include "sampling_node_util.hpp"

namespace comfy {

using namespace sampling_nodes;

void register_ksampler_advanced_inspire(Registry& r) {
  NodeSchema s("KSamplerAdvanced //Inspire");
  s.display("KSamplerAdvanced (inspire)").cat("InspirePack/a1111_compat").module(kInspireModule)
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
      .combo("batch_seed_mode", batch_seed_modes())
      .int_("variation_seed", 0, 0, kSeedMax)
      .float_("variation_strength", 0.0, 0.0, 1.0, 0.01)
      .optional()
      .combo("variation_method", variation_methods())
      .input("noise_opt", "NOISE_IMAGE")
      .input("scheduler_func_opt", "SCHEDULER_FUNC")
      .int_("internal_seed", 0, 0, kSeedMax)
      .output("LATENT");
  r.add({s, [](const NodeInputs& in, ExecContext& ctx) {
           InspireKSamplerArgs a;
           read_sampler_inputs(in, ctx, a, "noise_seed");
           read_variation_inputs(in, a);
           a.disable_noise = !in.boolean("add_noise");
           a.start_step = in.i64("start_at_step");
           a.last_step = in.i64("end_at_step");
           a.noise_mode = in.str("noise_mode");
           a.force_full_denoise = !in.boolean("return_with_leftover_noise");
           if (in.has("noise_opt")) a.noise = in.tensor("noise_opt");
           a.scheduler_func = scheduler_func_in(in);
           return NodeOutput{{Value(std::const_pointer_cast<Latent>(inspire_ksampler(a).first))}};
         }});
}

}  // namespace comfy
