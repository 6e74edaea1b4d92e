#pragma once
// The SD1.x / SD2 / SDXL-style UNetModel (ComfyUI comfy/ldm/modules/diffusionmodules/openaimodel.py).
#include <ATen/core/Tensor.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "comfy/models/model.hpp"
#include "comfy/models/weights.hpp"

namespace comfy {

// Hyper-parameters, named like ComfyUI's UNetModel keyword arguments.
struct UNetConfig {
  int64_t in_channels = 4, out_channels = 4, model_channels = 320;
  std::vector<int64_t> channel_mult{1, 2, 4, 4};
  std::vector<int64_t> num_res_blocks{2, 2, 2, 2};           // per level
  std::vector<int64_t> transformer_depth{1, 1, 1, 1, 1, 1, 0, 0};  // per input ResBlock
  int64_t transformer_depth_middle = 1;                      // -1: the middle block has no transformer
  // Per output ResBlock in ComfyUI's order: the list is popped from its end, so the last entry is
  // output_blocks.0's depth.
  std::vector<int64_t> transformer_depth_output{1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0};
  int64_t context_dim = 768;
  bool use_linear_in_transformer = false;
  std::optional<int64_t> adm_in_channels;                    // SDXL-style label_emb ("sequential")
  int64_t num_heads = 8, num_head_channels = -1;             // one of them is -1

  static UNetConfig sd15() { return {}; }
  // Infers everything from the key names and shapes under `prefix` (e.g. "model.diffusion_model." or
  // "" for a map already stripped), like ComfyUI's detect_unet_config. Heads follow the model
  // classes: 8 heads for a conv-projection (SD1) UNet, 64 channels per head otherwise (SD2, SDXL).
  static UNetConfig detect(const TensorMap& tensors, const std::string& prefix = "");
  int64_t time_embed_dim() const { return model_channels * 4; }
  std::string describe() const;  // one line, for messages and Model::info
};

class UNetModel : public DiffusionNet {
 public:
  // Builds every block, asking `w` for each parameter by its checkpoint key (without prefix).
  UNetModel(const UNetConfig& cfg, WeightSource& w);
  ~UNetModel() override;
  // Loads from a map of (stripped) checkpoint keys: detects the config, checks every weight's key and
  // shape, converts to device/dtype once; `what` names the source in errors ("UNet of model.safetensors").
  // An fp16 / bf16 file going to fp32 on the CPU is not converted here but by materialize(), which the
  // first forward() or weights() runs: until then the model holds only zero-copy views of the file
  // (COMFY_DEFER_CONVERT=0 converts during the load instead).
  static std::shared_ptr<UNetModel> load(const TensorMap& tensors, c10::Device device, c10::ScalarType dtype,
                                         const std::string& what);
  // Converts the weights a load deferred (once, thread-safe; a no-op otherwise).
  void materialize() const;
  bool materialized() const { return ready_.load(std::memory_order_acquire); }

  at::Tensor forward(const at::Tensor& x, const at::Tensor& t, const ModelConds& c) override;
  // `control`: ControlNet residuals added to the middle output and the skip tensors (apply_control).
  at::Tensor forward(const at::Tensor& x, const at::Tensor& t, const at::Tensor& context,
                     const std::optional<at::Tensor>& y = std::nullopt,
                     const ControlResiduals* control = nullptr) const;

  const UNetConfig& config() const { return cfg_; }
  // Every parameter by checkpoint key (without "model.diffusion_model."), on the model's device/dtype
  // (materializes a deferred load).
  const TensorMap& weights() const {
    if (!materialized()) materialize();
    return weights_;
  }
  // The parameter keys, without converting anything.
  std::vector<std::string> keys() const;
  c10::Device device() const { return device_; }
  c10::ScalarType dtype() const { return dtype_; }
  // A new model sharing every tensor except those in `replaced` (LoRA: copy-on-write).
  std::shared_ptr<UNetModel> with_weights(const TensorMap& replaced) const;

  // Receives "t_emb", "time_embed", "label_emb", "input_blocks.N.M", "middle_block.M",
  // "output_blocks.N.M" during forward.
  ActivationHook hook;

  struct Impl;

 private:
  UNetConfig cfg_;
  // Replaced once by materialize() (under mu_, before ready_ is set); read-only afterwards.
  mutable TensorMap weights_;
  c10::Device device_ = c10::Device(c10::kCPU);
  c10::ScalarType dtype_ = c10::kFloat;
  mutable std::unique_ptr<Impl> impl_;
  mutable std::mutex mu_;
  mutable std::atomic<bool> ready_{true};
  std::string what_;  // the source, for materialize()'s messages
};

}  // namespace comfy
