#pragma once
// The CLIP objects of SD2 (OpenCLIP ViT-H), SDXL (CLIP-L + OpenCLIP bigG) and the SDXL refiner (bigG):
// ComfyUI's sd2_clip.py / sdxl_clip.py over the shared CLIP text model (models/clip.hpp), and the
// OpenCLIP -> HF key conversion their checkpoints need.
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "comfy/core/runtime.hpp"
#include "comfy/models/clip.hpp"
#include "comfy/models/weights.hpp"

namespace comfy {

// ---- key layouts (models/openclip.cpp)
// True when `sd` (keys relative to the text tower) is in the OpenCLIP layout ("transformer.resblocks.N...").
bool is_openclip_layout(const TensorMap& sd);
// ComfyUI utils.clip_text_transformers_convert: OpenCLIP names -> the ClipTextModel names relative to
// "text_model." ("embeddings.token_embedding.weight", "encoder.layers.N.self_attn.q_proj.weight", ...)
// with in_proj split into q/k/v, plus "text_projection.weight" = the transpose of the stored
// `text_projection` [W, P] (a stored "text_projection.weight" is taken unchanged). Unknown keys pass
// through (and end up unused: logit_scale, attn_mask).
TensorMap openclip_to_clip_text(const TensorMap& sd);
// The inverse (saving, diffusers_convert.convert_text_enc_state_dict_v20): ClipTextModel names -> OpenCLIP
// names, q/k/v joined into in_proj, "text_projection.weight" stored transposed as `text_projection`.
// Throws comfy::Error for a name it has no OpenCLIP name for, or an incomplete q/k/v.
TensorMap clip_text_to_openclip(const TensorMap& rel);
// A text-encoder state dict in either layout ("text_model.*" HF names, with or without the
// "text_model." level, or OpenCLIP names) -> ClipTextModel's relative keys (+ "text_projection.weight").
// Empty when `sd` holds no CLIP text model.
TensorMap clip_text_tensors(const TensorMap& sd);

// ---- the CLIP objects (models/family_clip.cpp)
enum class ClipFamily { SD2, SDXL, SDXLRefiner };

// One encoder of a family CLIP: its tokenizer key ("l", "g", "h") and ComfyUI's options for it.
struct ClipPart {
  std::string key;
  std::shared_ptr<const ClipTextModel> model;
  ClipEncoderOptions opts;
};

class FamilyClipEncoder : public TextEncoder {
 public:
  // SD2: h; SDXL: l and g; SDXLRefiner: g (l null). embedding_dirs: nullopt turns "embedding:" off.
  FamilyClipEncoder(ClipFamily family, std::shared_ptr<const ClipTextModel> l, std::shared_ptr<const ClipTextModel> g_or_h,
                    std::optional<std::vector<std::filesystem::path>> embedding_dirs, RuntimeConfig cfg = {});

  // ComfyUI tokenizer dict: SD2 {"h"}; SDXL and the refiner {"g", "l"} (the refiner encodes only "g").
  TokenSets tokenize_sets(const std::string& text) override;
  // SD2 / refiner: the one encoder's cond and projected pooled. SDXL: cond = [l ‖ g] along channels
  // (cut to the shorter), pooled = g's projected pooled. Missing keys fail as ComfyUI's KeyError.
  std::vector<CondEntry> encode_sets(const TokenSets& tokens, std::optional<int64_t> layer_idx) override;
  std::vector<CondEntry> encode(const std::string& text, std::optional<int64_t> layer_idx) override {
    return encode_sets(tokenize_sets(text), layer_idx);
  }

  // LoRA / merges: every part's weights under ComfyUI's names ("clip_l.transformer.text_model....",
  // "clip_g.transformer....", "clip_h.transformer...."), and a new encoder with `replaced` patched in.
  const std::map<std::string, at::Tensor>* lora_weights() const override { return &lora_weights_; }
  std::shared_ptr<TextEncoder> with_weights(const std::map<std::string, at::Tensor>& replaced) const override;

  ClipFamily family() const { return family_; }
  const std::vector<ClipPart>& parts() const { return parts_; }

 private:
  const Sd1Tokenizer& tokenizer(const std::string& key);
  ClipFamily family_;
  std::vector<ClipPart> parts_;
  std::optional<std::vector<std::filesystem::path>> embedding_dirs_;
  RuntimeConfig cfg_;
  std::shared_ptr<const ClipBpe> bpe_;
  std::map<std::string, std::unique_ptr<Sd1Tokenizer>> tokenizers_;
  TensorMap lora_weights_;  // the parts' weights under their state-dict names (tensor handles, no copies)
};

// A family CLIP from text-encoder tensors already in ClipTextModel's relative keys (clip_text_tensors):
// `l` (CLIP-L, SDXL only) and `g_or_h`; `what` names the source in messages. Textual inversions are looked
// up in <models dir>/embeddings of every cfg.models_dirs entry.
std::shared_ptr<Clip> load_family_clip(ClipFamily family, const TensorMap& l, const TensorMap& g_or_h,
                                       const RuntimeConfig& cfg, const std::string& what);

}  // namespace comfy
