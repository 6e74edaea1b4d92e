#pragma once
// LBW_MODEL (Inspire lora_block_weight.py): LoRA patches keyed by ComfyUI model key with their block
// ratio, plus the muted keys; made by MakeLBW / LoadLBW, applied by ApplyLBW and LoraLoaderBlockWeight.
#include <memory>
#include <string>
#include <vector>

#include "comfy/core/node.hpp"
#include "comfy/models/clip.hpp"
#include "comfy/models/lora.hpp"
#include "comfy/models/model.hpp"

namespace comfy::lbw {

struct LbwModel : Object {
  struct Block {
    std::shared_ptr<const LoraModule> patch;  // patch->model_key is the key
    double ratio = 1.0;
  };
  std::vector<Block> blocks;       // in the order load_lbw produced them
  std::vector<std::string> muted;  // keys with ratio 0 (never applied)
  std::string type_name() const override { return "LBW_MODEL"; }
};

// load_lbw on the node's inputs (model, clip, lora_name, inverse, seed, A, B, block_vector).
// Returns the LBW_MODEL and populated_vector.
std::pair<std::shared_ptr<LbwModel>, std::string> make_lbw(const NodeInputs& in, ExecContext& ctx);

struct Patched {
  std::shared_ptr<const Model> model;
  std::shared_ptr<const Clip> clip;
};
// ApplyLBW: a clone of model and clip with every non-muted block patched at strength * ratio; keys with
// "text" in their name go to the CLIP, the others to the UNet (ComfyUI ignores keys a model lacks).
Patched apply_lbw(std::shared_ptr<const Model> model, std::shared_ptr<const Clip> clip, const LbwModel& lbw,
                  double strength_model, double strength_clip);

}  // namespace comfy::lbw
