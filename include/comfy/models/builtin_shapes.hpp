#pragma once
// `builtin:shapes`: the embedded default model, so a newcomer's first workflow runs with no download.
// It is a genuine diffusion model: the exact posterior-mean denoiser of a small data set of pictures
// drawn at start-up (6 colours x 6 shapes x 2 backgrounds x 3 variations), class-conditional through a
// built-in text encoder that reads colour / shape / background words, wrapped as an EPS-predicting
// DiffusionNet with ModelSampling::discrete(), so every sampler, scheduler and CFG behave as with SD1.5.
// Its "VAE" is linear: an 8x8 average pool mapped to 4 latent channels by a fixed 4x3 matrix, decoded by
// the pseudo-inverse and a bilinear 8x upsample.
#include <ATen/core/Tensor.h>

#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "comfy/core/runtime.hpp"

namespace comfy {

struct Model;
struct Clip;
struct Vae;

constexpr const char* kBuiltinShapesName = "builtin:shapes";

// The checkpoint loader's hook: for the reserved name "builtin:shapes" the three objects of the embedded
// model; nullopt for any other name (the loader then looks for a file).
std::optional<std::tuple<std::shared_ptr<Model>, std::shared_ptr<Clip>, std::shared_ptr<Vae>>> load_builtin_checkpoint(
    const std::string& name, const RuntimeConfig& cfg);

// Pieces, for `preview --vae builtin:shapes` and tests.
std::shared_ptr<Vae> builtin_shapes_vae();
std::shared_ptr<Clip> builtin_shapes_clip();
std::shared_ptr<Model> builtin_shapes_model(const RuntimeConfig& cfg);

namespace shapes {

const std::vector<std::string>& colors();       // red, green, blue, yellow, purple, orange
const std::vector<std::string>& shape_names();  // circle, square, triangle, stripes, ring, cross
const std::vector<std::string>& backgrounds();  // light, dark
constexpr int kVariations = 3;
// Length of the conditioning vector: one weight per colour, shape and background.
int64_t cond_dim();

// Attribute weights of a prompt, as the built-in text encoder computes them: a group no word of the
// prompt mentions is all ones ("any"); otherwise the mentioned values get their weight (1, or w from
// ComfyUI's "(word:w)" syntax) and the others 0. [cond_dim()] float.
at::Tensor encode_prompt(const std::string& text);

// One picture of the data set: [H, W, 3] float in 0..1, anti-aliased (4x supersampling).
at::Tensor draw(int color, int shape, int background, int variation, int64_t height, int64_t width);

// The geometry of a variation, in units of min(H, W) around the image centre (for tests).
struct Placement {
  double cx, cy;  // centre offset from the image centre
  double size;    // radius-like size
  double angle;   // radians
};
Placement placement(int shape, int variation);

}  // namespace shapes
}  // namespace comfy
