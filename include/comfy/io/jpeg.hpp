#pragma once
// JPEG reading (libjpeg): baseline and progressive, gray / YCbCr; EXIF orientation applied.
#include <string>

#include "comfy/io/image.hpp"

namespace comfy::io {

DecodedImage decode_jpeg(const std::string& bytes, const std::string& name = "<memory>");

}  // namespace comfy::io
