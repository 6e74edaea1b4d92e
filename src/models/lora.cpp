// Merging a LoRA into weights (ComfyUI comfy/lora.py load_lora + weight_adapter/lora.py calculate_weight).
#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

#include <set>

#include "comfy/core/error.hpp"
#include "comfy/io/safetensors.hpp"
#include "comfy/models/lora.hpp"

namespace comfy {

LoraMerge merge_lora(const io::SafeTensors& lora, const UNetConfig* unet_cfg, const TensorMap* unet_weights,
                     double strength_model, const TensorMap* clip_weights, double strength_clip) {
  // One patch per module in load_lora's order (a module spelled twice counts once, as in ComfyUI).
  LoadedLora loaded = load_lora_modules(lora, unet_cfg, unet_weights, clip_weights);
  LoraMerge out;
  for (const auto& m : loaded.modules) {
    const bool to_unet = m.target == LoraTarget::UNet;
    const double strength = to_unet ? strength_model : strength_clip;
    if (strength == 0.0) continue;
    TensorMap& dst = to_unet ? out.unet : out.clip;
    const TensorMap& weights = to_unet ? *unet_weights : *clip_weights;
    const at::Tensor& w = dst.count(m.key) ? dst[m.key] : weights.at(m.key);
    try {
      dst[m.key] = lora_patched_weight(w, m, strength);
    } catch (const Error& e) {
      // ComfyUI logs "ERROR lora <key> ..." and leaves that weight alone (e.g. an SDXL LoRA on SD1.5).
      spdlog::error("LoRA {}: {}; skipped", lora.path().filename().string(), e.what());
      out.shape_mismatch.push_back(m.model_key);
    }
  }
  out.not_loaded = std::move(loaded.not_loaded);
  if (out.not_loaded.size() > 5) spdlog::warn("... and {} more LoRA keys not loaded", out.not_loaded.size() - 5);
  if (!out.shape_mismatch.empty())
    spdlog::warn("LoRA {}: {} module(s) did not fit this model's weights and were skipped (a LoRA for another model "
                 "family?)", lora.path().filename().string(), out.shape_mismatch.size());
  return out;
}

}  // namespace comfy
