#pragma once
// Makes a checkpoint's CLIP text encoder patchable by LoraLoader without copying it up front: the
// wrapper keeps the file's tensor views by key, and a patched copy is rebuilt from them plus the
// replaced weights (ComfyUI keeps text-encoder weights in the file's storage dtype and patches those).
#include <memory>
#include <string>

#include "comfy/core/runtime.hpp"
#include "comfy/models/clip.hpp"

namespace comfy {

// `prefix` as given to load_sd1_clip ("cond_stage_model.transformer.").
std::shared_ptr<TextEncoder> make_lora_capable(std::shared_ptr<TextEncoder> encoder,
                                               std::shared_ptr<io::SafeTensors> st, const std::string& prefix,
                                               const RuntimeConfig& cfg);

}  // namespace comfy
