#pragma once
// comfy.utils.tiled_scale (2-D case of tiled_scale_multidim): run f over overlapping tiles and blend
// them with linear feather ramps on every tile side (nodes-control-upscale.md 2.6).
#include <ATen/core/Tensor.h>

#include <functional>

namespace comfy {

// samples [B, C, H, W]; f maps one tile [1, C, h, w] to [1, out_channels, round(h*s), round(w*s)].
// Returns [B, out_channels, round(H*s), round(W*s)] (float32, samples' device).
at::Tensor tiled_scale(const at::Tensor& samples, const std::function<at::Tensor(const at::Tensor&)>& f,
                       int64_t tile_x, int64_t tile_y, int64_t overlap, double upscale_amount,
                       int64_t out_channels);

}  // namespace comfy
