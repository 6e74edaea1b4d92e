// InpaintModelConditioning (ComfyUI nodes.py; spec M7): the image with the masked area greyed out,
// encoded, and the mask go into both conditionings as concat_latent_image / concat_mask (the
// inpainting UNet's extra input channels); the latent is the unmasked image, with the mask as its
// noise_mask when noise_mask is on.
#include <ATen/ATen.h>

#include "comfy/core/node.hpp"
#include "comfy/core/types.hpp"
#include "comfy/models/vae.hpp"
#include "vae_node_util.hpp"

namespace comfy {

namespace {
std::shared_ptr<Conditioning> with_concat(const Conditioning& c, const at::Tensor& latent, const at::Tensor& mask) {
  auto out = std::make_shared<Conditioning>(c);
  for (auto& e : out->entries) {
    e.extra["concat_latent_image"] = Value(latent);
    e.extra["concat_mask"] = Value(mask);
  }
  return out;
}
}  // namespace

void register_inpaint_model_conditioning(Registry& r) {
  NodeSchema s("InpaintModelConditioning");
  s.display("InpaintModelConditioning").cat("conditioning/inpaint")
      .input("positive", "CONDITIONING")
      .input("negative", "CONDITIONING")
      .input("vae", "VAE")
      .input("pixels", "IMAGE")
      .input("mask", "MASK")
      .bool_("noise_mask", true)
      .output("CONDITIONING", "positive").output("CONDITIONING", "negative").output("LATENT", "latent");
  r.add({s, [](const NodeInputs& in, ExecContext&) {
           auto vae = in.obj<Vae>("vae");
           const auto& image = vae_nodes::encodable_image(in, "pixels", vae->net->downscale());
           const auto& mask_in = in.tensor("mask");
           if (mask_in.dim() < 2)
             fail("mask", "expected a MASK [B, H, W], got a tensor of " + std::to_string(mask_in.dim()) + " dims");
           const int64_t H = image.size(1), W = image.size(2);
           const int64_t h = (H / 8) * 8, w = (W / 8) * 8;  // upstream crops to 8 whatever the VAE

           auto mask = mask_in.to(at::kCPU, at::kFloat).reshape({-1, 1, mask_in.size(-2), mask_in.size(-1)});
           mask = at::upsample_bilinear2d(mask, {H, W}, false);  // [B or 1, 1, H, W]
           const auto orig = image.to(at::kCPU, at::kFloat);
           auto pixels = orig;
           if (h != H || w != W) {
             const int64_t oy = (H % 8) / 2, ox = (W % 8) / 2;
             pixels = pixels.slice(1, oy, oy + h).slice(2, ox, ox + w);
             mask = mask.slice(2, oy, oy + h).slice(3, ox, ox + w);
           }
           if (mask.size(0) != 1 && mask.size(0) != pixels.size(0))
             fail("mask", "mask batch " + std::to_string(mask.size(0)) + " does not match the image batch " +
                              std::to_string(pixels.size(0)));
           // Masked pixels become 0.5 in the three colour channels.
           auto keep = (1.0 - mask.round()).squeeze(1).unsqueeze(-1);  // [B or 1, h, w, 1]
           auto rgb = (pixels.slice(3, 0, 3) - 0.5) * keep + 0.5;
           if (pixels.size(3) > 3) rgb = at::cat({rgb, pixels.slice(3, 3)}, 3);

           const at::Tensor concat_latent = vae->net->encode(rgb);
           auto latent = std::make_shared<Latent>();
           latent->samples = vae->net->encode(orig);
           mask = mask.contiguous();
           if (in.boolean("noise_mask")) latent->noise_mask = mask;
           return NodeOutput{{Value(with_concat(*in.obj<Conditioning>("positive"), concat_latent, mask)),
                              Value(with_concat(*in.obj<Conditioning>("negative"), concat_latent, mask)),
                              Value(latent)}};
         }});
}

}  // namespace comfy
