// UpscaleModelLoader — "Load Upscale Model", ImageUpscaleWithModel — "Upscale Image (using Model)"
// (nodes-control-upscale.md 2.1, 2.6).
#include "comfy/core/node.hpp"
#include "comfy/models/upscale_model.hpp"
#include "loaders/model_file_input.hpp"

namespace comfy {

void register_upscale_model_loader(Registry& r) {
  NodeSchema s("UpscaleModelLoader");
  s.display("Load Upscale Model").cat("loaders")
      .combo_fn("model_name", loaders::list_folder("upscale_models"))
      .output("UPSCALE_MODEL");
  r.add({s, [](const NodeInputs& in, ExecContext& ctx) {
           const auto& cfg = ctx.cfg();
           const auto& name = in.str("model_name");
           auto path = io::resolve_model_file(cfg, "upscale_models", name, "model_name");
           try {
             return NodeOutput{{Value(load_upscale_model(path, cfg.device))}};
           } catch (Error& e) {
             if (e.input_name.empty()) e.at_input("model_name");
             throw;
           }
         }});
}

void register_image_upscale_with_model(Registry& r) {
  NodeSchema s("ImageUpscaleWithModel");
  s.display("Upscale Image (using Model)").cat("image/upscaling")
      .input("upscale_model", "UPSCALE_MODEL")
      .input("image", "IMAGE")
      .output("IMAGE");
  r.add({s, [](const NodeInputs& in, ExecContext&) {
           auto m = in.obj<UpscaleModel>("upscale_model");
           try {
             return NodeOutput{{Value(upscale_image_with_model(*m, in.tensor("image")))}};
           } catch (Error& e) {
             if (e.input_name.empty()) e.at_input("image");
             throw;
           }
         }});
}

}  // namespace comfy
