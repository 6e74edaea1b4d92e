#pragma once
// CLIP: tokenizer + text encoder + clip-skip setting (ComfyUI's CLIP object).
#include <ATen/core/Tensor.h>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "comfy/core/runtime.hpp"
#include "comfy/core/types.hpp"
#include "comfy/models/clip_tokenizer.hpp"
#include "comfy/models/weights.hpp"

namespace comfy {
namespace io { class SafeTensors; }

// ComfyUI's tokenizer output: token chunks per encoder key ("l", "g", "h").
using TokenSets = std::map<std::string, std::vector<TokenChunk>>;

struct TextEncoder {  // implemented by models/clip.cpp (SD1 CLIP-L), family_clip.cpp (SD2, SDXL) and the shapes encoder
  virtual ~TextEncoder() = default;
  // Encodes a prompt with ComfyUI's syntax into one CONDITIONING entry list.
  // layer_idx: CLIPSetLastLayer's stop_at_clip_layer; nullopt = the family's default layer.
  virtual std::vector<CondEntry> encode(const std::string& text, std::optional<int64_t> layer_idx) = 0;
  // The two halves of encode (ComfyUI clip.tokenize / encode_from_tokens), for nodes that edit the
  // tokens in between (CLIPTextEncodeSDXL). An encoder without them throws comfy::Error.
  virtual TokenSets tokenize_sets(const std::string& text);
  virtual std::vector<CondEntry> encode_sets(const TokenSets& tokens, std::optional<int64_t> layer_idx);
  // LoRA / merge support: the encoder's weights under ComfyUI's CLIP state-dict names
  // ("clip_l.transformer.text_model.encoder.layers.0.mlp.fc1.weight", "clip_g.transformer....": see
  // clip_state_key), and a new encoder sharing every tensor except `replaced`. nullptr / nullptr = the
  // encoder cannot be patched.
  virtual const std::map<std::string, at::Tensor>* lora_weights() const { return nullptr; }
  virtual std::shared_ptr<TextEncoder> with_weights(const std::map<std::string, at::Tensor>& /*replaced*/) const {
    return nullptr;
  }
};

struct Clip : Object {
  std::shared_ptr<TextEncoder> encoder;
  std::optional<int64_t> layer_idx;  // set by CLIPSetLastLayer; nullopt = the family's default
  std::string type_name() const override { return "CLIP"; }
};

// SD1.x CLIP-L from a checkpoint (keys under `prefix`, e.g. "cond_stage_model.transformer."; the
// "text_model." level is found with or without it, so "" works for a bare text-encoder file).
// Textual inversions are looked up in <models dir>/embeddings of every cfg.models_dirs entry; the
// BPE vocabulary is the built-in one unless cfg.tokenizer_dir overrides it (ClipBpe::sd1, on first use).
std::shared_ptr<Clip> load_sd1_clip(std::shared_ptr<io::SafeTensors> st, const std::string& prefix,
                                    const RuntimeConfig& cfg);
// The same with the embedding folders given (ComfyUI: folder_paths.get_folder_paths("embeddings")).
std::shared_ptr<Clip> load_sd1_clip(std::shared_ptr<io::SafeTensors> st, const std::string& prefix,
                                    const RuntimeConfig& cfg, std::vector<std::filesystem::path> embedding_dirs);

// The same from tensors already keyed relative to `prefix` (with or without the "text_model." level);
// `what` names the source in messages.
std::shared_ptr<Clip> load_sd1_clip(const TensorMap& tensors, const RuntimeConfig& cfg, const std::string& what);

// ---- the CLIP text transformer (comfy/clip_model.py CLIPTextModel_), hyper-parameters read off the weights
// MLP activation: quick_gelu for OpenAI CLIP-L, exact (erf) gelu for OpenCLIP ViT-H / bigG; the weights
// do not say which, the family does.
enum class ClipActivation { QuickGelu, Gelu };
struct ClipTextConfig {
  int64_t hidden = 768, heads = 12, layers = 12, intermediate = 3072, vocab = 49408, positions = 77;
  int64_t projection = 0;  // text_projection output width; 0 = no projection (pooled stays unprojected)
  ClipActivation activation = ClipActivation::QuickGelu;
  int64_t eos_token = 49407;
  double layer_norm_eps = 1e-5;
  // Widths from the tensor shapes, layer count from the keys (relative to the "text_model." level);
  // heads = hidden/64 (every released CLIP text model has 64-wide heads), or hidden/16 for widths
  // below 64 (the tiny test models). A "text_projection.weight" [P, C] beside the "text_model." keys
  // (same map) sets `projection`.
  static ClipTextConfig detect(const TensorMap& tensors);
};

// ComfyUI's CLIP state-dict name of a ClipTextModel weight: `encoder` ("clip_l", "clip_g", "clip_h")
// + ".transformer.text_model." + the relative key ("text_projection.weight" sits beside text_model).
std::string clip_state_key(const std::string& encoder, const std::string& rel);
// The inverse: the relative key of a state-dict name under `encoder`, or "" when it is not one of them.
std::string clip_relative_key(const std::string& encoder, const std::string& key);

class ClipTextModel {
 public:
  // Parameters by checkpoint name relative to "text_model." ("embeddings.token_embedding.weight",
  // "encoder.layers.0.self_attn.q_proj.weight", ...). ComfyUI computes the text encoder in float32
  // whatever the storage dtype, so `w` should hand out float32 tensors.
  ClipTextModel(const ClipTextConfig& config, WeightSource& w);
  // Detects the config and loads float32 weights on `device`; `what` names the source in messages.
  // `storage`: the dtype ComfyUI keeps text-encoder weights in (model_management.text_encoder_dtype:
  // float16 unless --fp32-text-enc, on CPU too): every weight is rounded through it, then computed
  // with in float32 as ComfyUI's manual_cast does. kFloat keeps the file's values.
  static std::shared_ptr<ClipTextModel> load(const TensorMap& tensors, c10::Device device, const std::string& what,
                                             c10::ScalarType storage = c10::kHalf,
                                             ClipActivation activation = ClipActivation::QuickGelu);
  // A copy whose weights are `replaced` where given (LoRA patching), every other tensor shared with this
  // model (no copy). A replaced weight is rounded to the dtype its tensor had in the file (ComfyUI
  // patches the stored weight and casts it back to the storage dtype), then held in float32.
  std::shared_ptr<ClipTextModel> with_weights(const TensorMap& replaced) const;

