#pragma once
// Random-weight checkpoints in the real SD1.5 single-file layout (UNet + CLIP-L + VAE), for benchmarks
// and tests: `comfy-native make-checkpoint`.
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <filesystem>

namespace comfy {

struct RandomCheckpointOptions {
  bool tiny = false;                        // the golden data's tiny configuration instead of full size
  uint64_t seed = 0;
  c10::ScalarType dtype = c10::kHalf;       // storage dtype of the floating weights
};
// Streams the file (peak memory: one tensor); never overwrites. Returns the number of tensors written.
size_t write_random_checkpoint(const std::filesystem::path& out, const RandomCheckpointOptions& opt);

}  // namespace comfy
