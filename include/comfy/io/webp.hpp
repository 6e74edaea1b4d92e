#pragma once
// WebP reading (libwebp) for LoadImage: still pictures, lossy or lossless, with or without alpha.
#include <string>

#include "comfy/io/image.hpp"

namespace comfy::io {

// RGB in 0..1 and, when the file has an alpha channel, `alpha` (as PIL opens WebP: RGBA -> the mask
// LoadImage makes from it). Animated WebP is refused (ComfyUI would load its frames as a batch).
// Pictures over `max_pixels` are refused from the header.
DecodedImage decode_webp(const std::string& bytes, const std::string& name = "<memory>",
                         uint64_t max_pixels = kMaxImagePixels);

}  // namespace comfy::io
