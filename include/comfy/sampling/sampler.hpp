#pragma once
// The sampler interface (sampling-samplers.md). A sampler is one function over a SamplerRun;
// sigmas live on the host (f32, the schedule handed to the sampler, already sliced), tensors on the
// compute device. Scalar arithmetic on sigmas is done on the host in float, in the reference's order
// (the CPU reference computes them as 0-d f32 tensors, i.e. with scalar libm), so the loop never
// syncs the device.
#include <ATen/core/Tensor.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "comfy/sampling/model_sampling.hpp"

namespace comfy {

// D(x, sigma): one denoiser call through KSamplerX0Inpaint -> CFG guider -> model (sampling.md 3.3-3.5).
struct Denoiser {
  virtual ~Denoiser() = default;
  // x: [B,C,H,W] model space on the device; sigma: host scalar (broadcast to a [B] vector inside).
  virtual at::Tensor operator()(const at::Tensor& x, float sigma) = 0;
  // CFG++ support (X9.0): when enabled, the uncond branch is always evaluated (no cfg==1 shortcut)
  // and last_uncond() returns the raw uncond prediction of the most recent call (zeros without a negative).
  virtual void enable_uncond_capture() = 0;
  virtual at::Tensor last_uncond() const = 0;
  virtual const ModelSampling& model_sampling() const = 0;
};

// Per-step noise sampler ns(sigma, sigma_next) (sampling-noise.md N3).
struct NoiseSampler {
  virtual ~NoiseSampler() = default;
  virtual at::Tensor operator()(float sigma, float sigma_next) = 0;
};
// default_noise_sampler(x, seed): private generator on x's device, seeded seed+1 on CPU, seed on CUDA.
std::unique_ptr<NoiseSampler> make_default_noise_sampler(const at::Tensor& x, std::optional<uint64_t> seed);
// BrownianTreeNoiseSampler(x, sigma_min, sigma_max, seed, cpu) (N3.2, N4).
std::unique_ptr<NoiseSampler> make_brownian_noise_sampler(const at::Tensor& x, float sigma_min, float sigma_max,
                                                          uint64_t seed, bool cpu);

struct SamplerRun {
  Denoiser* model = nullptr;
  at::Tensor x;                       // initial x (noise already scaled and added), model space
  std::vector<float> sigmas;          // host copy of the schedule
  std::optional<uint64_t> seed;       // extra_args["seed"]: per-step noise seed
  // callback(i, x, denoised) — CB in the spec; the node layer turns it into (step, x0, x, total).
  std::function<void(int64_t i, const at::Tensor& x, const at::Tensor& denoised)> callback;
  // Injected noise sampler (Impact's Brownian range for the six SDE samplers, sampling.md 2.4);
  // null = the sampler builds its own from `seed` and the sliced sigmas.
  std::unique_ptr<NoiseSampler> noise_sampler;
  // Inpainting / ddim: the initial (unscaled) noise, the processed latent and the mask, when present.
  at::Tensor noise, latent_image, denoise_mask;
  bool interrupted() const { return interrupt && *interrupt; }
  const bool* interrupt = nullptr;
};

using SamplerFn = std::function<at::Tensor(SamplerRun&)>;

struct SamplerInfo {
  std::string name;
  SamplerFn fn;
  bool uses_brownian = false;  // one of Impact's six wrapped SDE samplers
  bool brownian_on_gpu = false;
  bool inpaint_random = false;  // ddim: KSAMPLER draws a separate inpaint noise (sampling-noise.md N5)
};

// The 44 names of KSampler.SAMPLERS, in combo order.
const std::vector<std::string>& sampler_names();
// The names of sampler_names() that this build implements (combo options of the sampler nodes).
std::vector<std::string> implemented_sampler_names();
// Looks up a registered sampler; throws comfy::Error for an unknown name.
const SamplerInfo& get_sampler(const std::string& name);
// Registration: each sampler family file defines `void register_<family>_samplers(SamplerRegistry&)`
// and adds one line to src/sampling/samplers/sampler_list.inc.
struct SamplerRegistry {
  std::map<std::string, SamplerInfo> samplers;
  void add(SamplerInfo info) { samplers[info.name] = std::move(info); }
};

}  // namespace comfy
