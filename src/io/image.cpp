#include "comfy/io/image.hpp"

#include <ATen/ATen.h>

#include "comfy/core/error.hpp"
#include "comfy/io/jpeg.hpp"
#include "comfy/io/png.hpp"
#include "comfy/io/webp.hpp"

namespace comfy::io {

ImageFormat sniff_image_format(const std::string& b) {
  if (b.size() >= 8 && b.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0) return ImageFormat::Png;
  if (b.size() >= 3 && static_cast<unsigned char>(b[0]) == 0xFF && static_cast<unsigned char>(b[1]) == 0xD8 &&
      static_cast<unsigned char>(b[2]) == 0xFF)
    return ImageFormat::Jpeg;
  if (b.size() >= 12 && b.compare(0, 4, "RIFF") == 0 && b.compare(8, 4, "WEBP") == 0) return ImageFormat::Webp;
  return ImageFormat::Unknown;
}

std::string decompression_bomb_message(uint64_t pixels, uint64_t limit) {
  return "Image size (" + std::to_string(pixels) + " pixels) exceeds limit of " + std::to_string(limit) +
         " pixels, could be decompression bomb DOS attack.";
}

DecodedImage decode_image(const std::string& bytes, const std::string& name, uint64_t max_pixels) {
  switch (sniff_image_format(bytes)) {
    case ImageFormat::Png: return decode_png(bytes, name, max_pixels);
    case ImageFormat::Jpeg: return decode_jpeg(bytes, name, max_pixels);
    case ImageFormat::Webp: return decode_webp(bytes, name, max_pixels);
    default: throw Error("invalid_image", "cannot read image " + name + ": not a PNG, JPEG or WebP file");
  }
}

at::Tensor image_to_u8(const at::Tensor& image) {
  // float32 like numpy's `255. * i` on a float32 array; truncation toward zero by the uint8 cast.
  auto x = image.detach().to(at::kCPU, at::kFloat).mul(255.0f);
  x = at::nan_to_num(x, 0.0, 255.0, 0.0).clamp_(0.0f, 255.0f);
  return x.to(at::kByte).contiguous();
}

}  // namespace comfy::io
