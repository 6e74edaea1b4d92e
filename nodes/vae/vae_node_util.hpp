#pragma once
// Input checks shared by the VAE encode nodes (VAEEncode, VAEEncodeForInpaint).
#include <ATen/core/Tensor.h>

#include <string>

#include "comfy/core/error.hpp"
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

}  // namespace comfy::vae_nodes
