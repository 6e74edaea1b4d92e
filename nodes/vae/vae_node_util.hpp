#pragma once
// Input checks shared by the VAE encode nodes (VAEEncode, VAEEncodeForInpaint).
#include <ATen/core/Tensor.h>

#include <string>

#include "comfy/core/error.hpp"
#include "comfy/core/memory_budget.hpp"
#include "comfy/core/node.hpp"

namespace comfy::vae_nodes {

// The IMAGE input `name`, [B, H, W, C>=3], at least one VAE cell (`ratio` pixels) wide and high.
inline const at::Tensor& encodable_image(const NodeInputs& in, const char* name, int64_t ratio) {
  const auto& image = in.tensor(name);
  if (image.dim() != 4 || image.size(3) < 3)
    fail(name, "expected an IMAGE [B, H, W, 3], got a tensor of " + std::to_string(image.dim()) + " dims");
  if (image.size(1) < ratio || image.size(2) < ratio)
    fail(name, "image of " + std::to_string(image.size(2)) + "x" + std::to_string(image.size(1)) +
                   " is smaller than the VAE's " + std::to_string(ratio) + " pixel cell");
  return image;
}

// Decoding `latent` [B, C, h, w] makes pictures [B, H, W, 3] (H = h * ratio); the network's widest
// activation is 128 channels at full resolution, and tiled decoding keeps three tilings of the output.
// Either must fit: the smaller of the two is the least the decode needs.
inline void require_decodable(const ExecContext& ctx, const at::Tensor& latent, int64_t ratio) {
  if (latent.dim() < 4) return;
  const int64_t b = latent.size(0), h = latent.size(-2) * ratio, w = latent.size(-1) * ratio;
  const double image = float_tensor_bytes({b, h, w, 3});
  const double regular = 3 * float_tensor_bytes({1, 128, h, w}) + 2 * image, tiled = 4 * image;
  require_memory(ctx.cfg(), std::min(regular, tiled),
                 "decoding a latent of " + std::to_string(b) + " x " + std::to_string(w) + "x" + std::to_string(h) +
                     " pixels",
                 "samples");
}

// Encoding pictures [B, H, W, C]: the encoder's widest activation is 128 channels at full resolution.
inline void require_encodable(const ExecContext& ctx, const at::Tensor& image, const char* name) {
  const int64_t b = image.size(0), h = image.size(1), w = image.size(2);
  require_memory(ctx.cfg(), 3 * float_tensor_bytes({1, 128, h, w}) + float_tensor_bytes({b, 3, h, w}),
                 "encoding " + std::to_string(b) + " x " + std::to_string(w) + "x" + std::to_string(h) + " pixels", name);
}

}  // namespace comfy::vae_nodes
