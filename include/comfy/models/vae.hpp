#pragma once
// VAE (AutoencoderKL): IMAGE [B,H,W,3] 0..1 <-> LATENT samples [B,4,H/8,W/8] (user space).
#include <ATen/core/Tensor.h>

#include <memory>
#include <string>

#include "comfy/core/runtime.hpp"
#include "comfy/core/types.hpp"

namespace comfy {
namespace io { class SafeTensors; }

struct VaeNet {
  virtual ~VaeNet() = default;
  virtual at::Tensor decode(const at::Tensor& latent) = 0;  // [B,4,h,w] -> IMAGE [B,H,W,3] in 0..1 (CPU f32)
  virtual at::Tensor encode(const at::Tensor& image) = 0;   // IMAGE [B,H,W,3] -> [B,4,h,w] (CPU f32)
  virtual int64_t downscale() const { return 8; }
  virtual int64_t latent_channels() const { return 4; }
};

struct Vae : Object {
  std::shared_ptr<VaeNet> net;
  std::string type_name() const override { return "VAE"; }
};

// AutoencoderKL from checkpoint keys under `prefix` ("first_stage_model." in a checkpoint, "" in a VAE file).
std::shared_ptr<Vae> load_vae(std::shared_ptr<io::SafeTensors> st, const std::string& prefix, const RuntimeConfig& cfg);

}  // namespace comfy
