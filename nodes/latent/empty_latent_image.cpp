// EmptyLatentImage — "Empty Latent Image" (workflow-nodes-files.md 9.9)
#include <ATen/ATen.h>

#include "comfy/core/memory_budget.hpp"
#include "comfy/core/node.hpp"
#include "comfy/core/types.hpp"

namespace comfy {

constexpr int64_t kMaxResolution = 16384;  // ComfyUI's nodes.MAX_RESOLUTION

void register_empty_latent_image(Registry& r) {
  NodeSchema s("EmptyLatentImage");
  s.display("Empty Latent Image").cat("latent")
      .int_("width", 512, 16, kMaxResolution, 8)
      .int_("height", 512, 16, kMaxResolution, 8)
      .int_("batch_size", 1, 1, 4096)
      .output("LATENT");
  r.add({s, [](const NodeInputs& in, ExecContext& ctx) {
           const int64_t b = in.i64("batch_size"), h = in.i64("height") / 8, w = in.i64("width") / 8;
           require_memory(ctx.cfg(), float_tensor_bytes({b, 4, h, w}),
                          "a latent [" + std::to_string(b) + ", 4, " + std::to_string(h) + ", " + std::to_string(w) + "]");
           auto l = std::make_shared<Latent>();
           l->samples = at::zeros({b, 4, h, w});
           return NodeOutput{{Value(l)}};
         }});
}

}  // namespace comfy