  struct Output {
    at::Tensor last;          // [B, T, C] final_layer_norm(last layer)
    at::Tensor intermediate;  // [B, T, C] layer `intermediate_output` (final LayerNorm applied if asked); undefined if none
    at::Tensor pooled;        // [B, C] `last` at each row's pooled position
    at::Tensor projected;     // [B, P] text_projection(pooled); = pooled when the model has no projection
  };
  // embeds: [B, T, C] token (or textual-inversion) embeddings, without positions. intermediate_output:
  // layer index (negative counts from the end) or nullopt. pooled_positions: one index per row.
  Output forward(const at::Tensor& embeds, std::optional<int64_t> intermediate_output,
                 bool final_layer_norm_intermediate, const std::vector<int64_t>& pooled_positions) const;
  at::Tensor embed_tokens(const at::Tensor& ids) const;  // [B, T] int64 -> [B, T, C]

  const ClipTextConfig& config() const { return config_; }
  c10::Device device() const { return token_embedding_.device(); }
  const TensorMap& weights() const { return weights_; }  // every parameter by relative key
  // Optional activation hook: called with "embeddings" and "encoder.layers.N" (raw residual stream).
  ActivationHook hook;

 private:
  struct Layer {
    at::Tensor ln1_w, ln1_b, q_w, q_b, k_w, k_b, v_w, v_b, out_w, out_b, ln2_w, ln2_b, fc1_w, fc1_b, fc2_w, fc2_b;
  };
  ClipTextConfig config_;
  at::Tensor token_embedding_, position_embedding_, final_ln_w_, final_ln_b_, text_projection_;
  std::vector<Layer> layers_;
  TensorMap weights_;
  std::map<std::string, c10::ScalarType> stored_dtype_;  // a weight's dtype in its file, where not float32
};

// ---- one encoder of a CLIP object (ComfyUI SDClipModel + ClipTokenWeightEncoder), models/clip_encoder.cpp
// What tells ComfyUI's encoders apart (sd1_clip.py, sd2_clip.py, sdxl_clip.py; spec M3).
struct ClipEncoderOptions {
  int64_t pad_token = ClipBpe::kEndToken;  // special_tokens["pad"]: 49407 for CLIP-L, 0 for bigG / ViT-H
  std::optional<int64_t> default_layer;    // nullopt = "last"; else "hidden" at this index (-2 = penultimate)
  bool layer_norm_hidden_state = true;     // final LayerNorm on a hidden layer's output
  bool projected_pooled = false;           // pooled output through text_projection (return_projected_pooled)
};
struct ClipEncoded {
  at::Tensor cond;    // [1, 77 * chunks, C] float32, CPU
  at::Tensor pooled;  // [1, C] or [1, P] float32, CPU (of the first chunk)
};
// encode_token_weights: token chunks -> (cond, pooled) with ComfyUI's prompt weighting against the
// empty chunk [start, end, pad, ...]. layer_idx: CLIPSetLastLayer's value (|idx| beyond the layer
// count means "last"), nullopt = opts.default_layer.
ClipEncoded encode_clip_chunks(const ClipTextModel& model, const std::vector<TokenChunk>& chunks,
                               const ClipEncoderOptions& opts, std::optional<int64_t> layer_idx);

// ComfyUI's SD1 CLIP (SD1Tokenizer + SDClipModel + ClipTokenWeightEncoder) as one TextEncoder.
class Sd1ClipEncoder : public TextEncoder {
 public:
  using Encoded = ClipEncoded;
  // bpe may be null: it is then found from cfg on first use. embedding_dirs: nullopt turns the
  // "embedding:" syntax off (plain text), as ComfyUI does without an embedding directory.
  Sd1ClipEncoder(std::shared_ptr<const ClipTextModel> model, std::shared_ptr<const ClipBpe> bpe,
                 std::optional<std::vector<std::filesystem::path>> embedding_dirs, RuntimeConfig cfg = {});

