#pragma once
// CLIP: tokenizer + text encoder + clip-skip setting (ComfyUI's CLIP object).
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "comfy/core/runtime.hpp"
#include "comfy/core/types.hpp"

namespace comfy {
namespace io { class SafeTensors; }

struct TextEncoder {  // implemented by models/clip.cpp (SD1 CLIP-L) and the built-in shapes encoder
  virtual ~TextEncoder() = default;
  // Encodes a prompt with ComfyUI's syntax into one CONDITIONING entry list.
  // layer_idx: CLIPSetLastLayer's stop_at_clip_layer (-1 = last).
  virtual std::vector<CondEntry> encode(const std::string& text, int64_t layer_idx) = 0;
  // LoRA support (LoraLoader): the encoder's weights keyed as in the checkpoint below
  // "cond_stage_model.transformer." ("text_model.encoder.layers.0.mlp.fc1.weight", ...), and a new
  // encoder sharing every tensor except `replaced`. nullptr / nullptr = the encoder cannot be patched.
  virtual const std::map<std::string, at::Tensor>* lora_weights() const { return nullptr; }
  virtual std::shared_ptr<TextEncoder> with_weights(const std::map<std::string, at::Tensor>& /*replaced*/) const {
    return nullptr;
  }
};

struct Clip : Object {
  std::shared_ptr<TextEncoder> encoder;
  int64_t layer_idx = -1;  // set by CLIPSetLastLayer
  std::string type_name() const override { return "CLIP"; }
};

// SD1.x CLIP-L from a checkpoint (keys under `prefix`, e.g. "cond_stage_model.transformer.").
std::shared_ptr<Clip> load_sd1_clip(std::shared_ptr<io::SafeTensors> st, const std::string& prefix,
                                    const RuntimeConfig& cfg);

}  // namespace comfy
