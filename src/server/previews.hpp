#pragma once
// Latent previews as ComfyUI sends them over the websocket (server spec 4.4): the latent2rgb
// approximation as a JPEG, framed as binary event 1 (PREVIEW_IMAGE) or 4 (PREVIEW_IMAGE_WITH_METADATA).
#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <string>

namespace comfy::server {

// The first batch item of a model-space x0 [N, 4, h, w] as a JPEG (quality 95) no larger than
// max_size on its longest side; "" for latent formats without latent2rgb factors (C != 4).
std::string latent2rgb_jpeg(const at::Tensor& x0, int64_t max_size = 512);
// [u32 BE 1][u32 BE 1 = JPEG][jpeg]
std::string preview_frame(const std::string& jpeg);
// [u32 BE 4][u32 BE len][metadata JSON][jpeg]
std::string preview_frame_with_metadata(const std::string& jpeg, const nlohmann::ordered_json& metadata);

}  // namespace comfy::server
