#pragma once
// ControlNet (nodes-control-upscale.md 1): the network of comfy/cldm/cldm.py (the UNet encoder and
// middle block, the hint block, one zero conv per input block) and the CONTROL_NET object of
// comfy/controlnet.py (hint, strength, window, chain) whose get_control runs at every model call.
#include <ATen/core/Tensor.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "comfy/core/runtime.hpp"
#include "comfy/core/value.hpp"
#include "comfy/models/model.hpp"
#include "comfy/models/unet.hpp"
#include "comfy/models/weights.hpp"

namespace comfy {

class ControlNetModel {
 public:
  // Builds from bare control keys (input_blocks.*, middle_block.*, time_embed.*, input_hint_block.*,
  // zero_convs.*, middle_block_out.*).
  ControlNetModel(const UNetConfig& cfg, int64_t hint_channels, WeightSource& w);
  ~ControlNetModel();
  // Detects the config like ComfyUI (the UNet detection on the control keys) and converts the weights.
  static std::shared_ptr<ControlNetModel> load(const TensorMap& bare, c10::Device device, c10::ScalarType dtype,
                                               const std::string& what);

  // x: scaled input [B, C, H, W]; hint [Bh, hint_ch, 8H, 8W]; t [B]; context [B, T, D]; y [B, adm].
  // Returns output = zero_convs residuals (one per input block), middle = {middle_block_out}.
  ControlResiduals forward(const at::Tensor& x, const at::Tensor& hint, const at::Tensor& t,
                           const at::Tensor& context, const std::optional<at::Tensor>& y) const;

  const UNetConfig& config() const { return cfg_; }
  int64_t hint_channels() const { return hint_channels_; }
  const TensorMap& weights() const { return weights_; }
  c10::Device device() const { return device_; }
  c10::ScalarType dtype() const { return dtype_; }

  struct Impl;

 private:
  UNetConfig cfg_;
  int64_t hint_channels_ = 3;
  TensorMap weights_;
  c10::Device device_ = c10::Device(c10::kCPU);
  c10::ScalarType dtype_ = c10::kFloat;
  std::unique_ptr<Impl> impl_;
};

// Which of ComfyUI's ControlNet file layouts a key set is (load_controlnet_state_dict's order).
enum class ControlNetLayout { LdmPrefixed, LdmBare, Diffusers, Unknown };
struct ControlNetDetection {
  ControlNetLayout layout = ControlNetLayout::Unknown;
  std::string found;  // for messages: what the keys look like when not supported
};
ControlNetDetection detect_controlnet_layout(const TensorMap& keys);

// diffusers ControlNet keys -> bare ldm control keys (controlnet_cond_embedding -> input_hint_block,
// controlnet_down_blocks -> zero_convs, the UNet encoder by the diffusers->ldm table).
TensorMap controlnet_from_diffusers(const TensorMap& keys, const std::string& what);

// CONTROL_NET. Loader output has no hint; ControlNetApply* makes copies that carry one.
struct ControlNet : Object {
  std::shared_ptr<const ControlNetModel> net;
  bool global_average_pooling = false;     // files named *_shuffle
  std::string file;                        // for messages
  at::Tensor cond_hint_original;           // [B, C, H, W] in [0, 1], as given
  double strength = 1.0;
  double start_percent = 0.0, end_percent = 1.0;
  std::shared_ptr<const ControlNet> previous;  // chain (previous_controlnet)
  // extra_args["control_type"] (SetUnionControlNetType; empty = auto). Only union ControlNets read it;
  // the layouts loaded here are not union ones, so it travels with the copies and changes nothing.
  std::vector<int64_t> control_type;

  std::string type_name() const override { return "CONTROL_NET"; }

  // set_cond_hint on a copy, chained to `prev` (ControlNetApply / ControlNetApplyAdvanced).
  std::shared_ptr<ControlNet> with_hint(const at::Tensor& image_nchw, double strength, double start, double end,
                                        std::shared_ptr<const ControlNet> prev) const;

  // pre_run for this ControlNet and its chain: percents -> sigmas with the model's sampling.
  void pre_run(std::shared_ptr<const ModelSampling> ms) const;
  // get_control for one batched model call: x_noisy [B, C, H, W] unscaled, sigma of the step,
  // conds of the batch (c_crossattn, y), batched_number = cond kinds in the batch. nullptr = None.
  std::shared_ptr<const ControlResiduals> get_control(const at::Tensor& x_noisy, float sigma, const ModelConds& conds,
                                                      int64_t batched_number) const;

  // Number of network runs so far (tests, bench).
  int64_t calls() const { return calls_; }

 private:
  mutable std::shared_ptr<const ModelSampling> ms_;
  mutable double sigma_start_ = 999999999.9, sigma_end_ = 0.0;
  mutable at::Tensor cond_hint_;           // resized hint cache (per latent size)
  mutable int64_t calls_ = 0;
};

// ControlNetLoader / DiffControlNetLoader: `diff_base` (the model's UNet weights, bare keys) is added to
// a `difference` file's control weights.
std::shared_ptr<ControlNet> load_controlnet(const std::filesystem::path& path, const RuntimeConfig& cfg,
                                            const TensorMap* diff_base = nullptr);

// comfy.controlnet.broadcast_image_to.
at::Tensor broadcast_image_to(const at::Tensor& t, int64_t target_batch, int64_t batched_number);

}  // namespace comfy
