// Impact's bridge nodes, headless (nodes-companions.md 4): ImageSender (a preview plus an "img-send" event),
// ImageReceiver (LoadImage, or the PNG data-URL saved in the workflow), PreviewBridgeLatent (a preview;
// the latent passes through with a full mask, since no one can paint a mask without the UI).
#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <limits>

#include "comfy/core/node.hpp"
#include "comfy/core/types.hpp"
#include "comfy/io/contact_sheet.hpp"
#include "comfy/io/image.hpp"
#include "comfy/models/vae.hpp"
#include "image/save_images.hpp"

namespace comfy {

namespace {

const char* kImpact = "custom_nodes.ComfyUI-Impact-Pack";

std::optional<std::string> base64_decode(const std::string& s) {
  static const std::string chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    if (c == '=' || std::isspace((unsigned char)c)) continue;
    auto p = chars.find(c);
    if (p == std::string::npos) return std::nullopt;
    acc = (acc << 6) | uint32_t(p);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(char((acc >> bits) & 0xFF));
    }
  }
  return out;
}

// ImageReceiver with save_to_workflow: the image data-URL kept in the workflow; bad data gives an empty
// 64x64 image and mask with a warning, as upstream.
NodeOutput receive_data_url(const std::string& data) {
  auto comma = data.find(',');
  auto bytes = base64_decode(comma == std::string::npos ? data : data.substr(comma + 1));
  if (bytes) {
    try {
      auto img = io::decode_image(*bytes, "image_data");
      at::Tensor mask = img.alpha ? (1.0f - *img.alpha).unsqueeze(0) : at::zeros({1, 64, 64});
      return NodeOutput{{Value(img.rgb.unsqueeze(0)), Value(mask)}};
    } catch (const std::exception& e) {
      spdlog::warn("[ImageReceiver] Invalid image data provided: {}", e.what());
    }
  } else {
    spdlog::warn("[ImageReceiver] Invalid image data provided (not base64)");
  }
  return NodeOutput{{Value(at::zeros({1, 64, 64, 3})), Value(at::zeros({1, 64, 64}))}};
}

bool sixteen_channel_method(const std::string& m) {
  return m == "Latent2RGB-SD3" || m == "Latent2RGB-SC-Prior" || m == "Latent2RGB-FLUX.1" || m == "TAEF1" || m == "TAESD3";
}

NodeOutput preview_bridge_latent(const NodeInputs& in, ExecContext& ctx) {
  auto latent = in.obj<Latent>("latent");
  const std::string method = in.str("preview_method");
  auto vae = in.obj_opt<Vae>("vae_opt");
  const int64_t channels = latent->samples.size(1);
  if (!vae && channels != (sixteen_channel_method(method) ? 16 : 4))
    fail("preview_method", "The latent has " + std::to_string(channels) + " channels; preview_method '" + method +
                               "' needs " + (sixteen_channel_method(method) ? "16" : "4") + " (or connect vae_opt)");
  // The preview: VAE decode, else the SD1.5 linear latent->RGB approximation (a preview only).
  at::Tensor image = vae ? vae->net->decode(latent->samples)
                         : channels == 4 ? io::sd15_latent_to_rgb(latent->samples)
                                         : ((latent->samples.mean(1, true) + 1) / 2).clamp(0, 1).movedim(1, -1).repeat({1, 1, 1, 3});
  NodeOutput out = save_preview_images(image.to(at::kFloat).cpu(), ctx);
  at::Tensor mask = latent->noise_mask ? latent->noise_mask->squeeze(0)
                                       : at::ones({1, latent->samples.size(2), latent->samples.size(3)});
  out.values = {Value(latent), Value(mask)};
  // block=true with an empty (all-ones) mask stops the branch: comfy-native has no ExecutionBlocker.
  if (in.has("block") && in.boolean("block") && !latent->noise_mask)
    fail("block", "block is on and no mask was painted (headless): ComfyUI stops this branch here");
  return out;
}

}  // namespace

