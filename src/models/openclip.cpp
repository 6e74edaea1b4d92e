// OpenCLIP text tower <-> HF CLIP names (ComfyUI comfy/utils.py transformers_convert and
// clip_text_transformers_convert for loading, diffusers_convert.convert_text_enc_state_dict_v20 for
// saving; v0.8.0; spec M1.1).
#include <ATen/ATen.h>

#include <array>

#include "comfy/core/error.hpp"
#include "comfy/models/family_clip.hpp"

namespace comfy {

namespace {
// OpenCLIP name -> HF name, outside the blocks (both relative to the text tower).
const std::map<std::string, std::string> kTopNames = {
    {"positional_embedding", "embeddings.position_embedding.weight"},
    {"token_embedding.weight", "embeddings.token_embedding.weight"},
    {"ln_final.weight", "final_layer_norm.weight"},
    {"ln_final.bias", "final_layer_norm.bias"},
};
// ... and inside a block, before ".weight" / ".bias" (in_proj is split into / joined from q, k, v).
const std::map<std::string, std::string> kBlockNames = {
    {"ln_1", "layer_norm1"},         {"ln_2", "layer_norm2"}, {"mlp.c_fc", "mlp.fc1"},
    {"mlp.c_proj", "mlp.fc2"},       {"attn.out_proj", "self_attn.out_proj"},
};
const std::string kResblocks = "transformer.resblocks.", kLayers = "encoder.layers.";
const std::array<const char*, 3> kQkv{"q", "k", "v"};
}  // namespace

bool is_openclip_layout(const TensorMap& sd) { return sd.count("transformer.resblocks.0.ln_1.weight") != 0; }

TensorMap openclip_to_clip_text(const TensorMap& sd) {
  TensorMap out;
  for (const auto& [k, t] : sd) {
    if (auto it = kTopNames.find(k); it != kTopNames.end()) {
      out[it->second] = t;
    } else if (k == "text_projection") {
      out["text_projection.weight"] = t.transpose(0, 1).contiguous();  // stored [W, P], used as x @ P
    } else if (k.compare(0, kResblocks.size(), kResblocks) == 0) {
      const std::string rest = k.substr(kResblocks.size());  // "N.attn.in_proj_weight"
      const auto dot = rest.find('.');
      const std::string n = rest.substr(0, dot), name = dot == std::string::npos ? "" : rest.substr(dot + 1);
      const std::string to = kLayers + n + ".";
      bool done = false;
      for (const char* y : {"weight", "bias"}) {
        if (name == std::string("attn.in_proj_") + y) {  // [3W, ...] rows: q, k, v
          const int64_t w = t.size(0) / 3;
          for (int i = 0; i < 3; ++i)
            out[to + "self_attn." + kQkv[i] + "_proj." + y] = t.slice(0, i * w, (i + 1) * w);
          done = true;
        }
        for (const auto& [from, hf] : kBlockNames)
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

TensorMap clip_text_to_openclip(const TensorMap& rel) {
  TensorMap out;
  std::map<std::string, std::array<at::Tensor, 3>> qkv;  // "transformer.resblocks.N.attn.in_proj_weight" -> q, k, v
  for (const auto& [k, t] : rel) {
    bool done = false;
    if (k == "text_projection.weight") {
      out["text_projection"] = t.transpose(0, 1).contiguous();  // stored [W, P]
      done = true;
    }
    for (const auto& [oc, hf] : kTopNames)
      if (k == hf) {
        out[oc] = t;
        done = true;
      }
    if (!done && k.compare(0, kLayers.size(), kLayers) == 0) {
      const std::string rest = k.substr(kLayers.size());  // "N.self_attn.q_proj.weight"
      const auto dot = rest.find('.');
      const std::string n = rest.substr(0, dot), name = dot == std::string::npos ? "" : rest.substr(dot + 1);
      const std::string to = kResblocks + n + ".";
      for (const char* y : {"weight", "bias"}) {
        for (int i = 0; i < 3; ++i)
          if (name == std::string("self_attn.") + kQkv[i] + "_proj." + y) {
            qkv[to + "attn.in_proj_" + y][i] = t;
            done = true;
          }
        for (const auto& [oc, hf] : kBlockNames)
          if (name == hf + "." + y) {
            out[to + oc + "." + y] = t;
            done = true;
          }
      }
    }
    if (!done) throw Error("execution_error", "no OpenCLIP name for the CLIP text weight '" + k + "'");
  }
  for (const auto& [name, parts] : qkv) {
    for (const auto& p : parts)
      if (!p.defined()) throw Error("execution_error", "one of the q-k-v weights for " + name + " is missing");
    out[name] = at::cat({parts[0], parts[1], parts[2]}, 0);
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
