// LoRA modules one by one, in ComfyUI's load_lora order, for the nodes that patch each key with its own
// strength (LoRA Block Weight): loading, the state-dict order, and the per-key weight math.
#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "comfy/core/error.hpp"
#include "comfy/io/safetensors.hpp"
#include "comfy/models/lora.hpp"

namespace comfy {

namespace {

const std::vector<std::pair<std::string, std::string>> kUpDown = {
    {".lora_up.weight", ".lora_down.weight"},
    {"_lora.up.weight", "_lora.down.weight"},
    {".lora_B.weight", ".lora_A.weight"},
    {".lora.up.weight", ".lora.down.weight"},
    {".lora_linear_layer.up.weight", ".lora_linear_layer.down.weight"}};

// Module registration order of the UNet (openaimodel.py) and CLIP (clip_model.py) blocks: siblings
// compare by this rank, numbers numerically, unknown names after known ones, alphabetically.
const std::vector<std::string> kRank = {
    "diffusion_model", "time_embed", "label_emb", "input_blocks", "middle_block", "output_blocks", "out",
    "in_layers", "emb_layers", "out_layers", "skip_connection", "norm", "proj_in", "transformer_blocks",
    "proj_out", "attn1", "ff", "attn2", "norm1", "norm2", "norm3", "to_q", "to_k", "to_v", "to_out", "net",
    "proj", "op", "conv", "embeddings", "encoder", "layers", "mlp", "fc1", "fc2", "self_attn", "k_proj",
    "q_proj", "v_proj", "out_proj", "layer_norm1", "layer_norm2", "final_layer_norm", "weight", "bias"};

std::vector<std::string> parts(const std::string& k) {
  std::vector<std::string> out{""};
  for (char c : k) {
    if (c == '.') out.emplace_back();
    else out.back().push_back(c);
  }
  return out;
}

// Where a LoRA module name comes in ComfyUI's key map (model_lora_keys_unet / _clip insert the LDM
// kohya and generic names first, the diffusers-derived ones after). When a file holds one module under
// two spellings, load_lora keeps the first one's position and the last one's weights.
int spelling_rank(const std::string& name, const LoraKeyTarget& t) {
  std::string base = t.key.size() > 7 ? t.key.substr(0, t.key.size() - 7) : t.key;  // without ".weight"
  std::string ldm = base;
  for (auto& c : ldm)
    if (c == '.') c = '_';
  if (t.target == LoraTarget::UNet) {
    if (name == "lora_unet_" + ldm) return 0;
    if (name == "diffusion_model." + base) return 1;
    return 2;
  }
  int rank = 0;
  for (const char* p : {"text_encoders.", "lora_te_", "lora_te1_", "text_encoder.", "lora_te2_", "text_encoder_2."}) {
    if (name.rfind(p, 0) == 0) return rank;
    ++rank;
  }
  return rank;
}

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit((unsigned char)c); });
}

}  // namespace

// model_lora_keys_clip walks layer by layer, module by module, and tries clip_h, clip_l, clip_g in turn.
bool clip_order_less(const std::string& a, const std::string& b, size_t pa_at, size_t pb_at) {
  auto encoder_rank = [](const std::string& k) { return k.rfind("clip_h.", 0) == 0 ? 0 : k.rfind("clip_l.", 0) == 0 ? 1 : 2; };
  const std::string ra = a.substr(pa_at), rb = b.substr(pb_at);
  if (ra != rb) return state_dict_order_less(ra, rb);
  return encoder_rank(a) < encoder_rank(b);
}

bool state_dict_order_less(const std::string& a, const std::string& b) {
  const std::string layers = "text_model.encoder.layers.";
  const size_t la = a.find(layers), lb = b.find(layers);
  if (la != std::string::npos && lb != std::string::npos && la > 0 && lb > 0 && a.compare(0, la, b, 0, lb) != 0)
    return clip_order_less(a, b, la, lb);
  auto pa = parts(a), pb = parts(b);
  for (size_t i = 0; i < pa.size() && i < pb.size(); ++i) {
    if (pa[i] == pb[i]) continue;
    if (all_digits(pa[i]) && all_digits(pb[i]))
      return pa[i].size() != pb[i].size() ? pa[i].size() < pb[i].size() : pa[i] < pb[i];
    auto ra = std::find(kRank.begin(), kRank.end(), pa[i]) - kRank.begin();
    auto rb = std::find(kRank.begin(), kRank.end(), pb[i]) - kRank.begin();
    if (ra != rb) return ra < rb;
    return pa[i] < pb[i];
  }
  return pa.size() < pb.size();
}

