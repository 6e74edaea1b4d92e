// CLIPSetLastLayer — "CLIP Set Last Layer" (workflow-nodes-files.md 9.4)
#include "comfy/core/node.hpp"
#include "comfy/models/clip.hpp"

namespace comfy {

void register_clip_set_last_layer(Registry& r) {
  NodeSchema s("CLIPSetLastLayer");
  s.display("CLIP Set Last Layer").cat("conditioning")
      .input("clip", "CLIP")
      .int_("stop_at_clip_layer", -1, -24, -1, 1)
      .output("CLIP");
  r.add({s, [](const NodeInputs& in, ExecContext&) {
           // a clone sharing the encoder weights, with its own layer setting (ComfyUI: clip.clone().clip_layer())
           auto clip = std::make_shared<Clip>(*in.obj<Clip>("clip"));
           clip->layer_idx = in.i64("stop_at_clip_layer");
           return NodeOutput{{Value(clip)}};
         }});
}

}  // namespace comfy
