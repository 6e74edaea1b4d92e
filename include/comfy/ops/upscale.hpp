#pragma once
// comfy.utils.common_upscale: resize [B, C, H, W] with torch's interpolate modes, optional center crop.
#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

namespace comfy {

// Methods: "nearest-exact", "bilinear", "area", "bicubic", "bislerp" (align_corners false, no antialias);
// crop "disabled" or "center" (cut to the target aspect ratio first). Throws comfy::Error for others.
at::Tensor common_upscale(const at::Tensor& samples, int64_t width, int64_t height, const std::string& method,
                          const std::string& crop);

// Python's round() of a double to an integer (halves to even).
int64_t python_round(double v);

const std::vector<std::string>& latent_upscale_methods();  // the five names above, ComfyUI's order

}  // namespace comfy
