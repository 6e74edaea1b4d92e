// ImageScaleToTotalPixels — "Scale Image to Total Pixels" (nodes-control-upscale.md 3.3).
#include <ATen/ATen.h>

#include <cmath>

#include "comfy/core/node.hpp"
#include "comfy/ops/upscale.hpp"

namespace comfy {

void register_image_scale_to_total_pixels(Registry& r) {
  NodeSchema s("ImageScaleToTotalPixels");
  s.display("Scale Image to Total Pixels").cat("image/upscaling")
      .input("image", "IMAGE")
      .combo("upscale_method", {"nearest-exact", "bilinear", "area", "bicubic", "lanczos"})
      .float_("megapixels", 1.0, 0.01, 16.0, 0.01)
      .int_("resolution_steps", 1, 1, 256)
      .output("IMAGE");
  r.add({s, [](const NodeInputs& in, ExecContext&) {
           const auto& image = in.tensor("image");  // [B, H, W, C]
           const std::string& method = in.str("upscale_method");
           if (method == "lanczos") fail("upscale_method", "upscale_method 'lanczos' is not supported by comfy-native");
           auto x = image.movedim(-1, 1);  // [B, C, H, W]
           const double total = in.f64("megapixels") * 1024 * 1024;
           const double k = std::sqrt(total / double(x.size(3) * x.size(2)));
           const int64_t steps = in.i64("resolution_steps");
           const int64_t w = python_round(double(x.size(3)) * k / double(steps)) * steps;
           const int64_t h = python_round(double(x.size(2)) * k / double(steps)) * steps;
           if (w < 1 || h < 1)
             fail("megapixels", "the image would be scaled to " + std::to_string(w) + "x" + std::to_string(h));
           auto out = common_upscale(x, w, h, method, "disabled").movedim(1, -1).contiguous();
           return NodeOutput{{Value(out)}};
         }});
}

}  // namespace comfy
