#pragma once
// Stand-alone text-encoder files (CLIPLoader, DualCLIPLoader): ComfyUI sd.load_text_encoder_state_dicts
// and detect_te_model for the CLIP families we run.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "comfy/core/runtime.hpp"
#include "comfy/models/clip.hpp"
#include "comfy/models/weights.hpp"

namespace comfy {

// detect_te_model, on HF names: encoder.layers.30 -> bigG, .22 -> ViT-H, .0 -> CLIP-L.
enum class TextEncoderModel { None, ClipL, ClipH, ClipG };
TextEncoderModel detect_te_model(const TensorMap& hf);
const char* te_model_name(TextEncoderModel m);

struct TextEncoderFile {
  TensorMap tensors;  // as stored in the file
  std::string name;   // for messages
};

// clip_type: CLIPLoader's / DualCLIPLoader's `type`. One file with "stable_diffusion": CLIP-L -> SD1 CLIP,
// ViT-H -> SD2 CLIP, bigG -> the SDXL refiner's CLIP. Two files with "sdxl": CLIP-L + bigG -> SDXL CLIP.
// Throws comfy::Error naming the files and what was found for any other combination or layout.
std::shared_ptr<Clip> load_clip_files(const std::vector<TextEncoderFile>& files, const std::string& clip_type,
                                      const RuntimeConfig& cfg);

}  // namespace comfy
