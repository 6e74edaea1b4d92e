// LatentUpscale — "Upscale Latent" and LatentUpscaleBy — "Upscale Latent By" (workflow-nodes-files.md 9.10, 9.11)
#include <ATen/ATen.h>

#include <algorithm>

#include "comfy/core/memory_budget.hpp"
#include "comfy/core/node.hpp"
#include "comfy/core/types.hpp"
#include "comfy/ops/upscale.hpp"

namespace comfy {

namespace {
constexpr int64_t kMaxUpscaleResolution = 16384;

// The upscaled latent (and the float copy the interpolation makes) must fit.
void require_upscaled(const ExecContext& ctx, const at::Tensor& x, int64_t w, int64_t h) {
  const int64_t b = x.size(0), c = x.size(1);
  require_memory(ctx.cfg(), 2 * float_tensor_bytes({b, c, h, w}),
                 "an upscaled latent [" + std::to_string(b) + ", " + std::to_string(c) + ", " + std::to_string(h) +
                     ", " + std::to_string(w) + "]");
}
}

void register_latent_upscale(Registry& r) {
  NodeSchema s("LatentUpscale");
  s.display("Upscale Latent").cat("latent")
      .input("samples", "LATENT")
      .combo("upscale_method", latent_upscale_methods())
      .int_("width", 512, 0, kMaxUpscaleResolution, 8)
      .int_("height", 512, 0, kMaxUpscaleResolution, 8)
      .combo("crop", {"disabled", "center"})
      .output("LATENT");
  r.add({s, [](const NodeInputs& in, ExecContext& ctx) {
           auto latent = in.obj<Latent>("samples");
           int64_t width = in.i64("width"), height = in.i64("height");
           if (width == 0 && height == 0) return NodeOutput{{Value(latent)}};
           const auto& x = latent->samples;  // [B, C, h, w]
           if (width == 0) {
             height = std::max<int64_t>(64, height);
             width = std::max<int64_t>(64, python_round(double(x.size(-1)) * double(height) / double(x.size(-2))));
           } else if (height == 0) {
             width = std::max<int64_t>(64, width);
             height = std::max<int64_t>(64, python_round(double(x.size(-2)) * double(width) / double(x.size(-1))));
           } else {
             width = std::max<int64_t>(64, width);
             height = std::max<int64_t>(64, height);
           }
           require_upscaled(ctx, x, width / 8, height / 8);
           auto out = common_upscale(x, width / 8, height / 8, in.str("upscale_method"), in.str("crop"));
           return NodeOutput{{Value(latent->with_samples(out))}};
         }});
}

void register_latent_upscale_by(Registry& r) {
  NodeSchema s("LatentUpscaleBy");
  s.display("Upscale Latent By").cat("latent")
      .input("samples", "LATENT")
      .combo("upscale_method", latent_upscale_methods())
      .float_("scale_by", 1.5, 0.01, 8.0, 0.01)
      .output("LATENT");
  r.add({s, [](const NodeInputs& in, ExecContext& ctx) {
           auto latent = in.obj<Latent>("samples");
           const auto& x = latent->samples;
           const double by = in.f64("scale_by");
           const int64_t width = python_round(double(x.size(-1)) * by), height = python_round(double(x.size(-2)) * by);
           require_upscaled(ctx, x, width, height);
           auto out = common_upscale(x, width, height, in.str("upscale_method"), "disabled");
           return NodeOutput{{Value(latent->with_samples(out))}};
         }});
}

}  // namespace comfy
