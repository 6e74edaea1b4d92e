// latent2rgb previews and their binary websocket frames.
#include "server/previews.hpp"

#include <ATen/ATen.h>

#include "comfy/io/contact_sheet.hpp"
#include "comfy/io/jpeg.hpp"

namespace comfy::server {

namespace {
void put_u32(std::string& s, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) s.push_back(char((v >> shift) & 0xff));
}
}  // namespace

std::string latent2rgb_jpeg(const at::Tensor& x0, int64_t max_size) {
  if (x0.dim() != 4 || x0.size(1) != 4 || x0.size(0) < 1) return "";
  // sd15_latent_to_rgb takes the user-space latent (it applies the 0.18215 scale itself).
  at::Tensor latent = x0.slice(0, 0, 1).detach().to(at::kCPU, at::kFloat) / 0.18215f;
  at::Tensor rgb = io::sd15_latent_to_rgb(latent)[0];  // [h, w, 3] in 0..1
  // One latent pixel covers 8x8 image pixels: show it at that size, within max_size.
  int64_t longest = std::max(rgb.size(0), rgb.size(1));
  int64_t scale = std::max<int64_t>(1, std::min<int64_t>(8, max_size / std::max<int64_t>(1, longest)));
  if (scale > 1) rgb = rgb.repeat_interleave(scale, 0).repeat_interleave(scale, 1);
  at::Tensor u8 = (rgb * 255.0f).round().clamp(0, 255).to(at::kByte).contiguous();
  return io::encode_jpeg(u8, 95);
}

std::string preview_frame(const std::string& jpeg) {
  std::string f;
  put_u32(f, 1);
  put_u32(f, 1);
  return f + jpeg;
}

std::string preview_frame_with_metadata(const std::string& jpeg, const nlohmann::ordered_json& metadata) {
  std::string m = metadata.dump();
  std::string f;
  put_u32(f, 4);
  put_u32(f, uint32_t(m.size()));
  return f + m + jpeg;
}

}  // namespace comfy::server
