// Merging a LoRA into weights (ComfyUI comfy/lora.py load_lora + weight_adapter/lora.py calculate_weight).
#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

#include <set>

#include "comfy/core/error.hpp"
#include "comfy/io/safetensors.hpp"
#include "comfy/models/lora.hpp"

namespace comfy {

namespace {
// (up, down) suffixes of the layouts ComfyUI reads, in its order of preference.
const std::vector<std::pair<std::string, std::string>> kUpDown = {
    {".lora_up.weight", ".lora_down.weight"},  // kohya
    {"_lora.up.weight", "_lora.down.weight"},  // diffusers
    {".lora_B.weight", ".lora_A.weight"},      // PEFT
    {".lora.up.weight", ".lora.down.weight"},  // diffusers 3
    {".lora_linear_layer.up.weight", ".lora_linear_layer.down.weight"}};
}  // namespace

LoraMerge merge_lora(const io::SafeTensors& lora, const UNetConfig* unet_cfg, const TensorMap* unet_weights,
                     double strength_model, const TensorMap* clip_weights, double strength_clip) {
  const std::string fname = lora.path().filename().string();
  auto km = lora_key_map(unet_cfg, unet_weights, clip_weights);
  LoraMerge out;
  std::set<std::string> used;
  for (auto& [name, target] : km) {
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
    const bool to_unet = target.target == LoraTarget::UNet;
    const double strength = to_unet ? strength_model : strength_clip;
    const TensorMap& weights = to_unet ? *unet_weights : *clip_weights;
    used.insert(up_key);
    used.insert(down_key);
    const std::string alpha_key = name + ".alpha", mid_key = name + ".lora_mid.weight";
    if (lora.contains(alpha_key)) used.insert(alpha_key);
    if (lora.contains(mid_key)) used.insert(mid_key);
    if (lora.contains(name + ".dora_scale")) {
      used.insert(name + ".dora_scale");
      spdlog::warn("LoRA {}: DoRA scale of '{}' is not supported; applying it as a plain LoRA", fname, name);
    }
    if (strength == 0.0) continue;

    const at::Tensor& w = (to_unet ? out.unet : out.clip).count(target.key) ? (to_unet ? out.unet : out.clip)[target.key]
                                                                             : weights.at(target.key);
    auto up = lora.get(up_key).to(w.device()).to(at::kFloat);      // [out, rank, (1, 1)]
    auto down = lora.get(down_key).to(w.device()).to(at::kFloat);  // [rank, in, (k, k)]
    const int64_t rank = down.size(0);
    double scale = 1.0;
    if (lora.contains(alpha_key)) scale = lora.get(alpha_key).to(at::kDouble).item<double>() / double(rank);
    if (lora.contains(mid_key)) {  // LoCon with a middle (Tucker) factor
      auto mid = lora.get(mid_key).to(w.device()).to(at::kFloat);
      std::vector<int64_t> final_shape = {down.size(1), down.size(0), mid.size(2), mid.size(3)};
      down = at::mm(down.transpose(0, 1).flatten(1), mid.transpose(0, 1).flatten(1)).reshape(final_shape).transpose(0, 1);
    }
    at::Tensor diff;
    try {
      diff = at::mm(up.flatten(1), down.flatten(1)).reshape(w.sizes());  // [out, in, ...]
    } catch (const std::exception&) {  // c10::Error (a shape that does not fit)
      // ComfyUI logs "ERROR lora <key> ..." and leaves that weight alone (e.g. an SDXL LoRA on SD1.5).
      spdlog::error("LoRA {}: '{}' does not fit weight '{}' of shape {}; skipped", fname, name, target.key,
                    c10::str(w.sizes()));
      out.shape_mismatch.push_back(name);
      continue;
    }
    auto merged = (w.to(at::kFloat) + diff * (strength * scale)).to(w.scalar_type());
    (to_unet ? out.unet : out.clip)[target.key] = merged;
  }
  for (const auto& k : lora.names())
    if (!used.count(k)) out.not_loaded.push_back(k);
  for (size_t i = 0; i < out.not_loaded.size() && i < 5; ++i) spdlog::warn("lora key not loaded: {}", out.not_loaded[i]);
  if (out.not_loaded.size() > 5) spdlog::warn("... and {} more LoRA keys not loaded", out.not_loaded.size() - 5);
  if (!out.shape_mismatch.empty())
    spdlog::warn("LoRA {}: {} module(s) did not fit this model's weights and were skipped (a LoRA for another model "
                 "family?)", fname, out.shape_mismatch.size());
  return out;
}

}  // namespace comfy
