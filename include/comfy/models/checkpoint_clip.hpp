#pragma once
// The CLIP object of a single-file checkpoint, by text-encoder kind (ComfyUI supported_models.*.clip_target):
// the seam between family detection (models/checkpoint.cpp) and the text encoders (models/clip*.cpp).
#include <memory>
#include <string>

#include "comfy/core/runtime.hpp"
#include "comfy/models/clip.hpp"
#include "comfy/models/weights.hpp"

namespace comfy {

// SD1: CLIP-L under "cond_stage_model.transformer."; SD2: OpenCLIP ViT-H under "cond_stage_model.model.";
// SDXL: CLIP-L "conditioner.embedders.0.transformer." + OpenCLIP bigG "conditioner.embedders.1.model.";
// SDXLRefiner: bigG alone under "conditioner.embedders.0.model.".
enum class ClipKind { SD1, SD2, SDXL, SDXLRefiner };

// `state_dict`: the whole checkpoint, keys as stored in the file (tensor views keep their file alive).
// `what` names the file in messages. Returns null when the file holds no text encoder of that kind.
std::shared_ptr<Clip> load_checkpoint_clip(const TensorMap& state_dict, ClipKind kind, const RuntimeConfig& cfg,
                                           const std::string& what);

}  // namespace comfy
