#pragma once
// LoRA files for SD1.x (kohya lora_unet_* / lora_te_*, diffusers and PEFT names): merged weights
// W' = W + strength * (alpha / rank) * up @ down, computed in float32 and cast back to W's dtype.
#include <ATen/core/Tensor.h>

#include <map>
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
// UNet (given its config and weights) or the CLIP text encoder (weights keyed "text_model....").
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

}  // namespace comfy
