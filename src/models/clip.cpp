// SD1.x CLIP-L text encoder (ComfyUI comfy/clip_model.py + comfy/sd1_clip.py SDClipModel and
// ClipTokenWeightEncoder): hyper-parameters from the weights, tensors by checkpoint name, forward.
#include "comfy/models/clip.hpp"

#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

#include <limits>
#include <set>

#include "comfy/core/error.hpp"
#include "comfy/io/safetensors.hpp"

namespace comfy {
namespace fs = std::filesystem;

// ---- hyper-parameters
ClipTextConfig ClipTextConfig::detect(const TensorMap& t) {
  auto shape = [&](const std::string& name) {
    auto it = t.find(name);
    if (it == t.end()) throw Error("invalid_checkpoint", "CLIP text model: missing tensor text_model." + name);
    return it->second.sizes().vec();
  };
  ClipTextConfig c;
  auto tok = shape("embeddings.token_embedding.weight");
  auto pos = shape("embeddings.position_embedding.weight");
  if (tok.size() != 2 || pos.size() != 2 || tok[1] != pos[1])
    throw Error("invalid_checkpoint", "CLIP text model: unexpected embedding shapes");
  c.vocab = tok[0];
  c.hidden = tok[1];
  c.positions = pos[0];
  const std::string layer_prefix = "encoder.layers.";
  std::set<int64_t> ids;
  for (const auto& [name, _] : t) {
    if (name.compare(0, layer_prefix.size(), layer_prefix) != 0) continue;
    auto rest = name.substr(layer_prefix.size());
    try {
      ids.insert(std::stoll(rest.substr(0, rest.find('.'))));
    } catch (...) {
    }
  }
  c.layers = static_cast<int64_t>(ids.size());
  if (c.layers == 0 || *ids.rbegin() != c.layers - 1)
    throw Error("invalid_checkpoint", "CLIP text model: no contiguous encoder.layers.N");
  c.intermediate = shape("encoder.layers.0.mlp.fc1.weight")[0];
  c.heads = c.hidden % 64 == 0 ? c.hidden / 64 : (c.hidden % 16 == 0 ? c.hidden / 16 : 1);
  if (auto it = t.find("text_projection.weight"); it != t.end()) {
    if (it->second.dim() != 2 || it->second.size(1) != c.hidden)
      throw Error("invalid_checkpoint", "CLIP text model: text_projection.weight is not [P, " + std::to_string(c.hidden) + "]");
    c.projection = it->second.size(0);
  }
  return c;
}

// ---- ComfyUI state-dict names
std::string clip_state_key(const std::string& encoder, const std::string& rel) {
  if (rel == "text_projection.weight") return encoder + ".transformer." + rel;
  return encoder + ".transformer.text_model." + rel;
}

std::string clip_relative_key(const std::string& encoder, const std::string& key) {
  const std::string top = encoder + ".transformer.", level = top + "text_model.";
  if (key.compare(0, level.size(), level) == 0 && key.size() > level.size()) return key.substr(level.size());
  if (key == top + "text_projection.weight") return "text_projection.weight";
  return "";
}

// ---- weights by checkpoint name
ClipTextModel::ClipTextModel(const ClipTextConfig& config, WeightSource& w) : config_(config) {
  const int64_t C = config.hidden, I = config.intermediate;
  token_embedding_ = w.get("embeddings.token_embedding.weight", {config.vocab, C});
  position_embedding_ = w.get("embeddings.position_embedding.weight", {config.positions, C});
  for (int64_t i = 0; i < config.layers; ++i) {
    const std::string l = "encoder.layers." + std::to_string(i) + ".";
    Layer L;
    L.ln1_w = w.get(l + "layer_norm1.weight", {C});
    L.ln1_b = w.get(l + "layer_norm1.bias", {C});
    L.q_w = w.get(l + "self_attn.q_proj.weight", {C, C});
    L.q_b = w.get(l + "self_attn.q_proj.bias", {C});
    L.k_w = w.get(l + "self_attn.k_proj.weight", {C, C});
    L.k_b = w.get(l + "self_attn.k_proj.bias", {C});
    L.v_w = w.get(l + "self_attn.v_proj.weight", {C, C});
    L.v_b = w.get(l + "self_attn.v_proj.bias", {C});
    L.out_w = w.get(l + "self_attn.out_proj.weight", {C, C});
    L.out_b = w.get(l + "self_attn.out_proj.bias", {C});
    L.ln2_w = w.get(l + "layer_norm2.weight", {C});
    L.ln2_b = w.get(l + "layer_norm2.bias", {C});
    L.fc1_w = w.get(l + "mlp.fc1.weight", {I, C});
    L.fc1_b = w.get(l + "mlp.fc1.bias", {I});
    L.fc2_w = w.get(l + "mlp.fc2.weight", {C, I});
    L.fc2_b = w.get(l + "mlp.fc2.bias", {C});
    layers_.push_back(std::move(L));
  }
  final_ln_w_ = w.get("final_layer_norm.weight", {C});
  final_ln_b_ = w.get("final_layer_norm.bias", {C});
  if (config.projection > 0) text_projection_ = w.get("text_projection.weight", {config.projection, C});
  weights_ = w.taken();
}

std::shared_ptr<ClipTextModel> ClipTextModel::load(const TensorMap& tensors, c10::Device device, const std::string& what,
                                                   c10::ScalarType storage, ClipActivation activation) {
  auto config = ClipTextConfig::detect(tensors);
  config.activation = activation;
  TensorMap stored = tensors;  // handles; only weights in another floating dtype are converted
  if (storage != at::kFloat)
    for (auto& [k, t] : stored)
      if (at::isFloatingType(t.scalar_type()) && t.scalar_type() != storage) t = t.to(storage);
  MapWeights w(stored, device, at::kFloat, what);
  auto model = std::make_shared<ClipTextModel>(config, w);
  for (const auto& [k, _] : model->weights_) {
    const auto dt = stored.at(k).scalar_type();
    if (dt != at::kFloat) model->stored_dtype_[k] = dt;
  }
  for (const auto& k : w.unused())  // position_ids (never used by ComfyUI), text_projection, logit_scale
    if (k != "embeddings.position_ids") spdlog::debug("{}: unused key '{}'", what, k);
  return model;
}

std::shared_ptr<ClipTextModel> ClipTextModel::with_weights(const TensorMap& replaced) const {
  TensorMap all = weights_;  // tensor handles: the weights not replaced stay shared
  for (const auto& [k, v] : replaced) {
    auto it = weights_.find(k);
    if (it == weights_.end()) throw Error("execution_error", "CLIP text model has no weight 'text_model." + k + "' to patch");
    auto sd = stored_dtype_.find(k);
    all[k] = sd == stored_dtype_.end() ? v : v.to(sd->second).to(at::kFloat);
  }
  MapWeights w(all, device(), at::kFloat, "patched CLIP");
  auto model = std::make_shared<ClipTextModel>(config_, w);
  model->stored_dtype_ = stored_dtype_;
  model->hook = hook;
  return model;
}

at::Tensor ClipTextModel::embed_tokens(const at::Tensor& ids) const {
  return at::embedding(token_embedding_, ids.to(device(), at::kLong));
}

ClipTextModel::Output ClipTextModel::forward(const at::Tensor& embeds, std::optional<int64_t> intermediate_output,
                                             bool final_layer_norm_intermediate,
                                             const std::vector<int64_t>& pooled_positions) const {
  const int64_t B = embeds.size(0), T = embeds.size(1), C = config_.hidden, H = config_.heads, D = C / H;
  if (T > config_.positions)
    throw Error("execution_error", "CLIP: " + std::to_string(T) + " tokens exceed the " +
                                       std::to_string(config_.positions) + " positions of the model");
  const double eps = config_.layer_norm_eps;
  at::Tensor x = embeds.to(device(), at::kFloat) + position_embedding_.slice(0, 0, T);  // [B, T, C]
  if (hook) hook("embeddings", x);

  // causal mask: -finfo(float32).max above the diagonal (not -inf), as ComfyUI builds it
  at::Tensor mask = at::full({T, T}, -std::numeric_limits<float>::max(), x.options()).triu_(1);  // [T, T]
  const double scale = 1.0 / std::sqrt(static_cast<double>(D));

  std::optional<int64_t> inter_idx;
  if (intermediate_output) inter_idx = *intermediate_output < 0 ? config_.layers + *intermediate_output : *intermediate_output;
  at::Tensor intermediate;

  for (int64_t i = 0; i < config_.layers; ++i) {
    const Layer& L = layers_[static_cast<size_t>(i)];
    // self-attention (attention_basic): per-head softmax(q k^T * scale + mask) v
    at::Tensor h = at::layer_norm(x, {C}, L.ln1_w, L.ln1_b, eps);                     // [B, T, C]
    auto heads = [&](const at::Tensor& t) {                                           // -> [B*H, T, D]
      return t.reshape({B, T, H, D}).permute({0, 2, 1, 3}).reshape({B * H, T, D}).contiguous();
    };
    at::Tensor q = heads(at::linear(h, L.q_w, L.q_b));
    at::Tensor k = heads(at::linear(h, L.k_w, L.k_b));
    at::Tensor v = heads(at::linear(h, L.v_w, L.v_b));
    at::Tensor sim = at::bmm(q, k.transpose(1, 2)) * scale;                            // [B*H, T, T]
    sim.add_(mask);
    sim = sim.softmax(-1);
    at::Tensor a = at::bmm(sim, v).reshape({B, H, T, D}).permute({0, 2, 1, 3}).reshape({B, T, C});
    x = x + at::linear(a, L.out_w, L.out_b);
    // MLP: quick_gelu (CLIP-L) or exact gelu (OpenCLIP)
    h = at::linear(at::layer_norm(x, {C}, L.ln2_w, L.ln2_b, eps), L.fc1_w, L.fc1_b);  // [B, T, I]
    h = config_.activation == ClipActivation::Gelu ? at::gelu(h) : h * at::sigmoid(1.702 * h);
    x = x + at::linear(h, L.fc2_w, L.fc2_b);                                           // [B, T, C]
    if (hook) hook("encoder.layers." + std::to_string(i), x);
    if (inter_idx && i == *inter_idx) intermediate = x.clone();
  }

  Output out;
  out.last = at::layer_norm(x, {C}, final_ln_w_, final_ln_b_, eps);
  if (intermediate.defined() && final_layer_norm_intermediate)
    intermediate = at::layer_norm(intermediate, {C}, final_ln_w_, final_ln_b_, eps);
  out.intermediate = intermediate;
  if (static_cast<int64_t>(pooled_positions.size()) != B)
    throw Error("execution_error", "CLIP: one pooled position per batch row expected");
  at::Tensor rows = at::arange(B, at::TensorOptions().dtype(at::kLong).device(device()));
  at::Tensor cols = at::tensor(pooled_positions, at::TensorOptions().dtype(at::kLong)).to(device());
  out.pooled = out.last.index({rows, cols});  // [B, C]
  out.projected = text_projection_.defined() ? at::linear(out.pooled, text_projection_) : out.pooled;  // [B, P]
  return out;
}

// ---- SD1 CLIP: tokenizer + ClipTokenWeightEncoder
Sd1ClipEncoder::Sd1ClipEncoder(std::shared_ptr<const ClipTextModel> model, std::shared_ptr<const ClipBpe> bpe,
                               std::optional<std::vector<fs::path>> embedding_dirs, RuntimeConfig cfg)
    : model_(std::move(model)), bpe_(std::move(bpe)), embedding_dirs_(std::move(embedding_dirs)) {
  cfg_.models_dirs = cfg.models_dirs;
  cfg_.tokenizer_dir = cfg.tokenizer_dir;
  for (const auto& [k, t] : model_->weights()) lora_weights_.emplace(clip_state_key("clip_l", k), t);
}

std::shared_ptr<TextEncoder> Sd1ClipEncoder::with_weights(const std::map<std::string, at::Tensor>& replaced) const {
  TensorMap relative;
  for (const auto& [k, v] : replaced) {
    const std::string rel = clip_relative_key("clip_l", k);
    if (rel.empty()) throw Error("execution_error", "CLIP weight '" + k + "' is not a weight of this CLIP-L text encoder");
    relative.emplace(rel, v);
  }
  return std::make_shared<Sd1ClipEncoder>(model_->with_weights(relative), bpe_, embedding_dirs_, cfg_);
}

const Sd1Tokenizer& Sd1ClipEncoder::tokenizer() {
  if (!tokenizer_) {
    if (!bpe_) bpe_ = ClipBpe::sd1(cfg_);
    tokenizer_ = std::make_unique<Sd1Tokenizer>(bpe_, embedding_dirs_, model_->config().hidden);
  }
  return *tokenizer_;
}

std::vector<TokenChunk> Sd1ClipEncoder::tokenize(const std::string& text) { return tokenizer().tokenize_with_weights(text); }

Sd1ClipEncoder::Encoded Sd1ClipEncoder::encode_token_weights(const std::vector<TokenChunk>& chunks,
                                                             std::optional<int64_t> layer_idx) const {
  return encode_clip_chunks(*model_, chunks, ClipEncoderOptions{}, layer_idx);  // SD1: pad 49407, "last", unprojected
}

std::vector<CondEntry> Sd1ClipEncoder::encode_sets(const TokenSets& tokens, std::optional<int64_t> layer_idx) {
  auto it = tokens.find("l");
  if (it == tokens.end()) throw Error("KeyError", "'l' (the SD1 CLIP encodes the \"l\" tokens only)");
  auto enc = encode_token_weights(it->second, layer_idx);
  CondEntry entry;
  entry.cross_attn = enc.cond;
  entry.pooled_output = enc.pooled;
  return {entry};
}

std::vector<CondEntry> Sd1ClipEncoder::encode(const std::string& text, std::optional<int64_t> layer_idx) {
  auto enc = encode_token_weights(tokenize(text), layer_idx);
  CondEntry entry;
  entry.cross_attn = enc.cond;
  entry.pooled_output = enc.pooled;
  return {entry};
}

// ---- loading from a checkpoint
std::shared_ptr<Clip> load_sd1_clip(std::shared_ptr<io::SafeTensors> st, const std::string& prefix,
                                    const RuntimeConfig& cfg, std::vector<fs::path> embedding_dirs) {
  // "<prefix>text_model.embeddings..." (HF layout, SD1.5 files) or "<prefix>embeddings..." (older files)
  std::string p;
  for (const std::string& cand : {prefix + "text_model.", prefix})
    if (st->contains(cand + "embeddings.token_embedding.weight")) {
      p = cand;
      break;
    }
  if (p.empty())
    throw Error("invalid_checkpoint", "no CLIP text model under '" + prefix + "' in " + st->path().string());
  auto model = ClipTextModel::load(tensors_under(*st, p), cfg.device, "CLIP in " + st->path().filename().string(),
                                   cfg.text_encoder_fp32 ? at::kFloat : at::kHalf);
  auto clip = std::make_shared<Clip>();
  clip->encoder = std::make_shared<Sd1ClipEncoder>(model, nullptr, std::move(embedding_dirs), cfg);
  return clip;
}

std::shared_ptr<Clip> load_sd1_clip(const TensorMap& tensors, const RuntimeConfig& cfg, const std::string& what) {
  TensorMap rel;
  for (const std::string& cand : {std::string("text_model."), std::string()}) {
    if (!tensors.count(cand + "embeddings.token_embedding.weight")) continue;
    for (const auto& [k, t] : tensors)
      if (k.compare(0, cand.size(), cand) == 0) rel.emplace(k.substr(cand.size()), t);
    break;
  }
  if (rel.empty()) throw Error("invalid_checkpoint", "no CLIP text model in " + what);
  auto model = ClipTextModel::load(rel, cfg.device, "CLIP in " + what, cfg.text_encoder_fp32 ? at::kFloat : at::kHalf);
  std::vector<fs::path> embedding_dirs;
  for (const auto& m : cfg.models_dirs) embedding_dirs.push_back(m / "embeddings");
  auto clip = std::make_shared<Clip>();
  clip->encoder = std::make_shared<Sd1ClipEncoder>(model, nullptr, std::move(embedding_dirs), cfg);
  return clip;
}

std::shared_ptr<Clip> load_sd1_clip(std::shared_ptr<io::SafeTensors> st, const std::string& prefix,
                                    const RuntimeConfig& cfg) {
  std::vector<fs::path> embedding_dirs;
  for (const auto& m : cfg.models_dirs) embedding_dirs.push_back(m / "embeddings");
  return load_sd1_clip(std::move(st), prefix, cfg, std::move(embedding_dirs));
}

}  // namespace comfy
