#include "comfy/models/clip_save_layout.hpp"

#include <ATen/ATen.h>

#include <array>
#include <set>

#include "comfy/core/error.hpp"
#include "comfy/models/clip.hpp"

namespace comfy {

namespace {

using Tensors = std::map<std::string, at::Tensor>;

// SDClipModel.logit_scale: a parameter ComfyUI creates as float32 4.6055 and never loads from a file,
// so a saved checkpoint always carries this value.
constexpr double kLogitScale = 4.6055;

[[noreturn]] void cannot(const std::string& what) {
  throw Error("execution_error", "this CLIP cannot be saved in a checkpoint: " + what);
}

bool starts(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

// The HF-named weights of one encoder, keyed relative to its text_model (text_projection.weight beside).
Tensors encoder_weights(const Tensors& clip_sd, const std::string& encoder) {
  Tensors out;
  for (const auto& [k, t] : clip_sd)
    if (starts(k, encoder + ".")) {
      const std::string rel = clip_relative_key(encoder, k);
      if (rel.empty()) cannot("unexpected weight '" + k + "'");
      out.emplace(rel, t);
    }
  return out;
}

// CLIP-L in the HF layout under `prefix` (text_model.*); text_projection is not saved (ComfyUI pops it).
void put_hf(Tensors& out, const Tensors& w, const std::string& prefix) {
  for (const auto& [rel, t] : w)
    if (rel != "text_projection.weight") out[prefix + "text_model." + rel] = t;
}

// OpenCLIP name of one HF layer weight (diffusers_convert.textenc_conversion_lst, read backwards).
std::string openclip_layer_name(const std::string& rest) {
  static const std::array<std::pair<const char*, const char*>, 5> table{{
      {"layer_norm1.", "ln_1."}, {"layer_norm2.", "ln_2."}, {"mlp.fc1.", "mlp.c_fc."},
      {"mlp.fc2.", "mlp.c_proj."}, {"self_attn.out_proj.", "attn.out_proj."}}};
  for (const auto& [hf, oc] : table)
    if (starts(rest, hf)) return oc + rest.substr(std::string(hf).size());
  return "";
}

// An OpenCLIP text encoder (ViT-H / ViT-bigG) under `prefix` (`...model.`): q/k/v joined into in_proj,
// text_projection transposed, logit_scale added (convert_text_enc_state_dict_v20).
void put_openclip(Tensors& out, const Tensors& w, const std::string& prefix) {
  std::map<std::string, std::array<at::Tensor, 3>> qkv;  // "resblocks.N.attn.in_proj_weight" -> q, k, v
  for (const auto& [rel, t] : w) {
    if (rel == "embeddings.token_embedding.weight") out[prefix + "token_embedding.weight"] = t;
    else if (rel == "embeddings.position_embedding.weight") out[prefix + "positional_embedding"] = t;
    else if (starts(rel, "final_layer_norm.")) out[prefix + "ln_final." + rel.substr(17)] = t;
    else if (rel == "text_projection.weight") out[prefix + "text_projection"] = t.t().contiguous();
    else if (starts(rel, "encoder.layers.")) {
      const auto dot = rel.find('.', 15);
      if (dot == std::string::npos) cannot("unexpected weight '" + rel + "'");
      const std::string block = prefix + "transformer.resblocks." + rel.substr(15, dot - 15) + ".";
      const std::string rest = rel.substr(dot + 1);
      static const std::array<const char*, 3> proj{"self_attn.q_proj.", "self_attn.k_proj.", "self_attn.v_proj."};
      bool joined = false;
      for (size_t i = 0; i < proj.size(); ++i)
        if (starts(rest, proj[i])) {
          const std::string kind = rest.substr(std::string(proj[i]).size());  // weight / bias
          qkv[block + "attn.in_proj_" + kind][i] = t;
          joined = true;
        }
      if (joined) continue;
      const std::string name = openclip_layer_name(rest);
      if (name.empty()) cannot("unexpected weight '" + rel + "'");
      out[block + name] = t;
    } else {
      cannot("unexpected weight '" + rel + "'");
    }
  }
  for (const auto& [name, parts] : qkv) {
    for (const auto& p : parts)
      if (!p.defined()) cannot("one of the q-k-v weights for " + name + " is missing");
    out[name] = at::cat({parts[0], parts[1], parts[2]}, 0);
  }
  out[prefix + "logit_scale"] = at::scalar_tensor(kLogitScale, at::kFloat);
}

}  // namespace

Tensors clip_checkpoint_tensors(const Tensors& clip_sd, bool keep_fp32) {
  std::set<std::string> encoders;
  for (const auto& [k, t] : clip_sd) {
    const auto dot = k.find('.');
    if (!starts(k, "clip_") || dot == std::string::npos) cannot("unexpected weight '" + k + "'");
    encoders.insert(k.substr(0, dot));
  }
  Tensors out;
  const auto has = [&](const char* e) { return encoders.count(e) != 0; };
  if (encoders == std::set<std::string>{"clip_l"}) {
    put_hf(out, encoder_weights(clip_sd, "clip_l"), "cond_stage_model.transformer.");
  } else if (encoders == std::set<std::string>{"clip_h"}) {
    put_openclip(out, encoder_weights(clip_sd, "clip_h"), "cond_stage_model.model.");
  } else if (encoders == std::set<std::string>{"clip_g", "clip_l"}) {
    put_hf(out, encoder_weights(clip_sd, "clip_l"), "conditioner.embedders.0.transformer.");
    out["conditioner.embedders.0.transformer.text_model.embeddings.position_ids"] =
        at::arange(77, at::kLong).unsqueeze(0);
    put_openclip(out, encoder_weights(clip_sd, "clip_g"), "conditioner.embedders.1.model.");
  } else if (encoders == std::set<std::string>{"clip_g"}) {
    put_openclip(out, encoder_weights(clip_sd, "clip_g"), "conditioner.embedders.0.model.");
  } else {
    std::string found;
    for (const auto& e : encoders) found += (found.empty() ? "" : ", ") + e;
    cannot("no checkpoint layout for the text encoders " + (found.empty() ? std::string("(none)") : found) +
           (has("clip_h") ? " (clip_h goes with no other encoder)" : ""));
  }
  for (auto& [k, t] : out)
    if (!keep_fp32 && t.is_floating_point() && !starts(k.substr(k.rfind('.') + 1), "logit_scale")) t = t.to(at::kHalf);
  return out;
}

}  // namespace comfy
