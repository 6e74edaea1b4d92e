#pragma once
// ComfyUI's CFGGuider (comfy/samplers.py, sampling.md 3.2-3.5): conditioning preparation, the batched
// cond/uncond model call (calc_cond_batch), classifier-free guidance, and the KSamplerX0Inpaint
// wrapper. It is the Denoiser every sampler calls.
#include <ATen/core/Tensor.h>

#include <array>
#include <memory>
#include <optional>
#include <vector>

#include "comfy/core/types.hpp"
#include "comfy/models/model.hpp"
#include "comfy/sampling/sampler.hpp"

namespace comfy {

class CFGGuider : public Denoiser {
 public:
  // negative may be null (basic guider: positive only, uncond = 0).
  CFGGuider(std::shared_ptr<const Model> model, std::shared_ptr<const Conditioning> positive,
            std::shared_ptr<const Conditioning> negative, double cfg);
  ~CFGGuider() override;

  // process_conds for one sampling run: x_shape is the (model-space) latent shape [B,C,H,W];
  // latent_image (after process_in) and denoise_mask (reshaped to x_shape) feed the inpainting
  // models' concat input and may be undefined.
  void prepare(at::IntArrayRef x_shape, c10::Device device, const at::Tensor& latent_image = {},
               const at::Tensor& denoise_mask = {});
  // Inpainting (KSamplerX0Inpaint): mask already reshaped to the latent shape, latent in model space,
  // noise = the unscaled initial noise (or ddim's inpaint noise). Undefined mask = no inpainting.
  void set_inpaint(at::Tensor denoise_mask, at::Tensor latent, at::Tensor noise);
  // DualCFGGuider: `middle` = cond2 (call before prepare). regular: cfg(M, N, cfg2) + (P - M) * cfg1;
  // nested: N + cfg2 * (cfg(P, M, cfg1) - N).
  void set_dual(std::shared_ptr<const Conditioning> middle, double cfg1, double cfg2, bool nested) {
    middle_ = std::move(middle);
    dual_ = Dual{cfg1, cfg2, nested};
  }

  at::Tensor operator()(const at::Tensor& x, float sigma) override;
  void enable_uncond_capture() override { capture_uncond_ = true; }
  at::Tensor last_uncond() const override { return last_uncond_; }
  const ModelSampling& model_sampling() const override { return *model_->sampling; }

  // Number of model (network) calls so far; for tests and benchmarks.
  int64_t model_calls() const { return model_calls_; }

 private:
  struct Prepared;
  static constexpr int kCondKinds = 3;  // positive, negative, middle
  struct Dual {
    double cfg1, cfg2;
    bool nested;
  };
  at::Tensor guided(const at::Tensor& x, float sigma);
  at::Tensor dual_guided(const at::Tensor& x, float sigma);
  std::vector<at::Tensor> calc_cond_batch(const at::Tensor& x, float sigma, bool with_uncond);
  // One output per cond kind (undefined where inactive).
  std::vector<at::Tensor> calc_cond_batch(const at::Tensor& x, float sigma, std::array<bool, kCondKinds> active);

  std::shared_ptr<const Model> model_;
  std::shared_ptr<const Conditioning> positive_, negative_, middle_;
  std::optional<Dual> dual_;
  double cfg_;
  bool capture_uncond_ = false;
  at::Tensor last_uncond_;
  at::Tensor mask_, latent_mask_, latent_, inpaint_noise_;
  std::unique_ptr<Prepared> prep_;
  int64_t model_calls_ = 0;
};

}  // namespace comfy
