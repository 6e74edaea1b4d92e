// The CLIP objects of SD2, SDXL and the SDXL refiner (ComfyUI v0.8.0 text_encoders/sd2_clip.py,
// sdxl_clip.py; spec M3): which encoders, their tokenizers, options and how their outputs combine.
#include <ATen/ATen.h>

#include "comfy/core/error.hpp"
#include "comfy/models/family_clip.hpp"

namespace comfy {
namespace fs = std::filesystem;

namespace {

// SD1Tokenizer / SDXLClipGTokenizer / SD2ClipHTokenizer: pad token and the embedding file key.
struct TokenizerSpec {
  int64_t embedding_size;
  std::string embedding_key;
  int64_t pad;
};
TokenizerSpec tokenizer_spec(const std::string& key) {
  if (key == "g") return {1280, "clip_g", 0};
  if (key == "h") return {1024, "clip_h", 0};
  return {768, "clip_l", ClipBpe::kEndToken};
}

// SDXLClipG, SD2ClipHModel, SDXL's clip_l: all default to the penultimate layer ("hidden" -2); only
// SD2 applies the final LayerNorm to it. Pooled output projected (return_projected_pooled=True).
ClipEncoderOptions encoder_options(ClipFamily family, const std::string& key) {
  ClipEncoderOptions o;
  o.pad_token = tokenizer_spec(key).pad;
  o.default_layer = -2;
  o.layer_norm_hidden_state = family == ClipFamily::SD2;
  o.projected_pooled = true;
  return o;
}

const std::vector<TokenChunk>& tokens_of(const TokenSets& tokens, const std::string& key) {
  auto it = tokens.find(key);
  if (it == tokens.end()) throw Error("KeyError", "'" + key + "' (no \"" + key + "\" tokens for this CLIP)");
  return it->second;
}

// The ComfyUI state-dict name of a part: SDXLClipModel's clip_l / clip_g, SD2ClipModel's clip_h.
std::string part_encoder(const std::string& key) { return "clip_" + key; }

const char* family_name(ClipFamily f) {
  switch (f) {
    case ClipFamily::SD2: return "SD2";
    case ClipFamily::SDXL: return "SDXL";
    default: return "SDXL refiner";
  }
}

}  // namespace

FamilyClipEncoder::FamilyClipEncoder(ClipFamily family, std::shared_ptr<const ClipTextModel> l,
                                     std::shared_ptr<const ClipTextModel> g_or_h,
                                     std::optional<std::vector<fs::path>> embedding_dirs, RuntimeConfig cfg)
    : family_(family), embedding_dirs_(std::move(embedding_dirs)) {
  cfg_.models_dirs = cfg.models_dirs;
  cfg_.tokenizer_dir = cfg.tokenizer_dir;
  if (!g_or_h) throw Error("invalid_checkpoint", std::string(family_name(family)) + " CLIP without its OpenCLIP encoder");
  if (family == ClipFamily::SDXL) {
    if (!l) throw Error("invalid_checkpoint", "SDXL CLIP without its CLIP-L encoder");
    parts_.push_back({"l", std::move(l), encoder_options(family, "l")});
  }
  const std::string key = family == ClipFamily::SD2 ? "h" : "g";
  parts_.push_back({key, std::move(g_or_h), encoder_options(family, key)});
  for (const auto& p : parts_)
    for (const auto& [k, t] : p.model->weights()) lora_weights_.emplace(clip_state_key(part_encoder(p.key), k), t);
}

std::shared_ptr<TextEncoder> FamilyClipEncoder::with_weights(const std::map<std::string, at::Tensor>& replaced) const {
  std::map<std::string, TensorMap> by_part;
  for (const auto& [k, v] : replaced) {
    bool found = false;
    for (const auto& p : parts_) {
      const std::string rel = clip_relative_key(part_encoder(p.key), k);
      if (rel.empty()) continue;
      by_part[p.key].emplace(rel, v);
      found = true;
    }
    if (!found)
      throw Error("execution_error", "CLIP weight '" + k + "' is not a weight of this " + family_name(family_) + " CLIP");
  }
  std::shared_ptr<const ClipTextModel> l, g_or_h;
  for (const auto& p : parts_) {
    auto it = by_part.find(p.key);
    auto m = it == by_part.end() ? p.model : std::shared_ptr<const ClipTextModel>(p.model->with_weights(it->second));
    (p.key == "l" ? l : g_or_h) = std::move(m);
  }
  return std::make_shared<FamilyClipEncoder>(family_, std::move(l), std::move(g_or_h), embedding_dirs_, cfg_);
}

const Sd1Tokenizer& FamilyClipEncoder::tokenizer(const std::string& key) {
  auto& slot = tokenizers_[key];
  if (!slot) {
    if (!bpe_) bpe_ = ClipBpe::sd1(cfg_);
    auto spec = tokenizer_spec(key);
    for (const auto& p : parts_)  // an embedding vector must match the encoder's width
      if (p.key == key) spec.embedding_size = p.model->config().hidden;
    slot = std::make_unique<Sd1Tokenizer>(bpe_, embedding_dirs_, spec.embedding_size, spec.embedding_key, spec.pad);
  }
  return *slot;
}

TokenSets FamilyClipEncoder::tokenize_sets(const std::string& text) {
  if (family_ == ClipFamily::SD2) return {{"h", tokenizer("h").tokenize_with_weights(text)}};
  return {{"g", tokenizer("g").tokenize_with_weights(text)}, {"l", tokenizer("l").tokenize_with_weights(text)}};
}

std::vector<CondEntry> FamilyClipEncoder::encode_sets(const TokenSets& tokens, std::optional<int64_t> layer_idx) {
  CondEntry entry;
  if (family_ == ClipFamily::SDXL) {
    const ClipPart& l = parts_[0];
    const ClipPart& g = parts_[1];
    auto g_out = encode_clip_chunks(*g.model, tokens_of(tokens, "g"), g.opts, layer_idx);
    auto l_out = encode_clip_chunks(*l.model, tokens_of(tokens, "l"), l.opts, layer_idx);
    const int64_t cut = std::min(l_out.cond.size(1), g_out.cond.size(1));
    entry.cross_attn = at::cat({l_out.cond.slice(1, 0, cut), g_out.cond.slice(1, 0, cut)}, -1);  // [1, T, Cl + Cg]
    entry.pooled_output = g_out.pooled;                                                         // [1, Pg]
  } else {
    const ClipPart& p = parts_[0];
    auto out = encode_clip_chunks(*p.model, tokens_of(tokens, p.key), p.opts, layer_idx);
    entry.cross_attn = out.cond;
    entry.pooled_output = out.pooled;
  }
  return {entry};
}

std::shared_ptr<Clip> load_family_clip(ClipFamily family, const TensorMap& l, const TensorMap& g_or_h,
                                       const RuntimeConfig& cfg, const std::string& what) {
  const auto storage = cfg.text_encoder_fp32 ? at::kFloat : at::kHalf;
  std::shared_ptr<const ClipTextModel> lm, gm;
  if (family == ClipFamily::SDXL) {
    if (l.empty()) throw Error("invalid_checkpoint", "no CLIP-L text model in " + what);
    lm = ClipTextModel::load(l, cfg.device, "CLIP-L in " + what, storage, ClipActivation::QuickGelu);
  }
  const char* name = family == ClipFamily::SD2 ? "OpenCLIP ViT-H" : "OpenCLIP ViT-bigG";
  if (g_or_h.empty()) throw Error("invalid_checkpoint", std::string("no ") + name + " text model in " + what);
  gm = ClipTextModel::load(g_or_h, cfg.device, std::string(name) + " in " + what, storage, ClipActivation::Gelu);
  if (gm->config().projection == 0)
    throw Error("invalid_checkpoint", std::string(name) + " in " + what + " has no text_projection");
  std::vector<fs::path> embedding_dirs;
  for (const auto& m : cfg.models_dirs) embedding_dirs.push_back(m / "embeddings");
  auto clip = std::make_shared<Clip>();
  clip->encoder = std::make_shared<FamilyClipEncoder>(family, lm, gm, std::move(embedding_dirs), cfg);
  return clip;
}

}  // namespace comfy
