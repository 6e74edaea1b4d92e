#pragma once
// JPEG reading (libjpeg): baseline and progressive, gray / YCbCr; EXIF orientation applied.
#include <ATen/core/Tensor.h>

#include <string>

#include "comfy/io/image.hpp"

namespace comfy::io {

// Pictures over `max_pixels` are refused from the header (decompression_bomb_message).
DecodedImage decode_jpeg(const std::string& bytes, const std::string& name = "<memory>",
                         uint64_t max_pixels = kMaxImagePixels);
// Encodes an 8-bit RGB image [H, W, 3] (uint8, CPU) as a baseline JPEG (server previews, /view?preview=jpeg).
std::string encode_jpeg(const at::Tensor& rgb_u8, int quality = 95);

}  // namespace comfy::io
