// ControlNetLoader, DiffControlNetLoader — "Load ControlNet Model" (nodes-control-upscale.md 1.1, 1.2).
#include "comfy/core/node.hpp"
#include "comfy/models/controlnet.hpp"
#include "comfy/models/model_patcher.hpp"
#include "comfy/models/unet.hpp"
#include "loaders/model_file_input.hpp"

namespace comfy {

namespace {
NodeOutput load(const NodeInputs& in, ExecContext& ctx, const TensorMap* diff_base) {
  const auto& cfg = ctx.cfg();
  const auto& name = in.str("control_net_name");
  auto path = io::resolve_model_file(cfg, "controlnet", name, "control_net_name");
  try {
    return NodeOutput{{Value(load_controlnet(path, cfg, diff_base))}};
  } catch (Error& e) {
    if (e.input_name.empty()) e.at_input("control_net_name");
    throw;
  }
}
}  // namespace

void register_controlnet_loader(Registry& r) {
  NodeSchema s("ControlNetLoader");
  s.display("Load ControlNet Model").cat("loaders")
      .combo_fn("control_net_name", loaders::list_folder("controlnet"))
      .output("CONTROL_NET");
  r.add({s, [](const NodeInputs& in, ExecContext& ctx) { return load(in, ctx, nullptr); }});
}

void register_diff_controlnet_loader(Registry& r) {
  NodeSchema s("DiffControlNetLoader");
  s.display("Load ControlNet Model (diff)").cat("loaders")
      .input("model", "MODEL")
      .combo_fn("control_net_name", loaders::list_folder("controlnet"))
      .output("CONTROL_NET");
  r.add({s, [](const NodeInputs& in, ExecContext& ctx) {
           auto model = in.obj<Model>("model");
           auto unet = resolve_unet(model->net);
           if (!unet) fail("model", "DiffControlNetLoader needs a UNet model (found " + model->family + ")");
           return load(in, ctx, &unet->weights());
         }});
}

}  // namespace comfy
