// VAEDecode — "VAE Decode" and VAEDecodeTiled — "VAE Decode (Tiled)" (workflow-nodes-files.md 9.14, 9.15)
#include <ATen/ATen.h>

#include "comfy/core/node.hpp"
#include "comfy/core/types.hpp"
#include "comfy/models/vae.hpp"
#include "vae_node_util.hpp"

namespace comfy {

void register_vae_decode(Registry& r) {
  NodeSchema s("VAEDecode");
  s.display("VAE Decode").cat("latent")
      .desc("Decodes latent images back into pixel space images.")
      .input("samples", "LATENT").tip("The latent to be decoded.")
      .input("vae", "VAE").tip("The VAE model used for decoding the latent.")
      .output("IMAGE");
  r.add({s, [](const NodeInputs& in, ExecContext& ctx) {
           auto latent = in.obj<Latent>("samples");
           auto vae = in.obj<Vae>("vae");
           vae_nodes::require_decodable(ctx, latent->samples, vae->net->downscale());
           // The net falls back to tiled decoding by itself when the device runs out of memory.
           return NodeOutput{{Value(vae->net->decode(latent->samples))}};
         }});

  NodeSchema t("VAEDecodeTiled");
  t.display("VAE Decode (Tiled)").cat("_for_testing")
      .input("samples", "LATENT")
      .input("vae", "VAE")
      .int_("tile_size", 512, 64, 4096, 32)
      .int_("overlap", 64, 0, 4096, 32)
      .int_("temporal_size", 64, 8, 4096, 4).tip("Only used for video VAEs: Amount of frames to decode at a time.")
      .int_("temporal_overlap", 8, 4, 4096, 4).tip("Only used for video VAEs: Amount of frames to overlap.")
      .output("IMAGE");
  r.add({t, [](const NodeInputs& in, ExecContext& ctx) {
           auto latent = in.obj<Latent>("samples");
           auto vae = in.obj<Vae>("vae");
           vae_nodes::require_decodable(ctx, latent->samples, vae->net->downscale());
           int64_t tile = in.i64("tile_size");
           int64_t overlap = in.has("overlap") ? in.i64("overlap") : 64;
           if (tile < overlap * 4) overlap = tile / 4;
           const int64_t c = vae->net->downscale();
           return NodeOutput{{Value(vae->net->decode_tiled(latent->samples, tile / c, tile / c, overlap / c))}};
         }});
}

void register_vae_encode(Registry& r) {
  NodeSchema s("VAEEncode");
  s.display("VAE Encode").cat("latent")
      .input("pixels", "IMAGE")
      .input("vae", "VAE")
      .output("LATENT");
  r.add({s, [](const NodeInputs& in, ExecContext& ctx) {
           auto vae = in.obj<Vae>("vae");
           const auto& pixels = vae_nodes::encodable_image(in, "pixels", vae->net->downscale());
           vae_nodes::require_encodable(ctx, pixels, "pixels");
           auto l = std::make_shared<Latent>();
           l->samples = vae->net->encode(pixels);
           return NodeOutput{{Value(l)}};
         }});
}

}  // namespace comfy
