// OpenCLIP text tower -> HF CLIP names (ComfyUI comfy/utils.py transformers_convert and
// clip_text_transformers_convert, v0.8.0; spec M1.1).
#include <ATen/ATen.h>

#include "comfy/models/family_clip.hpp"

namespace comfy {

bool is_openclip_layout(const TensorMap& sd) { return sd.count("transformer.resblocks.0.ln_1.weight") != 0; }

TensorMap openclip_to_clip_text(const TensorMap& sd) {
  static const std::map<std::string, std::string> top = {
      {"positional_embedding", "embeddings.position_embedding.weight"},
      {"token_embedding.weight", "embeddings.token_embedding.weight"},
      {"ln_final.weight", "final_layer_norm.weight"},
      {"ln_final.bias", "final_layer_norm.bias"},
  };
  static const std::map<std::string, std::string> block = {
      {"ln_1", "layer_norm1"},         {"ln_2", "layer_norm2"}, {"mlp.c_fc", "mlp.fc1"},
      {"mlp.c_proj", "mlp.fc2"},       {"attn.out_proj", "self_attn.out_proj"},
  };
  static const std::string resblocks = "transformer.resblocks.";
  TensorMap out;
  for (const auto& [k, t] : sd) {
    if (auto it = top.find(k); it != top.end()) {
      out[it->second] = t;
    } else if (k == "text_projection") {
      out["text_projection.weight"] = t.transpose(0, 1).contiguous();  // stored [W, P], used as x @ P
    } else if (k.compare(0, resblocks.size(), resblocks) == 0) {
      const std::string rest = k.substr(resblocks.size());  // "N.attn.in_proj_weight"
      const auto dot = rest.find('.');
      const std::string n = rest.substr(0, dot), name = dot == std::string::npos ? "" : rest.substr(dot + 1);
      const std::string to = "encoder.layers." + n + ".";
      bool done = false;
      for (const char* y : {"weight", "bias"}) {
        if (name == std::string("attn.in_proj_") + y) {  // [3W, ...] rows: q, k, v
          const int64_t w = t.size(0) / 3;
          out[to + "self_attn.q_proj." + y] = t.slice(0, 0, w);
          out[to + "self_attn.k_proj." + y] = t.slice(0, w, 2 * w);
          out[to + "self_attn.v_proj." + y] = t.slice(0, 2 * w, 3 * w);
          done = true;
        }
        for (const auto& [from, hf] : block)
          if (name == from + "." + y) {
            out[to + hf + "." + y] = t;
            done = true;
          }
      }
      if (!done) out[k] = t;
    } else {
      out[k] = t;  // text_projection.weight (already a Linear weight), logit_scale, ...
    }
  }
  return out;
}

TensorMap clip_text_tensors(const TensorMap& sd) {
  if (is_openclip_layout(sd)) return openclip_to_clip_text(sd);
  TensorMap rel;
  for (const std::string level : {"text_model.", ""}) {
    if (!sd.count(level + "embeddings.token_embedding.weight")) continue;
    for (const auto& [k, t] : sd)
      if (k.compare(0, level.size(), level) == 0) rel.emplace(k.substr(level.size()), t);
    break;
  }
  if (rel.empty()) return rel;
  if (auto it = sd.find("text_projection.weight"); it != sd.end()) {
    rel["text_projection.weight"] = it->second;
  } else if (auto old = sd.find("text_projection"); old != sd.end()) {  // old CLIPSave files: [W, P]
    rel["text_projection.weight"] = old->second.transpose(0, 1).contiguous();
  }
  return rel;
}

}  // namespace comfy
