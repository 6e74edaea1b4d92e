#pragma once
// JPEG reading (libjpeg): baseline and progressive, gray / YCbCr; EXIF orientation applied.
#include <string>

#include "comfy/io/image.hpp"

namespace comfy::io {

// Pictures over `max_pixels` are refused from the header (decompression_bomb_message).
DecodedImage decode_jpeg(const std::string& bytes, const std::string& name = "<memory>",
                         uint64_t max_pixels = kMaxImagePixels);

}  // namespace comfy::io
