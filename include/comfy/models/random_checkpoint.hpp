#pragma once
// Random-weight checkpoints in the real single-file layouts (UNet + text encoders + VAE) of SD1.5, SDXL,
// SD2.x-v and SD1.5-inpainting, for benchmarks and tests: `comfy-native make-checkpoint`.
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <filesystem>
#include <string>

namespace comfy {

struct RandomCheckpointOptions {
  // Layout: "sd15", "sdxl" (base: CLIP-L + OpenCLIP bigG, adm 2816), "sd2v" (SD2.x 768-v: OpenCLIP ViT-H;
  // random norm biases pass ComfyUI's v-prediction test), "inpaint" (SD1.5 with a 9-channel UNet).
  std::string family = "sd15";
  bool tiny = false;                        // the golden data's tiny configuration instead of full size (sd15)
  uint64_t seed = 0;
  c10::ScalarType dtype = c10::kHalf;       // storage dtype of the floating weights
};
// The full-size UNet config of a family (ComfyUI supported_models.py): "sd15", "sdxl", "sd2v", "inpaint".
struct UNetConfig;
UNetConfig family_unet_config(const std::string& family);

// Streams the file (peak memory: one tensor); never overwrites. Returns the number of tensors written.
size_t write_random_checkpoint(const std::filesystem::path& out, const RandomCheckpointOptions& opt);

}  // namespace comfy
