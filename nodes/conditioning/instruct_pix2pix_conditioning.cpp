// InstructPixToPixConditioning (comfy_extras/nodes_ip2p.py; nodes-control-upscale.md 3.4): the encoded
// image on every entry of both lists as concat_latent_image, and an empty latent of its size.
#include <ATen/ATen.h>

#include "comfy/core/node.hpp"
#include "comfy/core/types.hpp"
#include "comfy/models/vae.hpp"

namespace comfy {

void register_instruct_pix2pix_conditioning(Registry& r) {
  NodeSchema s("InstructPixToPixConditioning");
  s.display("InstructPixToPixConditioning").cat("conditioning/instructpix2pix")
      .input("positive", "CONDITIONING")
      .input("negative", "CONDITIONING")
      .input("vae", "VAE")
      .input("pixels", "IMAGE")
      .output("CONDITIONING", "positive")
      .output("CONDITIONING", "negative")
      .output("LATENT", "latent");
  r.add({s, [](const NodeInputs& in, ExecContext&) {
           at::Tensor pixels = in.tensor("pixels");  // [B, H, W, C]
           if (pixels.dim() != 4 || pixels.size(1) < 8 || pixels.size(2) < 8)
             fail("pixels", "expected an IMAGE [B, H, W, C] of at least 8x8 pixels");
           const int64_t H = pixels.size(1), W = pixels.size(2), h8 = H / 8 * 8, w8 = W / 8 * 8;
           if (h8 != H || w8 != W) pixels = pixels.narrow(1, (H % 8) / 2, h8).narrow(2, (W % 8) / 2, w8);
           if (pixels.size(3) > 3) pixels = pixels.narrow(3, 0, 3);
           auto concat = in.obj<Vae>("vae")->net->encode(pixels);  // raw latent [B, 4, h, w]
           NodeOutput out;
           for (const char* side : {"positive", "negative"}) {
             auto c = std::make_shared<Conditioning>();
             for (CondEntry e : in.obj<Conditioning>(side)->entries) {
               e.extra["concat_latent_image"] = Value(concat);
               c->entries.push_back(std::move(e));
             }
             out.values.push_back(Value(c));
           }
           auto latent = std::make_shared<Latent>();
           latent->samples = at::zeros_like(concat);
           out.values.push_back(Value(latent));
           return out;
         }});
}

}  // namespace comfy
