// ImageScale — "Upscale Image" (ComfyUI nodes.py ImageScale)
#include <ATen/ATen.h>

#include <algorithm>

#include "comfy/core/memory_budget.hpp"
#include "comfy/core/node.hpp"
#include "comfy/ops/upscale.hpp"

namespace comfy {

void register_image_scale(Registry& r) {
  NodeSchema s("ImageScale");
  s.display("Upscale Image").cat("image/upscaling")
      .input("image", "IMAGE")
      .combo("upscale_method", {"nearest-exact", "bilinear", "area", "bicubic", "lanczos"})
      .int_("width", 512, 0, 16384, 1)
      .int_("height", 512, 0, 16384, 1)
      .combo("crop", {"disabled", "center"})
      .output("IMAGE");
  r.add({s, [](const NodeInputs& in, ExecContext& ctx) {
           const auto& image = in.tensor("image");  // [B, H, W, C]
           int64_t width = in.i64("width"), height = in.i64("height");
           if (width == 0 && height == 0) return NodeOutput{{Value(image)}};
           const std::string& method = in.str("upscale_method");
           if (method == "lanczos") fail("upscale_method", "upscale_method 'lanczos' is not supported by comfy-native");
           auto x = image.movedim(-1, 1);  // [B, C, H, W]
           if (width == 0) width = std::max<int64_t>(1, python_round(double(x.size(3)) * double(height) / double(x.size(2))));
           else if (height == 0) height = std::max<int64_t>(1, python_round(double(x.size(2)) * double(width) / double(x.size(3))));
           // the interpolated [B, C, H, W] and its contiguous [B, H, W, C] copy
           require_memory(ctx.cfg(), 2 * float_tensor_bytes({x.size(0), x.size(1), height, width}),
                          "an image [" + std::to_string(x.size(0)) + ", " + std::to_string(height) + ", " +
                              std::to_string(width) + ", " + std::to_string(x.size(1)) + "]");
           auto out = common_upscale(x, width, height, method, in.str("crop")).movedim(1, -1).contiguous();
           return NodeOutput{{Value(out)}};
         }});
}

}  // namespace comfy
