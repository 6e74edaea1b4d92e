// RandomNoise //Inspire — NOISE object with Inspire's initial noise (sampling-noise.md N2.5)
#include "comfy/sampling/noise.hpp"
#include "sampling_node_util.hpp"

namespace comfy {

using namespace sampling_nodes;

void register_random_noise_inspire(Registry& r) {
  NodeSchema s("RandomNoise //Inspire");
  s.display("RandomNoise (inspire)").cat("InspirePack/a1111_compat").module(kInspireModule)
      .int_("noise_seed", 0, 0, kSeedMax)
      .combo("noise_mode", {"GPU(=A1111)", "CPU"})
      .combo("batch_seed_mode", batch_seed_modes())
      .int_("variation_seed", 0, 0, kSeedMax)
      .float_("variation_strength", 0.0, 0.0, 1.0, 0.01)
      .optional()
      .combo("variation_method", variation_methods())
      .int_("internal_seed", 0, 0, kSeedMax)
      .output("NOISE");
  r.add({s, [](const NodeInputs& in, ExecContext&) {
           auto n = std::make_shared<NoiseObject>();
           const uint64_t noise_seed = in.u64("noise_seed");
           n->seed = in.has("internal_seed") ? in.u64("internal_seed") : noise_seed;
           const NoiseDevice dev = in.str("noise_mode") == "CPU" ? NoiseDevice::CPU : NoiseDevice::GPU;
           const std::string mode = in.str("batch_seed_mode");
           const uint64_t vseed = in.u64("variation_seed");
           const double vstr = in.f64("variation_strength");
           const std::string vmethod = in.has("variation_method") ? in.str("variation_method") : "linear";
           n->generate = [=](const Latent& l) {
             return inspire_prepare_noise(l.samples, noise_seed, l.batch_index, dev, mode, vseed, vstr, vmethod)
                 .to(at::kCPU);
           };
           return NodeOutput{{Value(n)}};
         }});
}

}  // namespace comfy
