#pragma once
// CPU emulation of torch.randn on a CUDA device (float32), for the GPU(=A1111) noise modes on machines
// without CUDA (sampling-noise.md N0.4, N2.1). Model of PyTorch's kernel (ATen/native/cuda/
// DistributionTemplates.h, identical in 1.13 and 2.11 for this path):
//   normal_(0, 1) -> normal_and_transform -> distribution_nullary_kernel<float4>, unroll = 4
//   calc_execution_policy(numel): block = 256 threads,
//       grid = min(ceil(numel / 256), multiProcessorCount * (maxThreadsPerMultiProcessor / 256))
//       counter_offset = ((numel - 1) / (256 * grid * 4) + 1) * 4
//   the generator hands out its current Philox offset and advances it by counter_offset (rounded up
//   to a multiple of 4; it already is one).
//   thread idx = block * 256 + lane: curand_init(seed, subsequence = idx, offset) -> Philox4x32-10
//       counter = (offset / 4 as 64-bit low half, idx as 64-bit high half), key = seed (lo, hi);
//   grid-stride loop, iteration j: r = curand_normal4 (the Philox block at counter low half + j,
//       Box-Muller on words (x, y) -> (r.x, r.y) and (z, w) -> (r.z, r.w)), element
//       idx + stride * (4j + ii) receives r[ii] (stride = 256 * grid).
// The launch geometry depends on the GPU: the defaults are an H100 (132 SMs, 2048 threads per SM,
// i.e. a grid of at most 1056 blocks = 270336 threads). Tensors of at most grid*256 elements (every
// SD latent up to 4x4x128x128 on an H100) only use r.x of each thread and do not depend on the GPU
// model beyond that bound.
//
// Bit-exactness: the Philox words, the element layout and the offset bookkeeping are exact (checked
// against an H100 with torch 2.11 for 1..1.44M elements, grid-stride loops included). The Box-Muller
// step on the device uses the hardware approximation __sincosf (MUFU.SIN/COS), whose exact algorithm
// is not public: values agree to about 1.2e-6 absolute, not bit for bit (see box_muller in the .cpp).
#include <ATen/core/Tensor.h>

#include <cstdint>

namespace comfy::noise_detail {

struct CudaDeviceGeometry {
  int64_t multi_processor_count = 132;          // H100 SXM / PCIe: 132 / 114 SMs; H200: 132
  int64_t max_threads_per_multi_processor = 2048;
};

// One CUDA Philox generator (seed + offset), as torch.Generator('cuda') / the device's default one.
class CudaRandnEmulator {
 public:
  explicit CudaRandnEmulator(uint64_t seed = 0, CudaDeviceGeometry geometry = {}) : seed_(seed), geom_(geometry) {}
  // manual_seed: new seed, offset back to 0.
  void manual_seed(uint64_t seed) { seed_ = seed; offset_ = 0; }
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  // torch.randn(shape, device='cuda', generator=this) as a CPU float32 tensor; advances the offset.
  at::Tensor randn(at::IntArrayRef shape);

 private:
  uint64_t seed_;
  uint64_t offset_ = 0;
  CudaDeviceGeometry geom_;
};

// The raw Philox4x32-10 block for (counter, key), as curand computes it.
void philox4x32_10(const uint32_t ctr_in[4], const uint32_t key_in[2], uint32_t out[4]);

}  // namespace comfy::noise_detail
