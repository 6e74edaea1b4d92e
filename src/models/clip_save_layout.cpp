#include "comfy/models/clip_save_layout.hpp"

#include <ATen/ATen.h>

#include <set>

#include "comfy/core/error.hpp"
#include "comfy/models/clip.hpp"
#include "comfy/models/family_clip.hpp"

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

// An OpenCLIP text encoder (ViT-H / ViT-bigG) under `prefix` (`...model.`).
void put_openclip(Tensors& out, const Tensors& w, const std::string& prefix) {
  for (auto& [k, t] : clip_text_to_openclip(w)) out[prefix + k] = std::move(t);
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
  std::string openclip;  // the OpenCLIP encoder's prefix: it also carries logit_scale
  if (encoders == std::set<std::string>{"clip_l"}) {
    put_hf(out, encoder_weights(clip_sd, "clip_l"), "cond_stage_model.transformer.");
  } else if (encoders == std::set<std::string>{"clip_h"}) {
    openclip = "cond_stage_model.model.";
    put_openclip(out, encoder_weights(clip_sd, "clip_h"), openclip);
  } else if (encoders == std::set<std::string>{"clip_g", "clip_l"}) {
    put_hf(out, encoder_weights(clip_sd, "clip_l"), "conditioner.embedders.0.transformer.");
    out["conditioner.embedders.0.transformer.text_model.embeddings.position_ids"] =
        at::arange(77, at::kLong).unsqueeze(0);
    openclip = "conditioner.embedders.1.model.";
    put_openclip(out, encoder_weights(clip_sd, "clip_g"), openclip);
  } else if (encoders == std::set<std::string>{"clip_g"}) {
    openclip = "conditioner.embedders.0.model.";
    put_openclip(out, encoder_weights(clip_sd, "clip_g"), openclip);
  } else {
    std::string found;
    for (const auto& e : encoders) found += (found.empty() ? "" : ", ") + e;
    cannot("no checkpoint layout for the text encoders " + (found.empty() ? std::string("(none)") : found));
  }
  if (!keep_fp32)
    for (auto& [k, t] : out)
      if (t.is_floating_point()) t = t.to(at::kHalf);
  if (!openclip.empty()) out[openclip + "logit_scale"] = at::scalar_tensor(kLogitScale, at::kFloat);
  return out;
}

}  // namespace comfy
