#pragma once
// BlenderNeko's advanced CLIP text encode (ComfyUI_ADV_CLIP_emb adv_encode.py): token weight
// normalization and the five weight interpretations over one text tower. Spec: nodes-prompt.md 1.2-1.3.
#include <ATen/core/Tensor.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "comfy/models/clip_tokenizer.hpp"

namespace comfy::bnk {

enum class Normalization { None, Mean, Length, LengthMean };
enum class Interpretation { Comfy, A1111, Compel, ComfyPlusPlus, DownWeight };

const std::vector<std::string>& normalization_names();    // combo order: none, mean, length, length+mean
const std::vector<std::string>& interpretation_names();   // comfy, A1111, compel, comfy++, down_weight
std::optional<Normalization> parse_normalization(const std::string& name);
std::optional<Interpretation> parse_interpretation(const std::string& name);

using WeightTable = std::vector<std::vector<double>>;  // [chunk][position]

// The weight table after token_normalization (float64, as upstream's numpy/Python arithmetic).
WeightTable normalize_weights(const std::vector<TokenChunk>& tokens, Normalization norm);
// scale_to_norm(weights, word_ids, w_max): down_weight's rescaling so the largest weight is w_max.
WeightTable scale_to_norm(const std::vector<TokenChunk>& tokens, const WeightTable& weights, double w_max = 1.0);

// One tower's encode_token_weights: chunks -> cond [1, 77 * chunks, D] with ComfyUI's weighting.
using EncodeFn = std::function<at::Tensor(const std::vector<TokenChunk>&)>;

constexpr int64_t kMaskToken = 266;  // "+</w>", what upstream masks words with

// advanced_encode_from_tokens without pooled output: the cond [1, 77 * chunks, D].
at::Tensor encode(const std::vector<TokenChunk>& tokens, Normalization norm, Interpretation interp, const EncodeFn& encode_fn);

}  // namespace comfy::bnk
