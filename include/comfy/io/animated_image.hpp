#pragma once
// Animated GIF (giflib) and animated WebP (libwebp's WebPAnimEncoder) files, shaped the way VHS saves
// them through Pillow (nodes-companions.md 6): one frame duration for all frames, a loop count
// (0 = forever), GIF disposal 2, WebP lossless or quality 80 (method 4) with an optional EXIF block.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

namespace comfy::io {

// frames: uint8 [N, H, W, 3] (contiguous, CPU). duration_ms: Pillow's per-frame duration.
std::string encode_gif(const at::Tensor& frames, int64_t duration_ms, int64_t loop);
std::string encode_webp(const at::Tensor& frames, int64_t duration_ms, int64_t loop, bool lossless,
                        const std::string& exif_tiff = {});

// A TIFF/EXIF block holding only Exif.DateTimeOriginal = `datetime` (as Pillow writes
// Image.Exif() with {ExifIFD: {36867: datetime}}).
std::string exif_datetime_original(const std::string& datetime);

}  // namespace comfy::io
