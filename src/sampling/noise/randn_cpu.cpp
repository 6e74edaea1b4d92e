// torch.randn on the CPU from a freshly seeded generator (sampling-noise.md N0.1, N0.3).
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "comfy/sampling/noise.hpp"

namespace comfy {

at::Tensor randn_cpu(at::IntArrayRef shape, uint64_t seed) {
  // CPUGeneratorImpl seeds its MT19937 with the low 32 bits of the seed, exactly as
  // torch.manual_seed does (seeds s and s + 2^32 give the same stream).
  at::Generator g = at::detail::createCPUGenerator(seed);
  return at::randn(shape, g, at::TensorOptions().dtype(at::kFloat).device(at::kCPU));
}

}  // namespace comfy
