// CheckpointLoaderSimple's engine: one file -> MODEL, CLIP, VAE (ComfyUI sd.load_state_dict_guess_config).
#include "comfy/models/checkpoint.hpp"

#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

#include "comfy/core/error.hpp"
#include "comfy/models/checkpoint_clip.hpp"
#include "comfy/models/model_family.hpp"
#include "comfy/models/state_dict.hpp"
#include "comfy/models/weights.hpp"

namespace comfy {

namespace {
bool any_under(const TensorMap& sd, const std::string& prefix) {
  auto it = sd.lower_bound(prefix);
  return it != sd.end() && it->first.compare(0, prefix.size(), prefix) == 0;
}
}  // namespace

std::string mixed_family_keys(const TensorMap& sd, const ModelFamily& family) {
  // Text-encoder key prefixes by the kind that owns them (spec M1).
  const bool sd1_te = any_under(sd, "cond_stage_model.transformer."), sd2_te = any_under(sd, "cond_stage_model.model.");
  const bool xl_l = any_under(sd, "conditioner.embedders.0.transformer."), xl_g = any_under(sd, "conditioner.embedders.1.");
  std::string other;
  switch (family.clip) {
    case ClipKind::SD1:
    case ClipKind::SD2:
      if (xl_l || xl_g) other = "SDXL text-encoder keys (conditioner.embedders.*)";
      break;
    case ClipKind::SDXL:
      if (sd1_te || sd2_te) other = "SD1.x/SD2.x text-encoder keys (cond_stage_model.*)";
      break;
    case ClipKind::SDXLRefiner:
      if (sd1_te || sd2_te) other = "SD1.x/SD2.x text-encoder keys (cond_stage_model.*)";
      else if (xl_l || xl_g) other = "SDXL base text-encoder keys (conditioner.embedders.0.transformer / 1.*)";
      break;
  }
  if (family.clip == ClipKind::SD1 && sd2_te) other = "SD2.x text-encoder keys (cond_stage_model.model.*)";
  if (family.clip == ClipKind::SD2 && sd1_te) other = "SD1.x text-encoder keys (cond_stage_model.transformer.*)";
  return other.empty() ? "" : other + " next to an " + family.display + " UNet";
}

LoadedCheckpoint load_checkpoint(const std::filesystem::path& path, const RuntimeConfig& cfg, bool want_clip,
                                 bool want_vae) {
  const std::string fname = path.filename().string();
  const TensorMap sd = load_state_dict(path);
  const DetectedModel det = detect_model(sd);
  if (!det.family)
    throw Error("invalid_checkpoint", "checkpoint " + fname + " is not a model comfy-native can run (found: " + det.found + ")");
  if (auto mix = mixed_family_keys(sd, *det.family); !mix.empty())
    throw Error("invalid_checkpoint", "checkpoint " + fname + " mixes model families: " + mix);

  LoadedCheckpoint out;
  out.model = build_model(det, tensors_under(sd, det.unet_prefix), cfg, fname);
  out.model->info["file"] = path.string();
  if (want_clip) out.clip = load_checkpoint_clip(sd, det.family->clip, cfg, fname);
  if (want_vae && any_under(sd, "first_stage_model.")) out.vae = load_vae(tensors_under(sd, "first_stage_model."), fname, cfg);
  spdlog::info("loaded {}: {}", fname, det.found);
  return out;
}

}  // namespace comfy
