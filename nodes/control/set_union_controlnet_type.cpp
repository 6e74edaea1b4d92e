// SetUnionControlNetType (comfy_extras/nodes_controlnet.py): a copy of the ControlNet with
// extra_args["control_type"] = [the type's number] ([] for "auto"). ControlNet.copy keeps the hint,
// strength and percent range but not the chain (previous_controlnet) or the resized-hint cache.
#include <algorithm>

#include "comfy/core/node.hpp"
#include "comfy/models/controlnet.hpp"

namespace comfy {

namespace {
// comfy/cldm/control_types.py UNION_CONTROLNET_TYPES, in its order (the number is the position).
const std::vector<std::string>& union_types() {
  static const std::vector<std::string> t = {"openpose", "depth", "hed/pidi/scribble/ted",
                                             "canny/lineart/anime_lineart/mlsd", "normal", "segment", "tile",
                                             "repaint"};
  return t;
}
}  // namespace

void register_set_union_controlnet_type(Registry& r) {
  std::vector<std::string> choices = {"auto"};
  choices.insert(choices.end(), union_types().begin(), union_types().end());
  NodeSchema s("SetUnionControlNetType");
  s.display("SetUnionControlNetType").cat("conditioning/controlnet").module("comfy_extras.nodes_controlnet")
      .input("control_net", "CONTROL_NET")
      .combo("type", choices)
      .output("CONTROL_NET");
  r.add({s, [](const NodeInputs& in, ExecContext&) {
           auto cn = in.obj<ControlNet>("control_net");
           auto c = cn->with_hint(cn->cond_hint_original, cn->strength, cn->start_percent, cn->end_percent, nullptr);
           c->control_type.clear();
           const auto& t = union_types();
           if (auto it = std::find(t.begin(), t.end(), in.str("type")); it != t.end())
             c->control_type = {int64_t(it - t.begin())};
           return NodeOutput{{Value(std::shared_ptr<ControlNet>(c))}};
         }});
}

}  // namespace comfy
