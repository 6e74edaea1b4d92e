#pragma once
// LoRA files for SD1.x, SD2 and SDXL (kohya lora_unet_* / lora_te*_*, diffusers and PEFT names): merged
// weights W' = W + strength * (alpha / rank) * up @ down, computed in float32 and cast back to W's dtype.
#include <ATen/core/Tensor.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "comfy/models/unet.hpp"
#include "comfy/models/weights.hpp"

namespace comfy {
namespace io { class SafeTensors; }

enum class LoraTarget { UNet, Clip };
struct LoraKeyTarget {
  LoraTarget target;
  std::string key;  // weight key in the target's own map ("input_blocks.1.1.proj_in.weight")
};

// Name conversion (src/models/lora_keys.cpp): every LoRA module name that may target a weight of the
// UNet (given its config and weights) or the CLIP text encoders (TextEncoder::lora_weights: keyed by
// ComfyUI's state-dict names "clip_l.transformer.text_model....", "clip_g....", "clip_h....").
std::map<std::string, LoraKeyTarget> lora_key_map(const UNetConfig* unet_cfg, const TensorMap* unet_weights,
                                                  const TensorMap* clip_weights);
// ComfyUI unet_to_diffusers: diffusers module key -> LDM key (".weight"/".bias" names).
std::map<std::string, std::string> unet_to_diffusers(const UNetConfig& cfg);

struct LoraMerge {
  TensorMap unet;                         // replaced UNet weights
  TensorMap clip;                         // replaced CLIP weights
  std::vector<std::string> not_loaded;    // LoRA tensors no weight took
  std::vector<std::string> shape_mismatch;  // LoRA modules whose product does not fit their weight (skipped)
};
// Computes the patched weights (the inputs are not modified). A null weight map skips that target.
LoraMerge merge_lora(const io::SafeTensors& lora, const UNetConfig* unet_cfg, const TensorMap* unet_weights,
                     double strength_model, const TensorMap* clip_weights, double strength_clip);

// One LoRA module as ComfyUI's comfy.lora.load_lora finds it (a LoRAAdapter), under ComfyUI's model key.
struct LoraModule {
  std::string model_key;  // "diffusion_model.input_blocks.1.1.proj_in.weight", "clip_l.transformer.text_model...."
  LoraTarget target;
  std::string key;        // the weight's key in the target's own map (lora_key_map)
  at::Tensor up, down;    // float32, CPU
  std::optional<at::Tensor> mid;
  std::optional<double> alpha;  // the file's alpha; the scale is alpha / rank (1 without alpha)
  double scale() const { return alpha ? *alpha / double(down.size(0)) : 1.0; }
};
struct LoadedLora {
  std::vector<LoraModule> modules;        // in load_lora's order (the model state-dict order, UNet first)
  std::vector<std::string> not_loaded;    // LoRA tensors no weight took
};
LoadedLora load_lora_modules(const io::SafeTensors& lora, const UNetConfig* unet_cfg, const TensorMap* unet_weights,
                             const TensorMap* clip_weights);
// calculate_weight for one LoRA patch: W + strength * scale * (up @ down), in float32, cast back to W's dtype.
at::Tensor lora_patched_weight(const at::Tensor& w, const LoraModule& m, double strength);
// Orders ComfyUI model keys as torch's state_dict() lists them for the UNet / CLIP modules.
bool state_dict_order_less(const std::string& a, const std::string& b);

}  // namespace comfy
