// ControlNetApply ("Apply ControlNet (OLD)") and ControlNetApplyAdvanced ("Apply ControlNet")
// (nodes-control-upscale.md 1.3, 1.4).
#include <ATen/ATen.h>

#include <map>

#include "comfy/core/node.hpp"
#include "comfy/core/types.hpp"
#include "comfy/models/controlnet.hpp"

namespace comfy {

namespace {
std::shared_ptr<const ControlNet> previous_of(const CondEntry& e) {
  auto it = e.extra.find("control");
  if (it == e.extra.end() || !it->second.is_object()) return nullptr;
  return it->second.as<ControlNet>();
}

// IMAGE [B, H, W, C] -> hint [B, C, H, W]; ComfyUI feeds it as is (an RGBA image reaches the hint
// block with 4 channels and fails there; we say so up front).
at::Tensor hint_from(const at::Tensor& image, const ControlNet& cn) {
  if (image.dim() != 4) fail("image", "expected an IMAGE [B, H, W, C], got " + std::to_string(image.dim()) + " dims");
  if (cn.net && image.size(3) != cn.net->hint_channels())
    fail("image", "the hint image has " + std::to_string(image.size(3)) + " channels, the ControlNet " + cn.file +
                      " takes " + std::to_string(cn.net->hint_channels()) + " (remove the alpha channel)");
  return image.movedim(-1, 1);
}
}  // namespace

void register_controlnet_apply(Registry& r) {
  NodeSchema s("ControlNetApply");
  s.display("Apply ControlNet (OLD)").cat("conditioning/controlnet")
      .input("conditioning", "CONDITIONING")
      .input("control_net", "CONTROL_NET")
      .input("image", "IMAGE")
      .float_("strength", 1.0, 0.0, 10.0, 0.01)
      .output("CONDITIONING");
  r.add({s, [](const NodeInputs& in, ExecContext&) {
           auto cond = in.obj<Conditioning>("conditioning");
           const double strength = in.f64("strength");
           if (strength == 0) return NodeOutput{{in.get("conditioning")}};
           auto cn = in.obj<ControlNet>("control_net");
           auto hint = hint_from(in.tensor("image"), *cn);
           auto out = std::make_shared<Conditioning>();
           for (CondEntry e : cond->entries) {
             auto c = cn->with_hint(hint, strength, 0.0, 1.0, previous_of(e));
             e.extra["control"] = Value(std::shared_ptr<const ControlNet>(c));
             e.extra["control_apply_to_uncond"] = Value(true);
             out->entries.push_back(std::move(e));
           }
           return NodeOutput{{Value(out)}};
         }});
}

void register_controlnet_apply_advanced(Registry& r) {
  NodeSchema s("ControlNetApplyAdvanced");
  s.display("Apply ControlNet").cat("conditioning/controlnet")
      .input("positive", "CONDITIONING")
      .input("negative", "CONDITIONING")
      .input("control_net", "CONTROL_NET")
      .input("image", "IMAGE")
      .float_("strength", 1.0, 0.0, 10.0, 0.01)
      .float_("start_percent", 0.0, 0.0, 1.0, 0.001)
      .float_("end_percent", 1.0, 0.0, 1.0, 0.001)
      .optional()
      .input("vae", "VAE")
      .output("CONDITIONING", "positive")
      .output("CONDITIONING", "negative");
  r.add({s, [](const NodeInputs& in, ExecContext&) {
           const double strength = in.f64("strength");
           if (strength == 0) return NodeOutput{{in.get("positive"), in.get("negative")}};
           auto cn = in.obj<ControlNet>("control_net");
           auto hint = hint_from(in.tensor("image"), *cn);
           const double start = in.f64("start_percent"), end = in.f64("end_percent");
           // One new ControlNet per distinct previous one, shared by both lists (so cond and uncond
           // still batch together).
           std::map<const ControlNet*, std::shared_ptr<const ControlNet>> made;
           NodeOutput res;
           for (const char* side : {"positive", "negative"}) {
             auto out = std::make_shared<Conditioning>();
             for (CondEntry e : in.obj<Conditioning>(side)->entries) {
               auto prev = previous_of(e);
               auto& c = made[prev.get()];
               if (!c) c = cn->with_hint(hint, strength, start, end, prev);
               e.extra["control"] = Value(c);
               e.extra["control_apply_to_uncond"] = Value(false);
               out->entries.push_back(std::move(e));
             }
             res.values.push_back(Value(out));
           }
           return res;
         }});
}

}  // namespace comfy
