#pragma once
// Progress-latent contact sheets (`comfy-native preview`): read a progress dump (.pt written by
// --dump-progress, or a .latent), turn latents into pictures, lay them out in a labelled grid.
#include <ATen/core/Tensor.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace comfy::io {

struct ProgressFile {
  at::Tensor samples;          // [N, C, h, w] user-space latents, frame-major (frame f, item b at f*B + b)
  std::vector<int64_t> steps;  // per frame, when known
  std::vector<double> sigmas;  // per frame, when known
  std::string node_id;
};

// .pt: a pickled dict {samples, steps, sigmas, node_id} (torch.save's legacy format / torch::pickle_save);
// .latent / .safetensors: `latent_tensor` (or the only tensor) — old-format files rescaled as LoadLatent does.
ProgressFile load_progress_file(const std::filesystem::path& path);

// ComfyUI's latent preview for SD1.x: rgb = (latent * 0.18215) @ latent_rgb_factors, (rgb + 1) / 2,
// clamped. [N, 4, h, w] -> [N, h, w, 3].
at::Tensor sd15_latent_to_rgb(const at::Tensor& latent);

// A grid of `images` [N, H, W, 3] (0..1): `rows` rows of N / rows pictures, picture i at row i % rows,
// column i / rows (frame-major input). Each picture gets up to two label lines drawn above it with a
// built-in 5x7 bitmap font. Returns [H', W', 3] float.
at::Tensor contact_sheet(const at::Tensor& images, int64_t rows, const std::vector<std::vector<std::string>>& labels);

// Draws `text` into image [H, W, 3] at (x, y) with `scale`x pixels; characters the font lacks are boxes.
void draw_text(at::Tensor& image, const std::string& text, int64_t x, int64_t y, int64_t scale, float value);
int64_t text_width(const std::string& text, int64_t scale);

}  // namespace comfy::io
