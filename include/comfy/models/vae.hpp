#pragma once
// VAE (AutoencoderKL): IMAGE [B,H,W,3] 0..1 <-> LATENT samples [B,4,H/8,W/8] (user space).
#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

#include "comfy/core/runtime.hpp"
#include "comfy/core/types.hpp"
#include "comfy/models/weights.hpp"

namespace comfy {
namespace io { class SafeTensors; }

struct VaeNet {
  virtual ~VaeNet() = default;
  virtual at::Tensor decode(const at::Tensor& latent) = 0;  // [B,4,h,w] -> IMAGE [B,H,W,3] in 0..1 (CPU f32)
  virtual at::Tensor encode(const at::Tensor& image) = 0;   // IMAGE [B,H,W,3] -> [B,4,h,w] (CPU f32)
  // ComfyUI's decode_tiled_: tiles of tile_x x tile_y latent pixels overlapping by `overlap`, feathered.
  virtual at::Tensor decode_tiled(const at::Tensor& latent, int64_t tile_x, int64_t tile_y, int64_t overlap) {
    return decode(latent);
  }
  virtual int64_t downscale() const { return 8; }  // ComfyUI's downscale_ratio (encode crop, tile sizes)
  virtual int64_t latent_channels() const { return 4; }
};

struct Vae : Object {
  std::shared_ptr<VaeNet> net;
  std::string type_name() const override { return "VAE"; }
};

// AutoencoderKL hyper-parameters (ddconfig), read from the key shapes.
struct VaeConfig {
  int64_t in_channels = 3, out_ch = 3, ch = 128, z_channels = 4, embed_dim = 4;
  std::vector<int64_t> ch_mult{1, 2, 4, 4};
  int64_t num_res_blocks = 2;
  bool double_z = true;
  std::vector<bool> attn_levels;  // per level: blocks carry attention (attn_resolutions); empty = none
  static VaeConfig sd() { return {}; }
  static VaeConfig detect(const TensorMap& tensors);  // keys without prefix ("encoder.conv_in.weight", ...)
  int64_t factor() const { return int64_t(1) << (ch_mult.size() - 1); }  // true spatial factor
};

class AutoencoderKL : public VaeNet {
 public:
  AutoencoderKL(const VaeConfig& cfg, WeightSource& w);
  ~AutoencoderKL() override;
  at::Tensor decode(const at::Tensor& latent) override;
  at::Tensor encode(const at::Tensor& image) override;
  at::Tensor decode_tiled(const at::Tensor& latent, int64_t tile_x, int64_t tile_y, int64_t overlap) override;

  // Raw network halves on the VAE's device/dtype: z [B,4,h,w] -> [B,3,H,W] (about -1..1);
  // x [B,3,H,W] in -1..1 -> moments [B,2*4,h,w].
  at::Tensor decode_raw(const at::Tensor& z) const;
  at::Tensor encode_moments(const at::Tensor& x) const;

  const VaeConfig& config() const { return cfg_; }
  const TensorMap& weights() const { return weights_; }
  c10::Device device() const { return device_; }
  c10::ScalarType dtype() const { return dtype_; }
  // Used by tests to force the out-of-memory fallback: decode() throws as if the device were full.
  bool simulate_oom = false;

  struct Impl;

 private:
  VaeConfig cfg_;
  TensorMap weights_;
  c10::Device device_ = c10::Device(c10::kCPU);
  c10::ScalarType dtype_ = c10::kFloat;
  std::unique_ptr<Impl> impl_;
};

// ComfyUI comfy.utils.tiled_scale_multidim for 2-D: runs `fn` on overlapping tiles of `samples`
// [B,C,h,w] (tile_x x tile_y, `overlap` latent pixels), scales positions by `upscale`, blends the
// overlaps with a linear feather and returns [B, out_channels, h*upscale, w*upscale] on the CPU (f32).
at::Tensor tiled_scale(const at::Tensor& samples, const std::function<at::Tensor(const at::Tensor&)>& fn,
                       int64_t tile_x, int64_t tile_y, int64_t overlap, int64_t upscale, int64_t out_channels);

// AutoencoderKL from checkpoint keys under `prefix` ("first_stage_model." in a checkpoint, "" in a VAE file).
std::shared_ptr<Vae> load_vae(std::shared_ptr<io::SafeTensors> st, const std::string& prefix, const RuntimeConfig& cfg);
// The same from a state dict already stripped of its prefix; `what` names the file in messages.
std::shared_ptr<Vae> load_vae(const TensorMap& tensors, const std::string& what, const RuntimeConfig& cfg);

}  // namespace comfy
