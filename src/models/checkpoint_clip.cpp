#include "comfy/models/checkpoint_clip.hpp"

#include "comfy/core/error.hpp"
#include "comfy/models/family_clip.hpp"

namespace comfy {

namespace {

// The first prefix that holds a text tower (supported_models.*.process_clip_state_dict prefixes).
TensorMap tower(const TensorMap& sd, std::initializer_list<const char*> prefixes) {
  for (const char* p : prefixes) {
    auto t = clip_text_tensors(tensors_under(sd, p));
    if (!t.empty()) return t;
  }
  return {};
}
}  // namespace

std::shared_ptr<Clip> load_checkpoint_clip(const TensorMap& state_dict, ClipKind kind, const RuntimeConfig& cfg,
                                           const std::string& what) {
  switch (kind) {
    case ClipKind::SD1: {
      auto te = tensors_under(state_dict, "cond_stage_model.transformer.");
      if (te.empty()) return nullptr;
      return load_sd1_clip(te, cfg, what);
    }
    case ClipKind::SD2: {
      auto h = tower(state_dict, {"cond_stage_model.model.", "conditioner.embedders.0.model."});
      if (h.empty()) return nullptr;
      return load_family_clip(ClipFamily::SD2, {}, h, cfg, what);
    }
    case ClipKind::SDXL: {
      auto l = tower(state_dict, {"conditioner.embedders.0.transformer."});
      auto g = tower(state_dict, {"conditioner.embedders.1.model."});
      if (l.empty() && g.empty()) return nullptr;
      return load_family_clip(ClipFamily::SDXL, l, g, cfg, what);
    }
    case ClipKind::SDXLRefiner: {
      auto g = tower(state_dict, {"conditioner.embedders.0.model."});
      if (g.empty()) return nullptr;
      return load_family_clip(ClipFamily::SDXLRefiner, {}, g, cfg, what);
    }
  }
  throw Error("invalid_checkpoint", "unknown text-encoder kind for " + what);
}

}  // namespace comfy
