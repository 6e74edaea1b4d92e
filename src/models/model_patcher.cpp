// Lazy "diff" patches on a UNet (ComfyUI comfy/model_patcher.py add_patches + comfy/lora.py calculate_weight).
#include "comfy/models/model_patcher.hpp"

#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

#include "comfy/core/error.hpp"
#include "comfy/models/unet.hpp"

namespace comfy {

namespace {

const UNetModel* as_unet(const DiffusionNet& net) { return dynamic_cast<const UNetModel*>(&net); }
const PatchedUNet* as_patched(const DiffusionNet& net) { return dynamic_cast<const PatchedUNet*>(&net); }

}  // namespace

PatchedUNet::PatchedUNet(std::shared_ptr<DiffusionNet> base, std::map<std::string, std::vector<WeightPatch>> patches)
    : base_(std::move(base)), patches_(std::move(patches)) {
  if (!base_ || (!as_unet(*base_) && !as_patched(*base_)))
    throw Error("execution_error", "weight patches need a UNet model");
}

bool PatchedUNet::built() const {
  std::lock_guard<std::mutex> l(mu_);
  return built_ != nullptr;
}

at::Tensor PatchedUNet::weight(const std::string& key) const {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (built_) {
      auto it = built_->weights().find(key);
      return it == built_->weights().end() ? at::Tensor() : it->second;
    }
  }
  at::Tensor w = unet_weight(*base_, key);
  auto it = patches_.find(key);
  if (!w.defined() || it == patches_.end()) return w;
  // calculate_weight on a float32 copy, then back to the stored dtype.
  at::Tensor out = w.to(at::kFloat, /*non_blocking=*/false, /*copy=*/true);
  for (const auto& p : it->second) {
    if (p.strength_model != 1.0) out.mul_(p.strength_model);
    at::Tensor w2 = unet_weight(*p.source, key);
    if (!w2.defined()) continue;
    if (w2.sizes() != out.sizes()) {
      spdlog::warn("WARNING SHAPE MISMATCH diffusion_model.{} WEIGHT NOT MERGED {} != {}", key, c10::str(w2.sizes()),
                   c10::str(out.sizes()));
      continue;
    }
    out.add_(w2.to(out.device(), at::kFloat) * p.strength_patch);
  }
  return out.to(w.scalar_type());
}

std::shared_ptr<UNetModel> PatchedUNet::unet() const {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (built_) return built_;
  }
  auto base = resolve_unet(base_);
  TensorMap replaced;
  for (auto& [key, _] : patches_)
    if (base->weights().count(key)) replaced[key] = weight(key);
  auto net = base->with_weights(replaced);
  std::lock_guard<std::mutex> l(mu_);
  if (!built_) built_ = net;
  return built_;
}

at::Tensor PatchedUNet::forward(const at::Tensor& x_in, const at::Tensor& t, const ModelConds& c) {
  return unet()->forward(x_in, t, c);
}

std::shared_ptr<UNetModel> resolve_unet(const std::shared_ptr<DiffusionNet>& net) {
  if (auto u = std::dynamic_pointer_cast<UNetModel>(net)) return u;
  if (auto p = std::dynamic_pointer_cast<PatchedUNet>(net)) return p->unet();
  return nullptr;
}

at::Tensor unet_weight(const DiffusionNet& net, const std::string& key) {
  if (auto* u = as_unet(net)) {
    auto it = u->weights().find(key);
    return it == u->weights().end() ? at::Tensor() : it->second;
  }
  if (auto* p = as_patched(net)) return p->weight(key);
  return at::Tensor();
}

std::vector<std::string> unet_keys(const DiffusionNet& net) {
  if (auto* p = as_patched(net)) return unet_keys(*p->base());  // patches never add or remove keys
  if (auto* u = as_unet(net)) return u->keys();
  return {};
}

}  // namespace comfy
