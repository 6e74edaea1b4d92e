// BNK_CLIPTextEncodeAdvanced's encoding (adv_encode.py advanced_encode_from_tokens; nodes-prompt.md
// 1.2-1.3). Weight tables are float64 as upstream's Python/numpy; tensors float32 in the order
// upstream combines them.
#include "comfy/prompt/bnk_encode.hpp"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "comfy/core/error.hpp"

namespace comfy::bnk {
namespace {

// numpy's float64 add.reduce: pairwise summation in blocks of 8 (PW_BLOCKSIZE 128), from 0.
double pairwise_sum(const double* a, size_t n) {
  if (n < 8) {
    double res = 0.;
    for (size_t i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n <= 128) {
    double r[8];
    for (int k = 0; k < 8; ++k) r[k] = a[k];
    size_t i = 8;
    for (; i < n - (n % 8); i += 8)
      for (int k = 0; k < 8; ++k) r[k] += a[i + k];
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  size_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

WeightTable weights_of(const std::vector<TokenChunk>& tokens) {
  WeightTable w;
  for (const auto& ch : tokens) {
    w.emplace_back();
    for (const auto& t : ch) w.back().push_back(t.weight);
  }
  return w;
}

// divide_length: 1 + sign(w-1) * sqrt((w-1)^2 / n) with n = positions of that word id.
WeightTable divide_length(const std::vector<TokenChunk>& tokens, WeightTable w) {
  std::map<int64_t, int64_t> count;
  for (const auto& ch : tokens)
    for (const auto& t : ch) count[t.word_id]++;
  for (size_t c = 0; c < tokens.size(); ++c)
    for (size_t p = 0; p < tokens[c].size(); ++p) {
      const int64_t id = tokens[c][p].word_id;
      if (id == 0) {
        w[c][p] = 1.0;
        continue;
      }
      const double d = w[c][p] - 1;
      const double sign = d > 0 ? 1.0 : (d < 0 ? -1.0 : (std::isnan(d) ? d : 0.0));
      w[c][p] = 1 + sign * std::sqrt(std::fabs(d) * std::fabs(d) / static_cast<double>(count[id]));
    }
  return w;
}

// shift_mean_weight: add 1 - mean(word weights) to every word position.
WeightTable shift_mean(const std::vector<TokenChunk>& tokens, WeightTable w) {
  std::vector<double> word;
  for (size_t c = 0; c < tokens.size(); ++c)
    for (size_t p = 0; p < tokens[c].size(); ++p)
      if (tokens[c][p].word_id != 0) word.push_back(w[c][p]);
  if (word.empty()) return w;  // mean of nothing is NaN upstream, and there is nothing to shift
  const double delta = 1 - pairwise_sum(word.data(), word.size()) / static_cast<double>(word.size());
  for (size_t c = 0; c < tokens.size(); ++c)
    for (size_t p = 0; p < tokens[c].size(); ++p)
      if (tokens[c][p].word_id != 0) w[c][p] = w[c][p] + delta;
  return w;
}

std::vector<TokenChunk> with_weights(std::vector<TokenChunk> tokens, const WeightTable& w) {
  for (size_t c = 0; c < tokens.size(); ++c)
    for (size_t p = 0; p < tokens[c].size(); ++p) tokens[c][p].weight = w[c][p];
  return tokens;
}

PromptToken mask_token() {
  PromptToken t;
  t.id = kMaskToken;
  t.weight = 1.0;
  return t;
}

// [1, 77 * chunks, 1] float32 weights, broadcast over the features.
at::Tensor weight_tensor(const WeightTable& w) {
  std::vector<float> flat;
  for (const auto& ch : w)
    for (double x : ch) flat.push_back(static_cast<float>(x));
  return at::tensor(flat, at::kFloat).reshape({1, -1, 1});
}

// Encodes several prompts of `n_chunks` chunks each (all chunks in one list) as [prompts, 77 * n_chunks, D],
// 32 chunks per call as batched_clip_encode does.
at::Tensor encode_prompts(const std::vector<TokenChunk>& all, size_t n_chunks, const EncodeFn& encode_fn) {
  std::vector<at::Tensor> parts;
  for (size_t s = 0; s < all.size(); s += 32) {
    std::vector<TokenChunk> group(all.begin() + static_cast<std::ptrdiff_t>(s),
                                  all.begin() + static_cast<std::ptrdiff_t>(std::min(all.size(), s + 32)));
    at::Tensor enc = encode_fn(group);                                         // [1, 77 * g, D]
    parts.push_back(enc.reshape({static_cast<int64_t>(group.size()), -1, enc.size(-1)}));  // [g, 77, D]
  }
  at::Tensor embs = at::cat(parts);                                            // [chunks, 77, D]
  return embs.reshape({static_cast<int64_t>(all.size() / n_chunks), -1, embs.size(-1)});
}

// down_weight(tokens, weights, base): progressively mask the positions of each weight below 1 and mix
// base with the masked encodings by the weight steps.
at::Tensor down_weight(const std::vector<TokenChunk>& tokens, const WeightTable& w, const at::Tensor& base,
                       const EncodeFn& encode_fn) {
  std::set<double> distinct;
  for (const auto& ch : w)
    for (double x : ch)
      if (!std::isnan(x)) distinct.insert(x);  // np.unique sorts NaN last; it is never < 1 nor <= 1
  if (distinct.empty() || *distinct.begin() >= 1.0) return base;
  std::vector<TokenChunk> masked_all, current = tokens;
  std::vector<double> steps{0.0};  // [0] + weights <= 1, ascending
  for (double v : distinct) {
    if (v <= 1.0) steps.push_back(v);
    if (v >= 1.0) continue;
    for (size_t c = 0; c < current.size(); ++c)
      for (size_t p = 0; p < current[c].size(); ++p)
        if (w[c][p] == v) current[c][p] = mask_token();
    masked_all.insert(masked_all.end(), current.begin(), current.end());
  }
  at::Tensor embs = at::cat({base, encode_prompts(masked_all, tokens.size(), encode_fn)});  // [m+1, 77n, D]
  if (static_cast<int64_t>(steps.size()) - 1 != embs.size(0))
    throw Error("execution_error", "BNK down-weighting: no weight 1.0 among the tokens");
  std::vector<float> mix;
  for (size_t i = 1; i < steps.size(); ++i) mix.push_back(static_cast<float>(steps[i] - steps[i - 1]));
  at::Tensor w_mix = at::tensor(mix, at::kFloat).to(embs.device()).reshape({-1, 1, 1});
  return (w_mix * embs).sum(0, /*keepdim=*/true);
}

// from_masked: the up-weight term of comfy++, (W+ - 1) * sum_k mask_k * (base - encode(word k masked)).
at::Tensor from_masked(const std::vector<TokenChunk>& tokens, const WeightTable& w_plus, const at::Tensor& base,
                       const EncodeFn& encode_fn) {
  std::map<int64_t, double> first_weight;  // np.unique(word_ids, return_index): sorted ids, first position
  for (size_t c = 0; c < tokens.size(); ++c)
    for (size_t p = 0; p < tokens[c].size(); ++p) first_weight.emplace(tokens[c][p].word_id, w_plus[c][p]);
  std::vector<int64_t> ids;
  for (const auto& [id, wt] : first_weight)
    if (wt != 1.0) ids.push_back(id);
  if (ids.empty()) return at::zeros_like(base);

  std::vector<TokenChunk> masked_all;
  std::vector<at::Tensor> masks;
  for (int64_t id : ids) {
    std::vector<float> m;
    auto masked = tokens;
    for (auto& ch : masked)
      for (auto& t : ch) {
        m.push_back(t.word_id == id ? 1.f : 0.f);
        if (t.word_id == id) t = mask_token();
      }
    masked_all.insert(masked_all.end(), masked.begin(), masked.end());
    masks.push_back(at::tensor(m, at::kFloat).to(base.device()).reshape({1, -1, 1}).expand(base.sizes()));
  }
  at::Tensor embs = encode_prompts(masked_all, tokens.size(), encode_fn);  // [k, 77n, D]
  embs = base.expand(embs.sizes()) - embs;
  embs = embs * at::cat(masks);
  embs = embs.sum(0, /*keepdim=*/true);
  return (weight_tensor(w_plus).to(base.device()) - 1) * embs;
}

}  // namespace

const std::vector<std::string>& normalization_names() {
  static const std::vector<std::string> n{"none", "mean", "length", "length+mean"};
  return n;
}
const std::vector<std::string>& interpretation_names() {
  static const std::vector<std::string> n{"comfy", "A1111", "compel", "comfy++", "down_weight"};
  return n;
}
std::optional<Normalization> parse_normalization(const std::string& name) {
  const auto& n = normalization_names();
  auto it = std::find(n.begin(), n.end(), name);
  if (it == n.end()) return std::nullopt;
  return static_cast<Normalization>(it - n.begin());
}
std::optional<Interpretation> parse_interpretation(const std::string& name) {
  const auto& n = interpretation_names();
  auto it = std::find(n.begin(), n.end(), name);
  if (it == n.end()) return std::nullopt;
  return static_cast<Interpretation>(it - n.begin());
}

WeightTable normalize_weights(const std::vector<TokenChunk>& tokens, Normalization norm) {
  WeightTable w = weights_of(tokens);
  if (norm == Normalization::Length || norm == Normalization::LengthMean) w = divide_length(tokens, std::move(w));
  if (norm == Normalization::Mean || norm == Normalization::LengthMean) w = shift_mean(tokens, std::move(w));
  return w;
}

WeightTable scale_to_norm(const std::vector<TokenChunk>& tokens, const WeightTable& weights, double w_max) {
  double top = -std::numeric_limits<double>::infinity();
  for (const auto& ch : weights)
    for (double x : ch) top = std::isnan(x) || std::isnan(top) ? std::nan("") : std::max(top, x);
  w_max = std::min(top, w_max);
  WeightTable out = weights;
  for (size_t c = 0; c < tokens.size(); ++c)
    for (size_t p = 0; p < tokens[c].size(); ++p)
      out[c][p] = tokens[c][p].word_id == 0 ? w_max : (weights[c][p] / top) * w_max;
  return out;
}

at::Tensor encode(const std::vector<TokenChunk>& tokens, Normalization norm, Interpretation interp, const EncodeFn& encode_fn) {
  const WeightTable w = normalize_weights(tokens, norm);
  if (interp == Interpretation::Comfy) return encode_fn(with_weights(tokens, w));

  std::vector<TokenChunk> unweighted = tokens;
  for (auto& ch : unweighted)
    for (auto& t : ch) t.weight = 1.0;
  const at::Tensor base = encode_fn(unweighted);  // [1, 77n, D]

  switch (interp) {
    case Interpretation::A1111: {
      at::Tensor x = base * weight_tensor(w).to(base.device());
      return (base.mean() / x.mean()) * x;
    }
    case Interpretation::Compel: {
      WeightTable up = w;
      for (auto& ch : up)
        for (double& x : ch) x = x >= 1.0 ? x : 1.0;
      const auto pos_tokens = with_weights(tokens, up);
      return down_weight(pos_tokens, w, encode_fn(pos_tokens), encode_fn);
    }
    case Interpretation::ComfyPlusPlus: {
      at::Tensor down = down_weight(unweighted, w, base, encode_fn);
      WeightTable plus = w;
      for (auto& ch : plus)
        for (double& x : ch) x = x > 1.0 ? x : 1.0;
      return down + from_masked(unweighted, plus, base, encode_fn);
    }
    case Interpretation::DownWeight:
      return down_weight(unweighted, scale_to_norm(tokens, w), base, encode_fn);
    case Interpretation::Comfy:
      break;
  }
  return encode_fn(with_weights(tokens, w));
}

}  // namespace comfy::bnk
