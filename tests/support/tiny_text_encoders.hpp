#pragma once
// Stand-alone text-encoder files made from the tiny golden checkpoints (../shared/golden/models): the
// towers under their split-file key names, made deep enough for ComfyUI's detect_te_model.
#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <string>

namespace comfy::test {

using Tensors = std::map<std::string, at::Tensor>;

// The tensors of the golden models checkpoint `file` (e.g. "tiny-sdxl.safetensors") whose keys start
// with `prefix`, keyed without it (copies, independent of the file).
Tensors golden_checkpoint_tensors(const std::string& file, const std::string& prefix = "");

// An OpenCLIP tower made `total` layers deep by putting layers that add exactly 0 to the residual stream
// (zero out_proj / c_proj weights and biases) in front of the real ones: every hidden state counted
// from the end, and so every output, is unchanged, but the layer count crosses ComfyUI's
// detect_te_model thresholds (encoder.layers.22 for ViT-H, .30 for bigG) the tiny towers are too shallow for.
Tensors deepen_openclip(const Tensors& tower, int64_t total);

}  // namespace comfy::test
