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
  // Joined to the scaled input: inpainting models [B, 5, H, W] = mask, masked-image latent
  // (Model::concat_cond); instruct-pix2pix [B, Cc, H, W].
  std::optional<at::Tensor> c_concat;
};

// ComfyUI's model_base.ModelType of a loaded checkpoint (what CheckpointSave writes back); patches such
// as ModelSamplingDiscrete change `sampling`, never this.
enum class ModelType { EPS, V_PREDICTION, V_PREDICTION_EDM };

// Which adm vector `y` the network takes (ComfyUI model_base.SDXL / SDXLRefiner encode_adm).
enum class AdmKind { None, SDXL, SDXLRefiner };

struct DiffusionNet {
  virtual ~DiffusionNet() = default;
  // x_in: model input (already calculate_input-scaled) [B,C,H,W] in the net's dtype;
  // t: float timesteps [B]. Returns the raw prediction [B,C,H,W].
  virtual at::Tensor forward(const at::Tensor& x_in, const at::Tensor& t, const ModelConds& c) = 0;
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
  AdmKind adm = AdmKind::None;
  ModelType model_type = ModelType::EPS;
  bool inpaint = false;                        // 9-channel UNet: concat_keys (mask, masked_image)
  // 8-channel instruct-pix2pix UNet (model_base.IP2P): concat_latent_image (zeros when absent) joined
  // to the input; ip2p_process_in: through the latent format's process_in first (CosXL edit).
  bool ip2p = false;
  bool ip2p_process_in = false;

  std::string type_name() const override { return "MODEL"; }

  // BaseModel._apply_model: xc = calculate_input(sigma, x) -> net dtype; t = timestep(sigma);
  // out = net(xc, t, conds); denoised = calculate_denoised(sigma, out.float(), x).
  at::Tensor apply_model(const at::Tensor& x, const at::Tensor& sigma, const ModelConds& conds) const;
  // The same with one sigma for the whole batch (a sampler step): input scale, timestep and denoised
  // factors on the host, bit-identical to the tensor version.
  at::Tensor apply_model(const at::Tensor& x, float sigma, const ModelConds& conds) const;

  // BaseModel.extra_conds, per conditioning entry (models/extra_conds.cpp, spec M4 and M7).
  // The adm vector y [B, adm] (nullopt when the model takes none): width/height default to the
  // latent's pixel size; `negative` picks the refiner's default aesthetic score.
  std::optional<at::Tensor> encode_adm(const CondEntry& e, int64_t width, int64_t height, bool negative) const;
  // The concat input for a noise of `noise_shape` (nullopt unless `inpaint` or `ip2p`).
  // Inpainting [B, 5, H, W]: latent_image is the sampled latent after process_in (undefined when
  // empty), denoise_mask the sampler's mask reshaped to the noise (undefined when none); the entry may
  // override both with concat_latent_image / concat_mask (InpaintModelConditioning).
  // instruct-pix2pix [B, 4, H, W]: the entry's concat_latent_image (InstructPixToPixConditioning).
  std::optional<at::Tensor> concat_cond(const CondEntry& e, at::IntArrayRef noise_shape, const at::Tensor& latent_image,
                                        const at::Tensor& denoise_mask) const;
};

}  // namespace comfy
