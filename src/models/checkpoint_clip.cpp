#include "comfy/models/checkpoint_clip.hpp"

#include "comfy/core/error.hpp"

namespace comfy {

namespace {
TensorMap under(const TensorMap& sd, const std::string& prefix) {
  TensorMap out;
  for (auto it = sd.lower_bound(prefix); it != sd.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it)
    out.emplace(it->first.substr(prefix.size()), it->second);
  return out;
}
}  // namespace

std::shared_ptr<Clip> load_checkpoint_clip(const TensorMap& state_dict, ClipKind kind, const RuntimeConfig& cfg,
                                           const std::string& what) {
  switch (kind) {
    case ClipKind::SD1: {
      auto te = under(state_dict, "cond_stage_model.transformer.");
      if (te.empty()) return nullptr;
      return load_sd1_clip(te, cfg, what);
    }
    default:
      throw Error("invalid_checkpoint", "the text encoders of " + what + " are not supported yet");
  }
}

}  // namespace comfy