  std::vector<TokenChunk> tokenize(const std::string& text);
  // encode_token_weights with CLIPSetLastLayer's layer_idx (-1 or nullopt = last).
  Encoded encode_token_weights(const std::vector<TokenChunk>& chunks, std::optional<int64_t> layer_idx) const;
  std::vector<CondEntry> encode(const std::string& text, std::optional<int64_t> layer_idx) override;
  TokenSets tokenize_sets(const std::string& text) override { return {{"l", tokenize(text)}}; }
  std::vector<CondEntry> encode_sets(const TokenSets& tokens, std::optional<int64_t> layer_idx) override;
  // LoRA: the model's weights keyed "clip_l.transformer.text_model....", and a new encoder around
  // model().with_weights.
  const std::map<std::string, at::Tensor>* lora_weights() const override { return &lora_weights_; }
  std::shared_ptr<TextEncoder> with_weights(const std::map<std::string, at::Tensor>& replaced) const override;

  const ClipTextModel& model() const { return *model_; }

 private:
  const Sd1Tokenizer& tokenizer();
  std::shared_ptr<const ClipTextModel> model_;
  std::shared_ptr<const ClipBpe> bpe_;
  std::optional<std::vector<std::filesystem::path>> embedding_dirs_;
  RuntimeConfig cfg_;
  std::unique_ptr<Sd1Tokenizer> tokenizer_;
  TensorMap lora_weights_;  // model_->weights() under "clip_l.transformer." (tensor handles, no copies)
};

}  // namespace comfy
