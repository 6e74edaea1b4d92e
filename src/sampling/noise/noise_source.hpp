#pragma once
// Where prepare_noise draws from: the reference reseeds a device generator and then draws one or more
// randn tensors from it (sampling-noise.md N1.1, N2.1).
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>

namespace comfy::noise_detail {

struct NoiseSource {
  virtual ~NoiseSource() = default;
  virtual void seed(uint64_t s) = 0;                       // SEED(s)
  virtual at::Tensor randn(at::IntArrayRef shape) = 0;     // RANDN(shape), float32, on the CPU
};

// torch.manual_seed(s) (the global CPU generator; CUDA default generators reseeded too) + randn on the CPU.
std::unique_ptr<NoiseSource> cpu_global_noise_source();
// torch.cuda.manual_seed(s) + randn(device='cuda') with the device's default generator, moved to the
// CPU; without CUDA, the CPU emulation of that generator (cuda_randn_emulation.hpp).
std::unique_ptr<NoiseSource> cuda_noise_source();

}  // namespace comfy::noise_detail
