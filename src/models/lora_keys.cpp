// LoRA module names -> weight keys (ComfyUI comfy/lora.py model_lora_keys_unet / model_lora_keys_clip,
// comfy/utils.py unet_to_diffusers). The only place that knows the kohya and diffusers layouts.
#include <string>
#include <utility>
#include <vector>

#include "comfy/models/lora.hpp"

namespace comfy {

namespace {

const std::vector<std::string> kAttentions = {"proj_in.weight", "proj_in.bias", "proj_out.weight",
                                              "proj_out.bias", "norm.weight", "norm.bias"};
const std::vector<std::string> kTransformerBlock = {
    "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias", "norm3.weight", "norm3.bias",
    "attn1.to_q.weight", "attn1.to_k.weight", "attn1.to_v.weight", "attn1.to_out.0.weight", "attn1.to_out.0.bias",
    "attn2.to_q.weight", "attn2.to_k.weight", "attn2.to_v.weight", "attn2.to_out.0.weight", "attn2.to_out.0.bias",
    "ff.net.0.proj.weight", "ff.net.0.proj.bias", "ff.net.2.weight", "ff.net.2.bias"};
// LDM ResBlock name -> diffusers resnet name
const std::vector<std::pair<std::string, std::string>> kResnet = {
    {"in_layers.2.weight", "conv1.weight"},          {"in_layers.2.bias", "conv1.bias"},
    {"emb_layers.1.weight", "time_emb_proj.weight"}, {"emb_layers.1.bias", "time_emb_proj.bias"},
    {"out_layers.3.weight", "conv2.weight"},         {"out_layers.3.bias", "conv2.bias"},
    {"skip_connection.weight", "conv_shortcut.weight"}, {"skip_connection.bias", "conv_shortcut.bias"},
    {"in_layers.0.weight", "norm1.weight"},          {"in_layers.0.bias", "norm1.bias"},
    {"out_layers.0.weight", "norm2.weight"},         {"out_layers.0.bias", "norm2.bias"}};
// LDM -> diffusers for the blocks outside the levels
const std::vector<std::pair<std::string, std::string>> kBasic = {
    {"label_emb.0.0.weight", "class_embedding.linear_1.weight"}, {"label_emb.0.0.bias", "class_embedding.linear_1.bias"},
    {"label_emb.0.2.weight", "class_embedding.linear_2.weight"}, {"label_emb.0.2.bias", "class_embedding.linear_2.bias"},
    {"label_emb.0.0.weight", "add_embedding.linear_1.weight"},   {"label_emb.0.0.bias", "add_embedding.linear_1.bias"},
    {"label_emb.0.2.weight", "add_embedding.linear_2.weight"},   {"label_emb.0.2.bias", "add_embedding.linear_2.bias"},
    {"input_blocks.0.0.weight", "conv_in.weight"},               {"input_blocks.0.0.bias", "conv_in.bias"},
    {"out.0.weight", "conv_norm_out.weight"},                    {"out.0.bias", "conv_norm_out.bias"},
    {"out.2.weight", "conv_out.weight"},                         {"out.2.bias", "conv_out.bias"},
    {"time_embed.0.weight", "time_embedding.linear_1.weight"},   {"time_embed.0.bias", "time_embedding.linear_1.bias"},
    {"time_embed.2.weight", "time_embedding.linear_2.weight"},   {"time_embed.2.bias", "time_embedding.linear_2.bias"}};
// CLIP layer module -> kohya suffix (LORA_CLIP_MAP order)
const std::vector<std::pair<std::string, std::string>> kClip = {
    {"mlp.fc1", "mlp_fc1"}, {"mlp.fc2", "mlp_fc2"}, {"self_attn.k_proj", "self_attn_k_proj"},
    {"self_attn.q_proj", "self_attn_q_proj"}, {"self_attn.v_proj", "self_attn_v_proj"},
    {"self_attn.out_proj", "self_attn_out_proj"}};

std::string num_str(int64_t v) { return std::to_string(v); }
std::string dots_to_underscores(std::string s) {
  for (auto& c : s)
    if (c == '.') c = '_';
  return s;
}
bool key_ends_with(const std::string& s, const std::string& e) {
  return s.size() >= e.size() && s.compare(s.size() - e.size(), e.size(), e) == 0;
}
std::string strip_weight(const std::string& k) { return k.substr(0, k.size() - 7); }  // ".weight"

// model_lora_keys_clip: layer by layer, module by module, the clip_h, clip_l and clip_g weights present.
// A later assignment of the same name wins (lora_te_ names clip_l where clip_h also exists); SDXL's
// CLIP-G takes the te2 names once a CLIP-L was seen, a lone CLIP-G (the refiner) the te names.
void add_clip_keys(const TensorMap& w, std::map<std::string, LoraKeyTarget>& km) {
  auto set = [&](const std::string& name, const std::string& key) { km[name] = {LoraTarget::Clip, key}; };
  for (auto& [k, _] : w)  // the generic form: "text_encoders." + the state-dict name
    if (key_ends_with(k, ".weight")) set("text_encoders." + strip_weight(k), k);
  bool clip_l_present = false;
  for (int b = 0; b < 32; ++b) {
    for (auto& [mod, kohya] : kClip) {
      const std::string rest = "text_model.encoder.layers." + num_str(b) + "." + mod;
      const std::string te = "_text_model_encoder_layers_" + num_str(b) + "_" + kohya;
      for (const char* enc : {"clip_h", "clip_l"}) {
        const std::string k = std::string(enc) + ".transformer." + rest + ".weight";
        if (!w.count(k)) continue;
        set("lora_te" + te, k);
        set("lora_te1" + te, k);
        set("text_encoder." + rest, k);
        clip_l_present |= std::string(enc) == "clip_l";
      }
      const std::string g = "clip_g.transformer." + rest + ".weight";
      if (!w.count(g)) continue;
      if (clip_l_present) {
        set("lora_te2" + te, g);
        set("text_encoder_2." + rest, g);
      } else {
        set("lora_te" + te, g);
        set("text_encoder." + rest, g);
        set("lora_prior_te" + te, g);
      }
    }
  }
}

}  // namespace

std::map<std::string, std::string> unet_to_diffusers(const UNetConfig& cfg) {
  std::map<std::string, std::string> m;
  const size_t levels = cfg.channel_mult.size();
  std::vector<int64_t> depth = cfg.transformer_depth, depth_out = cfg.transformer_depth_output;
  size_t dpos = 0;
  for (size_t x = 0; x < levels; ++x) {
    int64_t n = 1 + (cfg.num_res_blocks[x] + 1) * int64_t(x);
    for (int64_t i = 0; i < cfg.num_res_blocks[x]; ++i) {
      for (auto& [ldm, dif] : kResnet)
        m["down_blocks." + num_str(x) + ".resnets." + num_str(i) + "." + dif] = "input_blocks." + num_str(n) + ".0." + ldm;
      const int64_t nt = dpos < depth.size() ? depth[dpos++] : 0;
      if (nt > 0) {
        for (auto& b : kAttentions)
          m["down_blocks." + num_str(x) + ".attentions." + num_str(i) + "." + b] = "input_blocks." + num_str(n) + ".1." + b;
        for (int64_t t = 0; t < nt; ++t)
          for (auto& b : kTransformerBlock)
            m["down_blocks." + num_str(x) + ".attentions." + num_str(i) + ".transformer_blocks." + num_str(t) + "." + b] =
                "input_blocks." + num_str(n) + ".1.transformer_blocks." + num_str(t) + "." + b;
      }
      ++n;
    }
    for (const char* k : {"weight", "bias"})
      m["down_blocks." + num_str(x) + ".downsamplers.0.conv." + k] = "input_blocks." + num_str(n) + ".0.op." + k;
  }
  for (auto& b : kAttentions) m["mid_block.attentions.0." + b] = "middle_block.1." + b;
  for (int64_t t = 0; t < cfg.transformer_depth_middle; ++t)
    for (auto& b : kTransformerBlock)
      m["mid_block.attentions.0.transformer_blocks." + num_str(t) + "." + b] = "middle_block.1.transformer_blocks." + num_str(t) + "." + b;
  for (int i = 0; i < 2; ++i)
    for (auto& [ldm, dif] : kResnet) m["mid_block.resnets." + num_str(i) + "." + dif] = "middle_block." + num_str(i * 2) + "." + ldm;

  std::vector<int64_t> rev(cfg.num_res_blocks.rbegin(), cfg.num_res_blocks.rend());
  for (size_t x = 0; x < levels; ++x) {
    int64_t n = (rev[x] + 1) * int64_t(x);
    const int64_t l = rev[x] + 1;
    for (int64_t i = 0; i < l; ++i) {
      int64_t c = 0;
      for (auto& [ldm, dif] : kResnet)
        m["up_blocks." + num_str(x) + ".resnets." + num_str(i) + "." + dif] = "output_blocks." + num_str(n) + ".0." + ldm;
      ++c;
      int64_t nt = 0;
      if (!depth_out.empty()) {
        nt = depth_out.back();
        depth_out.pop_back();
      }
      if (nt > 0) {
        ++c;
        for (auto& b : kAttentions)
          m["up_blocks." + num_str(x) + ".attentions." + num_str(i) + "." + b] = "output_blocks." + num_str(n) + ".1." + b;
        for (int64_t t = 0; t < nt; ++t)
          for (auto& b : kTransformerBlock)
            m["up_blocks." + num_str(x) + ".attentions." + num_str(i) + ".transformer_blocks." + num_str(t) + "." + b] =
                "output_blocks." + num_str(n) + ".1.transformer_blocks." + num_str(t) + "." + b;
      }
      if (i == l - 1)
        for (const char* k : {"weight", "bias"})
          m["up_blocks." + num_str(x) + ".upsamplers.0.conv." + k] = "output_blocks." + num_str(n) + "." + num_str(c) + ".conv." + k;
      ++n;
    }
  }
  for (auto& [ldm, dif] : kBasic) m[dif] = ldm;
  return m;
}

std::map<std::string, LoraKeyTarget> lora_key_map(const UNetConfig* unet_cfg, const TensorMap* unet_weights,
                                                  const TensorMap* clip_weights) {
  std::map<std::string, LoraKeyTarget> km;
  if (unet_weights) {
    for (auto& [k, _] : *unet_weights) {
      if (!key_ends_with(k, ".weight")) continue;
      const std::string base = strip_weight(k);
      km["lora_unet_" + dots_to_underscores(base)] = {LoraTarget::UNet, k};  // kohya, LDM names
      km["diffusion_model." + base] = {LoraTarget::UNet, k};                  // generic
    }
    if (unet_cfg) {
      for (auto& [dif, ldm] : unet_to_diffusers(*unet_cfg)) {
        if (!key_ends_with(dif, ".weight") || !unet_weights->count(ldm)) continue;
        const std::string base = strip_weight(dif);
        km["lora_unet_" + dots_to_underscores(base)] = {LoraTarget::UNet, ldm};  // kohya, diffusers names
        km["lycoris_" + dots_to_underscores(base)] = {LoraTarget::UNet, ldm};
        std::string d = base;
        for (size_t p = d.find(".to_"); p != std::string::npos; p = d.find(".to_", p + 14)) d.replace(p, 4, ".processor.to_");
        if (key_ends_with(d, ".to_out.0")) d = d.substr(0, d.size() - 2);
        km[d] = {LoraTarget::UNet, ldm};          // diffusers
        km["unet." + d] = {LoraTarget::UNet, ldm};
        km["unet." + base] = {LoraTarget::UNet, ldm};  // PEFT
      }
    }
  }
  if (clip_weights) add_clip_keys(*clip_weights, km);
  return km;
}

}  // namespace comfy
