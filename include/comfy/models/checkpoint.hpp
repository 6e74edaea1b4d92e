#pragma once
// Single-file checkpoints (CheckpointLoaderSimple): architecture detection from key names and shapes
// (ComfyUI model_detection.py) and the MODEL / CLIP / VAE built from one file.
#include <filesystem>
#include <memory>
#include <string>

#include "comfy/core/runtime.hpp"
#include "comfy/models/clip.hpp"
#include "comfy/models/model.hpp"
#include "comfy/models/vae.hpp"
#include "comfy/models/weights.hpp"

namespace comfy {
// The family's text-encoder keys; a checkpoint whose keys belong to another family's text encoder is
// refused as a mix (returns "" when fine, else what was found).
struct ModelFamily;
std::string mixed_family_keys(const TensorMap& sd, const ModelFamily& family);

struct LoadedCheckpoint {
  std::shared_ptr<Model> model;
  std::shared_ptr<Clip> clip;  // null when the file has no text encoder
  std::shared_ptr<Vae> vae;    // null when the file has no VAE
};
// .safetensors or pickled .ckpt/.pt/.pth (models/state_dict.hpp); the family from models/model_family.hpp.
// Throws comfy::Error naming the file (truncated/corrupt file, unsupported family, missing weights).
LoadedCheckpoint load_checkpoint(const std::filesystem::path& path, const RuntimeConfig& cfg, bool want_clip = true,
                                 bool want_vae = true);

}  // namespace comfy
