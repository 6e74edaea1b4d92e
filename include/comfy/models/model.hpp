#pragma once
// MODEL: a diffusion network plus how it is sampled (ComfyUI's ModelPatcher + BaseModel).
// The network only maps (scaled x, timestep, conds) -> raw output (eps / v); BaseModel's
// input scaling and denoised computation live in ModelSampling (sampling-schedules.md S2).
#include <ATen/core/Tensor.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "comfy/core/types.hpp"
#include "comfy/sampling/model_sampling.hpp"

namespace comfy {

// ControlNet residuals for one model call (ComfyUI's merged control dict): `output[i]` is added to the
// skip tensor saved after input block i, `middle[0]` to the middle-block output, `input` after input
// blocks (empty for SD ControlNets). An undefined tensor is None (skipped).
struct ControlResiduals {
  std::vector<at::Tensor> input, middle, output;
};

// What one model call receives besides x and t: the concatenated conditioning of the batch.
struct ModelConds {
  at::Tensor c_crossattn;           // [B, tokens, dim]
  std::optional<at::Tensor> y;      // SDXL adm vector [B, adm_in]
  std::shared_ptr<const ControlResiduals> control;  // null = no ControlNet
  std::optional<at::Tensor> c_concat; // [B, Cc, H, W] joined to the scaled input (instruct-pix2pix)
};

struct DiffusionNet {
  virtual ~DiffusionNet() = default;
  // x_in: model input (already calculate_input-scaled) [B,C,H,W] in the net's dtype;
  // t: float timesteps [B]. Returns the raw prediction [B,C,H,W].
  virtual at::Tensor forward(const at::Tensor& x_in, const at::Tensor& t, const ModelConds& c) = 0;
  // SDXL-style ADM vector for one conditioning entry (nullopt for SD1.x / toy models).
  virtual std::optional<at::Tensor> encode_adm(const CondEntry&, int64_t /*width*/, int64_t /*height*/) {
    return std::nullopt;
  }
  virtual void to(c10::Device, c10::ScalarType) {}
};

struct Model : Object {
  std::shared_ptr<DiffusionNet> net;
  std::shared_ptr<const ModelSampling> sampling;
  LatentFormat latent_format;
  std::string family = "SD15";                 // "SD15", "SDXL", "toy", "builtin:shapes", ...
  c10::ScalarType dtype = c10::kFloat;         // dtype the net computes in
  c10::Device device = c10::Device(c10::kCPU);
  std::map<std::string, std::string> info;     // free-form description (detected config, file name)

  std::string type_name() const override { return "MODEL"; }

  // BaseModel._apply_model: xc = calculate_input(sigma, x) -> net dtype; t = timestep(sigma);
  // out = net(xc, t, conds); denoised = calculate_denoised(sigma, out.float(), x).
  at::Tensor apply_model(const at::Tensor& x, const at::Tensor& sigma, const ModelConds& conds) const;
  // The same with one sigma for the whole batch (a sampler step): input scale, timestep and denoised
  // factors on the host, bit-identical to the tensor version.
  at::Tensor apply_model(const at::Tensor& x, float sigma, const ModelConds& conds) const;
};

}  // namespace comfy
