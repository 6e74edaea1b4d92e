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

namespace comfy {
namespace io { class SafeTensors; }

struct DetectedCheckpoint {
  std::string family;        // "SD15" when supported; otherwise what was found ("SDXL", "SD2.x", ...)
  bool supported = false;
  std::string unet_prefix;   // "model.diffusion_model."
  std::string reason;        // why it is not supported (names the keys / shapes seen)
};
DetectedCheckpoint detect_checkpoint(const io::SafeTensors& st);

struct LoadedCheckpoint {
  std::shared_ptr<Model> model;
  std::shared_ptr<Clip> clip;  // null when the file has no text encoder
  std::shared_ptr<Vae> vae;    // null when the file has no VAE
};
// Throws comfy::Error naming the file (truncated/corrupt file, unsupported family, missing weights).
LoadedCheckpoint load_checkpoint(const std::filesystem::path& path, const RuntimeConfig& cfg, bool want_clip = true,
                                 bool want_vae = true);

}  // namespace comfy
