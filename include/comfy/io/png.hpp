#pragma once
// PNG reading and writing (libpng), with the text chunks ComfyUI uses for workflow metadata (§11.2).
#include <ATen/core/Tensor.h>

#include <string>
#include <utility>
#include <vector>

#include "comfy/io/image.hpp"

namespace comfy::io {

// (keyword, text) pairs in file order.
using PngTextChunks = std::vector<std::pair<std::string, std::string>>;

// Encodes one image [H, W, 3|4] (float 0..1, converted with image_to_u8, or uint8) as an 8-bit RGB/RGBA
// PNG. Each text chunk is written as tEXt before the image data, in the given order; a text that is
// not pure ASCII goes into an uncompressed iTXt (UTF-8) instead. compression_level is zlib's 0..9.
std::string encode_png(const at::Tensor& image, const PngTextChunks& text = {}, int compression_level = 4);

// Decodes 8/16-bit gray, gray+alpha, RGB, RGBA and palette PNGs (interlaced or not) the way ComfyUI's
// LoadImage sees them through PIL: 16-bit colour samples keep their high byte; 16-bit gray (PIL mode
// "I") becomes min(255, trunc(v / 255)); palette / tRNS transparency becomes `alpha`.
// Pictures over `max_pixels` are refused from the header (decompression_bomb_message).
DecodedImage decode_png(const std::string& bytes, const std::string& name = "<memory>",
                        uint64_t max_pixels = kMaxImagePixels);

// Every tEXt, zTXt and iTXt chunk (compressed ones inflated), before or after the image data.
// Throws comfy::Error when the bytes are not a PNG.
PngTextChunks read_png_text(const std::string& bytes, const std::string& name = "<memory>");

}  // namespace comfy::io
