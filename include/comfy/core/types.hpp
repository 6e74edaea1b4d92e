#pragma once
// The object types that flow on links, in ComfyUI's vocabulary (workflow-execution.md 6.4).
#include <ATen/core/Tensor.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "comfy/core/value.hpp"

namespace comfy {

// LATENT: {"samples": [B,C,H,W] in user (VAE-unscaled) space, optional "noise_mask", "batch_index"}.
struct Latent : Object {
  at::Tensor samples;
  std::optional<at::Tensor> noise_mask;               // [B or 1, 1, H, W]
  std::optional<std::vector<int64_t>> batch_index;
  std::string type_name() const override { return "LATENT"; }

  // A shallow copy with new samples (ComfyUI: out = latent.copy(); out["samples"] = s).
  std::shared_ptr<Latent> with_samples(at::Tensor s) const {
    auto l = std::make_shared<Latent>(*this);
    l->samples = std::move(s);
    return l;
  }
};

// One entry of a CONDITIONING list: [cross_attn tensor [B, tokens, dim], options dict].
struct CondArea {  // ConditioningSetArea, in latent pixels (already divided by 8)
  int64_t height = 0, width = 0, y = 0, x = 0;
};
struct CondEntry {
  at::Tensor cross_attn;                    // [B, tokens, dim]
  std::optional<at::Tensor> pooled_output;  // [B, dim]
  std::optional<CondArea> area;
  double strength = 1.0;
  bool set_area_to_bounds = false;
  std::optional<at::Tensor> mask;
  double mask_strength = 1.0;
  std::optional<double> start_percent, end_percent;
  std::map<std::string, Value> extra;       // anything else a node attaches (open set)
};
struct Conditioning : Object {
  std::vector<CondEntry> entries;
  std::string type_name() const override { return "CONDITIONING"; }
};

// SIGMAS is a 1-D float tensor; IMAGE [B,H,W,C] float 0..1; MASK [B,H,W] float 0..1 — held as at::Tensor.

}  // namespace comfy
