#pragma once
// Upscale models (nodes-control-upscale.md 2): ESRGAN / Real-ESRGAN RRDBNet as spandrel 0.4.1 detects
// and calls it, and ComfyUI's tiled_scale used by ImageUpscaleWithModel.
#include <ATen/core/Tensor.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "comfy/core/value.hpp"
#include "comfy/models/weights.hpp"

namespace comfy {

// What spandrel reports for an RRDBNet file.
struct RRDBNetConfig {
  int64_t in_nc = 3, out_nc = 3, num_filters = 64, num_blocks = 23;
  int64_t arch_scale = 4;           // the network's own upsampling (2^number of upsamplers)
  int64_t shuffle_factor = 0;       // pixel-unshuffle variants (Real-ESRGAN x2plus: 2), 0 = none
  int64_t scale() const { return shuffle_factor ? arch_scale / shuffle_factor : arch_scale; }
  int64_t input_channels() const { return shuffle_factor ? in_nc / (shuffle_factor * shuffle_factor) : in_nc; }
  int64_t multiple_of() const { return shuffle_factor ? 4 : 1; }
  int64_t minimum() const { return shuffle_factor ? 4 : 2; }  // minimum 2 rounded up to multiple_of
  std::vector<std::string> tags() const;                     // "{nf}nf", "{nb}nb" (+ "unshuffle")
  std::string describe() const;
};

// Which key layout a state dict has: "old" (model.N), "Real-ESRGAN" (conv_first/body/...), "BSRGAN"
// (conv_first/RRDB_trunk/...), or "" with `found` describing the keys.
std::string detect_esrgan_layout(const TensorMap& sd, std::string* found = nullptr);
// New-layout keys -> the old model.N layout (spandrel's conversion); old layout unchanged.
TensorMap esrgan_to_old_layout(const TensorMap& sd, const std::string& layout);
// Hyper-parameters from an old-layout dict (spandrel's ESRGAN load).
RRDBNetConfig detect_rrdbnet(const TensorMap& old_sd, const std::string& what);

class RRDBNet {
 public:
  RRDBNet(const RRDBNetConfig& cfg, WeightSource& w);
  ~RRDBNet();
  // x [B, in_c, H, W] in [0, 1] -> [B, out_nc, H*scale, W*scale] (unclamped network output).
  at::Tensor forward(const at::Tensor& x) const;
  const RRDBNetConfig& config() const { return cfg_; }
  c10::Device device() const { return device_; }
  c10::ScalarType dtype() const { return dtype_; }
  int64_t parameter_bytes() const { return bytes_; }

  struct Impl;

 private:
  RRDBNetConfig cfg_;
  c10::Device device_ = c10::Device(c10::kCPU);
  c10::ScalarType dtype_ = c10::kFloat;
  int64_t bytes_ = 0;
  std::unique_ptr<Impl> impl_;
};

// UPSCALE_MODEL: spandrel's ImageModelDescriptor around the network.
struct UpscaleModel : Object {
  std::shared_ptr<const RRDBNet> net;
  std::string architecture = "ESRGAN";
  std::string file;
  std::string type_name() const override { return "UPSCALE_MODEL"; }
  int64_t scale() const { return net->config().scale(); }
  // Descriptor call on one tile [1, C, h, w] in [0, 1]: pad to the size requirements (reflect, then
  // replicate), run, clamp to [0, 1], crop back to (h*scale, w*scale).
  at::Tensor operator()(const at::Tensor& tile) const;
};

// UpscaleModelLoader's reading: .safetensors / .sft, else torch.load through the restricted unpickler
// (state_dict / single-key wrappers such as params_ema unwrapped, "module." stripped), then detection.
// Unknown architectures are refused with a message naming what was found.
std::shared_ptr<UpscaleModel> load_upscale_model(const std::filesystem::path& path, c10::Device device);
// The same from a state dict already in memory (tests, fuzzing).
std::shared_ptr<UpscaleModel> upscale_model_from_state_dict(const TensorMap& sd, c10::Device device,
                                                            const std::string& what);

// ImageUpscaleWithModel's body: IMAGE [B, H, W, C] -> [B, H*s, W*s, 3], tile 512 / overlap 32, the tile
// halved on out-of-memory down to 128. `tile` lets tests and benches start smaller.
at::Tensor upscale_image_with_model(const UpscaleModel& m, const at::Tensor& image, int64_t tile = 512,
                                    int64_t overlap = 32);

}  // namespace comfy