void register_bridge_nodes(Registry& r) {
  NodeSchema snd("ImageSender");
  snd.display("Image Sender").cat("ImpactPack/Util").module(kImpact).output_node_()
      .input("images", "IMAGE")
      .string_("filename_prefix", "ImgSender")
      .int_("link_id", 0, 0, std::numeric_limits<int64_t>::max())
      .hidden().hidden_input("prompt", "PROMPT").hidden_input("extra_pnginfo", "EXTRA_PNGINFO");
  r.add({snd, [](const NodeInputs& in, ExecContext& ctx) {
           NodeOutput out = save_preview_images(in.tensor("images"), ctx);
           ctx.emit("img-send", {{"link_id", int64_t(in.int_("link_id"))}, {"images", out.ui["images"]}});
           return out;
         }});

  const NodeDef* load_image = r.find("LoadImage");
  NodeSchema rcv("ImageReceiver");
  rcv.display("Image Receiver").cat("ImpactPack/Util").module(kImpact);
  if (load_image) {
    rcv.inputs.push_back(load_image->schema.inputs.at(0));  // the LoadImage file combo
    rcv.inputs.back().image_upload = false;                 // saved workflows hold no upload slot here
  } else {
    rcv.string_("image", "");
  }
  rcv.int_("link_id", 0, 0, std::numeric_limits<int64_t>::max())
      .bool_("save_to_workflow", false)
      .string_("image_data", "", true)
      .bool_("trigger_always", false, "enable", "disable")
      .output("IMAGE").output("MASK");
  NodeDef rdef{rcv, [](const NodeInputs& in, ExecContext& ctx) {
                 if (in.boolean("save_to_workflow")) return receive_data_url(in.str("image_data"));
                 const NodeDef* li = Registry::global().find("LoadImage");
                 if (!li) fail("image", "LoadImage is not available");
                 return li->execute(in, ctx);
               }};
  if (load_image) {
    rdef.validate = [v = load_image->validate](const std::string& name, const Value& val, const RuntimeConfig& cfg) {
      if (val.is_string() && val.as_string() == "#DATA") return std::string();
      if (val.is_string() && (val.as_string().rfind('/', 0) == 0 || val.as_string().find("..") != std::string::npos))
        return "Invalid image file: " + val.as_string();
      return v ? v(name, val, cfg) : std::string();
    };
    rdef.validate_inputs = {"image"};
  }
  rdef.is_changed = [](const NodeInputs& in, const RuntimeConfig&) -> std::string {
    if (in.has("trigger_always") && in.boolean("trigger_always")) throw std::runtime_error("NaN: always run");
    return in.has("image") ? in.str("image") + "\x1f" + (in.has("image_data") ? in.str("image_data") : "") : "";
  };
  r.add(std::move(rdef));

  NodeSchema pb("PreviewBridgeLatent");
  pb.display("Preview Bridge (Latent)").cat("ImpactPack/Util").module(kImpact).output_node_()
      .input("latent", "LATENT")
      .string_("image", "")
      .combo("preview_method", {"Latent2RGB-FLUX.1", "Latent2RGB-SDXL", "Latent2RGB-SD15", "Latent2RGB-SD3",
                                "Latent2RGB-SD-X4", "Latent2RGB-Playground-2.5", "Latent2RGB-SC-Prior",
                                "Latent2RGB-SC-B", "TAEF1", "TAESDXL", "TAESD15", "TAESD3"})
      .optional()
      .input("vae_opt", "VAE")
      .bool_("block", false, "if_empty_mask", "never")
      .combo("restore_mask", {"never", "always", "if_same_size"})
      .hidden().hidden_input("unique_id", "UNIQUE_ID").hidden_input("prompt", "PROMPT")
      .hidden_input("extra_pnginfo", "EXTRA_PNGINFO");
  pb.output("LATENT").output("MASK");
  r.add({pb, preview_bridge_latent});
}

}  // namespace comfy
