#pragma once
// IMAGE files: decode PNG / JPEG / WebP into ComfyUI's float layout, and ComfyUI's 8-bit conversion.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
#include <string>

namespace comfy::io {

struct DecodedImage {
  at::Tensor rgb;                   // [H, W, 3] float32 in 0..1 (8-bit value / 255)
  std::optional<at::Tensor> alpha;  // [H, W] float32 in 0..1 when the file has transparency
};

// PIL's decompression-bomb limit (2 * Image.MAX_IMAGE_PIXELS), which ComfyUI's LoadImage inherits:
// larger pictures are refused from their header, before any pixel buffer is allocated.
constexpr uint64_t kMaxImagePixels = 178956970;
// PIL's message for them: "Image size (N pixels) exceeds limit of M pixels, could be decompression bomb DOS attack."
std::string decompression_bomb_message(uint64_t pixels, uint64_t limit);

enum class ImageFormat { Unknown, Png, Jpeg, Webp };
ImageFormat sniff_image_format(const std::string& bytes);

// Decodes by content (not by file extension); throws comfy::Error naming `name` when the bytes are
// not a PNG, JPEG or WebP or are damaged.
DecodedImage decode_image(const std::string& bytes, const std::string& name = "<memory>",
                          uint64_t max_pixels = kMaxImagePixels);

// ComfyUI's `np.clip(255. * x, 0, 255).astype(np.uint8)`: multiply, clip, then truncate (no rounding).
// [..., C] float -> uint8 of the same shape, contiguous on the CPU. NaN becomes 0.
at::Tensor image_to_u8(const at::Tensor& image);

}  // namespace comfy::io
