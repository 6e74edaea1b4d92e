// CheckpointLoaderSimple — "Load Checkpoint" (workflow-nodes-files.md 9.1)
#include "comfy/core/node.hpp"
#include "comfy/models/builtin_shapes.hpp"
#include "comfy/models/checkpoint.hpp"
#include "loaders/model_file_input.hpp"

namespace comfy {

void register_checkpoint_loader_simple(Registry& r) {
  NodeSchema s("CheckpointLoaderSimple");
  s.display("Load Checkpoint").cat("loaders")
      .desc("Loads a diffusion model checkpoint; diffusion models are used to denoise latents.")
      .combo_fn("ckpt_name",
                ComboListFn([files = loaders::list_folder("checkpoints")](const RuntimeConfig& cfg) {
                  // the embedded default model is always offered, before the files
                  auto v = files(cfg);
                  v.insert(v.begin(), kBuiltinShapesName);
                  return v;
                }))
      .tip("The name of the checkpoint (model) to load.")
      .output("MODEL").output("CLIP").output("VAE");
  NodeDef def{s, [](const NodeInputs& in, ExecContext& ctx) {
                const auto& cfg = ctx.cfg();
                const auto& name = in.str("ckpt_name");
                if (auto builtin = load_builtin_checkpoint(name, cfg))
                  return NodeOutput{{Value(std::get<0>(*builtin)), Value(std::get<1>(*builtin)),
                                     Value(std::get<2>(*builtin))}};
                auto path = io::resolve_model_file(cfg, "checkpoints", name, "ckpt_name");
                LoadedCheckpoint ck;
                try {
                  ck = load_checkpoint(path, cfg);
                } catch (Error& e) {
                  if (e.input_name.empty()) e.at_input("ckpt_name");
                  throw;
                } catch (const c10::Error& e) {
                  throw Error("execution_error", "cannot load checkpoint " + name + ": " + e.what_without_backtrace(),
                              "ckpt_name").at_input("ckpt_name");
                }
                return NodeOutput{{ck.model ? Value(ck.model) : Value(), ck.clip ? Value(ck.clip) : Value(),
                                   ck.vae ? Value(ck.vae) : Value()}};
              }};
  r.add(std::move(def));
}

}  // namespace comfy
