// The custom-sampling family (comfy_extras/nodes_custom_sampler.py; workflow-nodes-files.md 9.24):
// KSamplerSelect, BasicScheduler, RandomNoise, CFGGuider, SamplerCustom, SamplerCustomAdvanced.
#include <ATen/ATen.h>

#include "comfy/sampling/noise.hpp"
#include "comfy/sampling/schedulers.hpp"
#include "sampling_node_util.hpp"

namespace comfy {

using namespace sampling_nodes;

namespace {
const char* kModule = "comfy_extras.nodes_custom_sampler";

// SamplerCustom(Advanced) tail: (output, denoised_output) from a finished run.
NodeOutput two_latents(const std::shared_ptr<const Latent>& latent, const at::Tensor& z, CustomSampleResult r) {
  auto base = std::make_shared<Latent>(*latent);
  base->samples = z;
  auto out = base->with_samples(r.samples);
  std::shared_ptr<Latent> den = r.last_x0 ? base->with_samples(*r.last_x0) : out;
  return NodeOutput{{Value(out), Value(den)}};
}
}  // namespace

void register_custom_sampler_nodes(Registry& r) {
  {
    NodeSchema s("KSamplerSelect");
    s.display("KSamplerSelect").cat("sampling/custom_sampling/samplers").module(kModule)
        .combo("sampler_name", implemented_sampler_names())
        .output("SAMPLER");
    s.last().combo_new_style = true;
    r.add({s, [](const NodeInputs& in, ExecContext&) {
             auto o = std::make_shared<SamplerObject>();
             o->name = in.str("sampler_name");
             return NodeOutput{{Value(o)}};
           }});
  }
  {
    NodeSchema s("BasicScheduler");
    s.display("BasicScheduler").cat("sampling/custom_sampling/schedulers").module(kModule)
        .input("model", "MODEL")
        .combo("scheduler", core_scheduler_names())
        .int_("steps", 20, 1, 10000)
        .float_("denoise", 1.0, 0.0, 1.0, 0.01)
        .output("SIGMAS");
    s.inputs[1].combo_new_style = true;
    r.add({s, [](const NodeInputs& in, ExecContext&) {
             const int64_t steps = in.i64("steps");
             const double denoise = in.f64("denoise");
             int64_t total = steps;
             if (denoise < 1.0) {
               if (denoise <= 0.0) return NodeOutput{{Value(at::empty({0}, at::kFloat))}};
               total = int64_t(double(steps) / denoise);
             }
             auto sig = calculate_sigmas(*model_in(in)->sampling, in.str("scheduler"), total).to(at::kCPU);
             if (sig.size(0) > steps + 1) sig = sig.slice(0, sig.size(0) - (steps + 1));
             return NodeOutput{{Value(sig.contiguous())}};
           }});
  }
  {
    NodeSchema s("RandomNoise");
    s.display("RandomNoise").cat("sampling/custom_sampling/noise").module(kModule)
        .seed("noise_seed")
        .output("NOISE");
    r.add({s, [](const NodeInputs& in, ExecContext&) {
             auto n = std::make_shared<NoiseObject>();
             const uint64_t seed = in.u64("noise_seed");
             n->seed = seed;
             n->generate = [seed](const Latent& l) { return comfy_prepare_noise(l.samples, seed, l.batch_index); };
             return NodeOutput{{Value(n)}};
           }});
  }
  {
    NodeSchema s("CFGGuider");
    s.display("CFGGuider").cat("sampling/custom_sampling/guiders").module(kModule)
        .input("model", "MODEL")
        .input("positive", "CONDITIONING")
        .input("negative", "CONDITIONING")
        .float_("cfg", 8.0, 0.0, 100.0, 0.1, 0.01)
        .output("GUIDER");
    r.add({s, [](const NodeInputs& in, ExecContext&) {
             auto g = std::make_shared<GuiderObject>();
             g->model = model_in(in);
             g->positive = cond_in(in, "positive");
             g->negative = cond_in(in, "negative");
             g->cfg = in.f64("cfg");
             return NodeOutput{{Value(g)}};
           }});
  }
  {
    NodeSchema s("SamplerCustom");
    s.display("SamplerCustom").cat("sampling/custom_sampling").module(kModule)
        .input("model", "MODEL")
        .bool_("add_noise", true)
        .seed("noise_seed")
        .float_("cfg", 8.0, 0.0, 100.0, 0.1, 0.01)
        .input("positive", "CONDITIONING")
        .input("negative", "CONDITIONING")
        .input("sampler", "SAMPLER")
        .input("sigmas", "SIGMAS")
        .input("latent_image", "LATENT")
        .output("LATENT", "output")
        .output("LATENT", "denoised_output");
    r.add({s, [](const NodeInputs& in, ExecContext& ctx) {
             auto model = model_in(in);
             auto latent = latent_in(in);
             auto z = fix_empty_latent_channels(*model, latent->samples);
             const uint64_t seed = in.u64("noise_seed");
             CustomSampleArgs a;
             a.model = model;
             a.positive = cond_in(in, "positive");
             a.negative = cond_in(in, "negative");
             a.cfg = in.f64("cfg");
             a.sampler_name = in.obj<SamplerObject>("sampler")->name;
             a.sigmas = sigmas_to_host(in.tensor("sigmas"));
             a.noise = in.boolean("add_noise") ? comfy_prepare_noise(z, seed, latent->batch_index)
                                                : at::zeros(z.sizes(), z.options().device(at::kCPU));
             a.latent = z;
             a.noise_mask = latent->noise_mask;
             a.callback = progress_callback(ctx);
             a.seed = seed;
             a.interrupt = ctx.cfg().interrupt;
             return two_latents(latent, z, sample_custom(std::move(a)));
           }});
  }
  {
    NodeSchema s("SamplerCustomAdvanced");
    s.display("SamplerCustomAdvanced").cat("sampling/custom_sampling").module(kModule)
        .input("noise", "NOISE")
        .input("guider", "GUIDER")
        .input("sampler", "SAMPLER")
        .input("sigmas", "SIGMAS")
        .input("latent_image", "LATENT")
        .output("LATENT", "output")
        .output("LATENT", "denoised_output");
    r.add({s, [](const NodeInputs& in, ExecContext& ctx) {
             auto g = in.obj<GuiderObject>("guider");
             auto noise = in.obj<NoiseObject>("noise");
             auto latent = latent_in(in);
             auto z = fix_empty_latent_channels(*g->model, latent->samples);
             auto fixed = latent->with_samples(z);
             CustomSampleArgs a;
             a.model = g->model;
             a.positive = g->positive;
             a.negative = g->negative;
             a.cfg = g->cfg;
             a.dual = g->dual;
             a.sampler_name = in.obj<SamplerObject>("sampler")->name;
             a.sigmas = sigmas_to_host(in.tensor("sigmas"));
             a.noise = noise->generate(*fixed);
             a.latent = z;
             a.noise_mask = latent->noise_mask;
             a.callback = progress_callback(ctx);
             a.seed = noise->seed;
             a.interrupt = ctx.cfg().interrupt;
             return two_latents(latent, z, sample_custom(std::move(a)));
           }});
  }
}

}  // namespace comfy
