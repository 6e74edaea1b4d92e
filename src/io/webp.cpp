#include "comfy/io/webp.hpp"

#include <ATen/ATen.h>
#include <webp/decode.h>

#include <memory>

#include "comfy/core/error.hpp"

namespace comfy::io {

DecodedImage decode_webp(const std::string& bytes, const std::string& name, uint64_t max_pixels) {
  auto fail = [&](const std::string& why) { return Error("invalid_image", "cannot read WebP " + name + ": " + why); };
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  WebPBitstreamFeatures f;
  if (WebPGetFeatures(data, bytes.size(), &f) != VP8_STATUS_OK) throw fail("not a readable WebP file");
  if (f.has_animation) throw fail("animated WebP is not supported");
  if (f.width <= 0 || f.height <= 0) throw fail("empty picture");
  if (const uint64_t n = uint64_t(f.width) * uint64_t(f.height); n > max_pixels)
    throw fail(decompression_bomb_message(n, max_pixels));
  const int channels = f.has_alpha ? 4 : 3;
  int w = 0, h = 0;
  std::unique_ptr<uint8_t, void (*)(void*)> px(
      f.has_alpha ? WebPDecodeRGBA(data, bytes.size(), &w, &h) : WebPDecodeRGB(data, bytes.size(), &w, &h), WebPFree);
  if (!px || w != f.width || h != f.height) throw fail("damaged image data");
  auto u8 = at::from_blob(px.get(), {h, w, channels}, at::kByte).to(at::kFloat).div_(255.0f);
  DecodedImage out;
  out.rgb = u8.slice(2, 0, 3).contiguous();
  if (f.has_alpha) out.alpha = u8.select(2, 3).contiguous();
  return out;
}

}  // namespace comfy::io
