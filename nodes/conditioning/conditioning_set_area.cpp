// ConditioningSetArea — "Conditioning (Set Area)" (workflow-nodes-files.md 9.7)
#include "comfy/core/node.hpp"
#include "comfy/core/types.hpp"

namespace comfy {

void register_conditioning_set_area(Registry& r) {
  constexpr int64_t kMaxResolution = 16384;  // ComfyUI's nodes.MAX_RESOLUTION
  NodeSchema s("ConditioningSetArea");
  s.display("Conditioning (Set Area)").cat("conditioning")
      .input("conditioning", "CONDITIONING")
      .int_("width", 64, 64, kMaxResolution, 8)
      .int_("height", 64, 64, kMaxResolution, 8)
      .int_("x", 0, 0, kMaxResolution, 8)
      .int_("y", 0, 0, kMaxResolution, 8)
      .float_("strength", 1.0, 0.0, 10.0, 0.01)
      .output("CONDITIONING");
  r.add({s, [](const NodeInputs& in, ExecContext&) {
           // area in latent units: (height // 8, width // 8, y // 8, x // 8); Python floor division
           auto floordiv8 = [](int64_t v) { return v >= 0 ? v / 8 : -((-v + 7) / 8); };
           CondArea area;
           area.height = floordiv8(in.i64("height"));
           area.width = floordiv8(in.i64("width"));
           area.y = floordiv8(in.i64("y"));
           area.x = floordiv8(in.i64("x"));
           auto c = std::make_shared<Conditioning>();
           for (CondEntry e : in.obj<Conditioning>("conditioning")->entries) {
             e.area = area;
             e.strength = in.f64("strength");
             e.set_area_to_bounds = false;
             c->entries.push_back(std::move(e));
           }
           return NodeOutput{{Value(c)}};
         }});
}

}  // namespace comfy
