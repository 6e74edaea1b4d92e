// BaseModel.extra_conds for the families that need more than cross-attention: SDXL's adm vector y
// (spec M4, model_base.SDXL / SDXLRefiner.encode_adm) and the inpainting models' concat input (spec M7,
// BaseModel.concat_cond).
#include <ATen/ATen.h>

#include <cmath>

#include "comfy/core/error.hpp"
#include "comfy/models/model.hpp"
#include "models/blocks.hpp"

namespace comfy {

namespace {
double number(const CondEntry& e, const char* key, double fallback) {
  auto it = e.extra.find(key);
  if (it == e.extra.end() || it->second.is_none()) return fallback;
  return it->second.as_float();
}

// comfy.utils.resize_to_batch_size for the batch sizes samplers see (repeat, or cut).
at::Tensor to_batch(const at::Tensor& t, int64_t b) {
  if (t.size(0) == b) return t;
  if (t.size(0) > b) return t.slice(0, 0, b);
  std::vector<int64_t> reps(size_t(t.dim()), 1);
  reps[0] = (b + t.size(0) - 1) / t.size(0);
  return t.repeat(reps).slice(0, 0, b);
}

// comfy.utils.common_upscale(x, w, h, "bilinear", "center"): crop to the target aspect, then resize.
at::Tensor upscale_center(at::Tensor x, int64_t h, int64_t w) {
  const int64_t oh = x.size(-2), ow = x.size(-1);
  const double old_aspect = double(ow) / double(oh), new_aspect = double(w) / double(h);
  if (old_aspect > new_aspect) {
    const int64_t x0 = int64_t(std::nearbyint((ow - ow * (new_aspect / old_aspect)) / 2));
    x = x.narrow(-1, x0, ow - 2 * x0);
  } else if (old_aspect < new_aspect) {
    const int64_t y0 = int64_t(std::nearbyint((oh - oh * (old_aspect / new_aspect)) / 2));
    x = x.narrow(-2, y0, oh - 2 * y0);
  }
  return at::upsample_bilinear2d(x.contiguous(), {h, w}, false);
}
}  // namespace

std::optional<at::Tensor> Model::encode_adm(const CondEntry& e, int64_t width_default, int64_t height_default,
                                            bool negative) const {
  if (adm == AdmKind::None) return std::nullopt;
  if (!e.pooled_output)
    throw Error("execution_error", std::string("this ") + (adm == AdmKind::SDXL ? "SDXL" : "SDXL refiner") +
                                       " model needs the conditioning's pooled_output, and the conditioning has "
                                       "none (was it encoded with an SD1.x CLIP?)");
  const at::Tensor pooled = e.pooled_output->to(at::kFloat);  // [B, P]
  const double width = number(e, "width", double(width_default)), height = number(e, "height", double(height_default));
  std::vector<double> values = {height, width, number(e, "crop_h", 0), number(e, "crop_w", 0)};
  if (adm == AdmKind::SDXL) {
    values.push_back(number(e, "target_height", height));
    values.push_back(number(e, "target_width", width));
  } else {
    values.push_back(number(e, "aesthetic_score", negative ? 2.5 : 6.0));
  }
  // Timestep(256) of each number (as float32), flattened and repeated over the pooled batch.
  std::vector<float> v32(values.begin(), values.end());
  auto t = at::tensor(v32, at::kFloat);                                      // [k]
  auto flat = blocks::timestep_embedding(t, 256).reshape({1, -1});           // [1, k*256]
  flat = flat.to(pooled.device()).repeat({pooled.size(0), 1});               // [B, k*256]
  return at::cat({pooled, flat}, 1);                                         // [B, P + k*256]
}

namespace {
// IP2P.concat_cond: the image latent (zeros when the entry has none) resized to the noise, repeated to
// its batch, then process_ip2p_image_in.
at::Tensor ip2p_concat(const Model& m, const CondEntry& e, at::IntArrayRef noise_shape) {
  auto opts = at::TensorOptions().dtype(at::kFloat).device(m.device);
  at::Tensor image;
  if (auto it = e.extra.find("concat_latent_image"); it != e.extra.end() && it->second.is_tensor())
    image = it->second.as_tensor().to(m.device, at::kFloat);
  else
    image = at::zeros(noise_shape, opts);
  if (image.dim() != int64_t(noise_shape.size()))
    throw Error("execution_error", "instruct-pix2pix: concat_latent_image has " + std::to_string(image.dim()) +
                                       " dimensions, the latent " + std::to_string(noise_shape.size()));
  if (image.sizes().slice(1) != noise_shape.slice(1)) image = upscale_center(image, noise_shape[2], noise_shape[3]);
  image = to_batch(image, noise_shape[0]);
  return m.ip2p_process_in ? m.latent_format.process_in(image) : image;
}
}  // namespace

std::optional<at::Tensor> Model::concat_cond(const CondEntry& e, at::IntArrayRef noise_shape,
                                             const at::Tensor& latent_image, const at::Tensor& denoise_mask) const {
  if (ip2p) return ip2p_concat(*this, e, noise_shape);
  if (!inpaint) return std::nullopt;
  const int64_t B = noise_shape[0], H = noise_shape[2], W = noise_shape[3];
  auto opts = at::TensorOptions().dtype(at::kFloat).device(device);
  at::Tensor mask = denoise_mask;
  if (auto it = e.extra.find("concat_mask"); it != e.extra.end() && it->second.is_tensor()) mask = it->second.as_tensor();
  at::Tensor image;
  if (auto it = e.extra.find("concat_latent_image"); it != e.extra.end() && it->second.is_tensor())
    image = latent_format.process_in(it->second.as_tensor().to(device, at::kFloat));
  else
    image = latent_image.defined() ? latent_image.to(device, at::kFloat) : at::zeros(noise_shape, opts);
  if (image.sizes().slice(1) != noise_shape.slice(1)) image = upscale_center(image, H, W);
  image = to_batch(image, B);

  if (!mask.defined()) {
    // No mask: the whole image is "to inpaint" over a blank image (pixel 0 in latent space).
    auto blank = at::tensor(std::vector<float>{0.8223f, -0.6876f, 0.6364f, 0.1380f}, opts).view({1, 4, 1, 1});
    return at::cat({at::ones({B, 1, H, W}, opts), blank.expand({B, 4, H, W})}, 1);  // [B, 5, H, W]
  }
  mask = mask.to(device, at::kFloat);
  if (mask.dim() == int64_t(noise_shape.size())) mask = mask.slice(1, 0, 1);
  mask = mask.reshape({-1, 1, mask.size(-2), mask.size(-1)});
  if (mask.size(-2) != H || mask.size(-1) != W) mask = upscale_center(mask, H, W);
  mask = to_batch(mask.round(), B);
  return at::cat({mask, image}, 1);  // [B, 1 + 4, H, W]
}

}  // namespace comfy
