// VAEEncodeForInpaint — "VAE Encode (for Inpainting)" (workflow-nodes-files.md 9.25; ComfyUI nodes.py).
// The masked pixels are set to grey before encoding, and the mask, grown by a box of grow_mask_by
// pixels, becomes the latent's noise_mask: the samplers then only change the masked region.
#include <ATen/ATen.h>

#include <cmath>

#include "comfy/core/node.hpp"
#include "comfy/core/types.hpp"
#include "comfy/models/vae.hpp"
#include "vae_node_util.hpp"

namespace comfy {

void register_vae_encode_for_inpaint(Registry& r) {
  NodeSchema s("VAEEncodeForInpaint");
  s.display("VAE Encode (for Inpainting)").cat("latent/inpaint")
      .input("pixels", "IMAGE")
      .input("vae", "VAE")
      .input("mask", "MASK")
      .int_("grow_mask_by", 6, 0, 64, 1)
      .output("LATENT");
  r.add({s, [](const NodeInputs& in, ExecContext&) {
           auto vae = in.obj<Vae>("vae");
           const int64_t ratio = vae->net->downscale();
           const auto& image = vae_nodes::encodable_image(in, "pixels", ratio);
           const auto& mask_in = in.tensor("mask");
           if (mask_in.dim() < 2)
             fail("mask", "expected a MASK [B, H, W], got a tensor of " + std::to_string(mask_in.dim()) + " dims");
           const int64_t grow = in.i64("grow_mask_by");
           const int64_t H = image.size(1), W = image.size(2);
           const int64_t h = (H / ratio) * ratio, w = (W / ratio) * ratio;  // ComfyUI's x, y

           // [B or 1, 1, H, W] at the image's size (bilinear, align_corners false)
           auto mask = mask_in.to(at::kCPU, at::kFloat).reshape({-1, 1, mask_in.size(-2), mask_in.size(-1)});
           mask = at::upsample_bilinear2d(mask, {H, W}, false);
           auto pixels = image.to(at::kCPU, at::kFloat);
           if (h != H || w != W) {  // centre crop to whole VAE cells
             const int64_t oy = (H % ratio) / 2, ox = (W % ratio) / 2;
             pixels = pixels.slice(1, oy, oy + h).slice(2, ox, ox + w);
             mask = mask.slice(2, oy, oy + h).slice(3, ox, ox + w);
           }
           if (mask.size(0) != 1 && mask.size(0) != pixels.size(0))
             fail("mask", "mask batch " + std::to_string(mask.size(0)) + " does not match the image batch " +
                              std::to_string(pixels.size(0)));

           // Grow the mask a few pixels so the seam lands inside the sampled region.
           at::Tensor mask_erosion = mask;
           if (grow > 0) {
             auto kernel = at::ones({1, 1, grow, grow}, at::kFloat);
             const int64_t pad = int64_t(std::ceil(double(grow - 1) / 2.0));
             mask_erosion = at::clamp(at::conv2d(mask.round(), kernel, {}, {1, 1}, {pad, pad}), 0, 1);
           }

           // Masked pixels become 0.5 (grey) in the three colour channels.
           auto keep = (1.0 - mask.round()).squeeze(1).unsqueeze(-1);  // [B or 1, h, w, 1]
           auto rgb = (pixels.slice(3, 0, 3) - 0.5) * keep + 0.5;
           if (pixels.size(3) > 3) rgb = at::cat({rgb, pixels.slice(3, 3)}, 3);

           auto l = std::make_shared<Latent>();
           l->samples = vae->net->encode(rgb);
           l->noise_mask = mask_erosion.slice(2, 0, h).slice(3, 0, w).round().contiguous();
           return NodeOutput{{Value(l)}};
         }});
}

}  // namespace comfy
