// VAELoader — "Load VAE" (workflow-nodes-files.md 9.2). TAESD and pixel_space are not built in.
#include "comfy/core/node.hpp"
#include "comfy/io/safetensors.hpp"
#include "comfy/models/vae.hpp"
#include "loaders/model_file_input.hpp"

namespace comfy {

void register_vae_loader(Registry& r) {
  NodeSchema s("VAELoader");
  s.display("Load VAE").cat("loaders")
      .combo_fn("vae_name", loaders::list_folder("vae"))
      .output("VAE");
  NodeDef def{s, [](const NodeInputs& in, ExecContext& ctx) {
                const auto& cfg = ctx.cfg();
                const auto& name = in.str("vae_name");
                auto path = io::resolve_model_file(cfg, "vae", name, "vae_name");
                auto ext = path.extension().string();
                if (ext != ".safetensors" && ext != ".sft")
                  fail("vae_name", "cannot load " + name + ": only .safetensors VAE files are supported");
                try {
                  auto st = io::SafeTensors::open(path);
                  // Stand-alone VAE files hold the bare AutoencoderKL keys; some carry the checkpoint prefix.
                  std::string prefix = st->contains("encoder.conv_in.weight") ? "" : "first_stage_model.";
                  if (!st->contains(prefix + "encoder.conv_in.weight") &&
                      !st->contains(prefix + "encoder.down_blocks.0.resnets.0.conv1.weight"))
                    fail("vae_name", "file " + name + " holds no VAE (no key encoder.conv_in.weight)");
                  return NodeOutput{{Value(load_vae(st, prefix, cfg))}};
                } catch (Error& e) {
                  if (e.input_name.empty()) e.at_input("vae_name");
                  throw;
                }
              }};
  r.add(std::move(def));
}

}  // namespace comfy
