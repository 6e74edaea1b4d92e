#pragma once
// Lazy weight patches on a UNet, as ComfyUI's ModelPatcher.add_patches keeps them (model merging): the
// patched network is built the first time it is used, and a single patched weight can be computed on its
// own (a merge of a merge asks its source for one key at a time). No weight is copied before that.
#include <ATen/core/Tensor.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "comfy/models/model.hpp"

namespace comfy {

class UNetModel;

// One entry of ModelPatcher.patches[key] holding a "diff" weight: W = strength_model * W + strength_patch * W2,
// where W2 is `source`'s (patched) weight of the same key.
struct WeightPatch {
  double strength_patch = 1.0;
  double strength_model = 1.0;
  std::shared_ptr<DiffusionNet> source;
};

class PatchedUNet : public DiffusionNet {
 public:
  // `base` is a UNetModel or another PatchedUNet; keys not in `patches` keep base's tensors (shared).
  PatchedUNet(std::shared_ptr<DiffusionNet> base, std::map<std::string, std::vector<WeightPatch>> patches);
  at::Tensor forward(const at::Tensor& x_in, const at::Tensor& t, const ModelConds& c) override;

  // The patched network (built once, thread-safe).
  std::shared_ptr<UNetModel> unet() const;
  // One patched weight, computed alone unless the network is already built.
  at::Tensor weight(const std::string& key) const;
  bool built() const;
  const std::shared_ptr<DiffusionNet>& base() const { return base_; }
  const std::map<std::string, std::vector<WeightPatch>>& patches() const { return patches_; }

 private:
  std::shared_ptr<DiffusionNet> base_;
  std::map<std::string, std::vector<WeightPatch>> patches_;
  mutable std::mutex mu_;
  mutable std::shared_ptr<UNetModel> built_;
};

// The UNet behind a MODEL (building pending patches), or nullptr for other networks.
std::shared_ptr<UNetModel> resolve_unet(const std::shared_ptr<DiffusionNet>& net);
// A UNet parameter by key (without "diffusion_model."), patched; undefined tensor when the net has no such key.
at::Tensor unet_weight(const DiffusionNet& net, const std::string& key);
// Every parameter key of the UNet behind `net` (without building pending patches).
std::vector<std::string> unet_keys(const DiffusionNet& net);

}  // namespace comfy