LoadedLora load_lora_modules(const io::SafeTensors& lora, const UNetConfig* unet_cfg, const TensorMap* unet_weights,
                             const TensorMap* clip_weights) {
  const std::string fname = lora.path().filename().string();
  LoadedLora out;
  std::set<std::string> used;
  std::map<std::string, std::pair<int, size_t>> by_target;  // model key -> (spelling rank, index in out.modules)
  for (auto& [name, target] : lora_key_map(unet_cfg, unet_weights, clip_weights)) {
    std::string up_key, down_key;
    for (auto& [u, d] : kUpDown)
      if (lora.contains(name + u)) {
        up_key = name + u;
        down_key = name + d;
        break;
      }
    if (up_key.empty()) continue;
    if (!lora.contains(down_key))
      throw Error("execution_error", "LoRA " + fname + ": '" + up_key + "' has no matching '" + down_key + "'");
    LoraModule m;
    m.target = target.target;
    m.key = target.key;
    m.model_key = target.target == LoraTarget::UNet ? "diffusion_model." + target.key : target.key;
    m.up = lora.get(up_key).to(at::kFloat);
    m.down = lora.get(down_key).to(at::kFloat);
    used.insert(up_key);
    used.insert(down_key);
    for (const char* extra : {".alpha", ".lora_mid.weight", ".dora_scale"}) {
      if (!lora.contains(name + extra)) continue;
      used.insert(name + extra);
      if (std::string(extra) == ".alpha") m.alpha = lora.get(name + extra).to(at::kDouble).item<double>();
      else if (std::string(extra) == ".lora_mid.weight") m.mid = lora.get(name + extra).to(at::kFloat);
      else spdlog::warn("LoRA {}: DoRA scale of '{}' is not supported; applying it as a plain LoRA", fname, name);
    }
    if (m.down.dim() < 2 || m.up.dim() < 2 || m.down.size(0) == 0)
      throw Error("execution_error", "LoRA " + fname + ": '" + name + "' has malformed up/down weights");
    const int rank = spelling_rank(name, target);
    auto seen = by_target.find(m.model_key);
    if (seen == by_target.end()) {
      by_target[m.model_key] = {rank, out.modules.size()};
      out.modules.push_back(std::move(m));
    } else if (rank > seen->second.first) {  // the later spelling in ComfyUI's key map overwrites
      seen->second.first = rank;
      out.modules[seen->second.second] = std::move(m);
    }
  }
  std::stable_sort(out.modules.begin(), out.modules.end(), [](const LoraModule& a, const LoraModule& b) {
    if (a.target != b.target) return a.target == LoraTarget::UNet;
    return state_dict_order_less(a.model_key, b.model_key);
  });
  for (const auto& k : lora.names())
    if (!used.count(k)) out.not_loaded.push_back(k);
  for (size_t i = 0; i < out.not_loaded.size() && i < 5; ++i) spdlog::warn("lora key not loaded: {}", out.not_loaded[i]);
  return out;
}

at::Tensor lora_patched_weight(const at::Tensor& w, const LoraModule& m, double strength) {
  auto up = m.up.to(w.device());      // [out, rank, (1, 1)]
  auto down = m.down.to(w.device());  // [rank, in, (k, k)]
  if (m.mid) {  // LoCon with a middle (Tucker) factor
    auto mid = m.mid->to(w.device());
    std::vector<int64_t> final_shape = {down.size(1), down.size(0), mid.size(2), mid.size(3)};
    down = at::mm(down.transpose(0, 1).flatten(1), mid.transpose(0, 1).flatten(1)).reshape(final_shape).transpose(0, 1);
  }
  at::Tensor diff;
  try {
    diff = at::mm(up.flatten(1), down.flatten(1)).reshape(w.sizes());  // [out, in, ...]
  } catch (const std::exception&) {  // c10::Error: the product has another number of elements
    throw Error("execution_error", "LoRA module for '" + m.model_key + "' does not fit the weight of shape " +
                                       c10::str(w.sizes()));
  }
  return (w.to(at::kFloat) + diff * (strength * m.scale())).to(w.scalar_type());
}

}  // namespace comfy
