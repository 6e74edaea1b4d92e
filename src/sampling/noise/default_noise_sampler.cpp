// k-diffusion's default_noise_sampler (sampling-noise.md N3.1): one randn of x's shape per call from
// a private generator on x's device, seeded seed+1 on the CPU and seed on CUDA.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#ifdef COMFY_WITH_CUDA
#include <ATen/cuda/CUDAGeneratorImpl.h>
#endif

#include "comfy/core/error.hpp"
#include "comfy/sampling/sampler.hpp"
#include "sampling/noise/seed_math.hpp"

namespace comfy {
namespace {

class DefaultNoiseSampler final : public NoiseSampler {
 public:
  DefaultNoiseSampler(const at::Tensor& x, c10::optional<at::Generator> gen)
      : sizes_(x.sizes().vec()), options_(x.options()), gen_(std::move(gen)) {}

  at::Tensor operator()(float, float) override {
    // The arguments are ignored: the k-th call returns the k-th draw of the generator.
    return at::randn(sizes_, gen_, options_);
  }

 private:
  std::vector<int64_t> sizes_;
  at::TensorOptions options_;
  c10::optional<at::Generator> gen_;  // nullopt: the device's global generator
};

}  // namespace

std::unique_ptr<NoiseSampler> make_default_noise_sampler(const at::Tensor& x, std::optional<uint64_t> seed) {
  if (!seed) return std::make_unique<DefaultNoiseSampler>(x, c10::nullopt);
  const at::Device dev = x.device();
  if (dev.is_cpu()) {
    // The reference adds 1 as a Python int; 2^64-1 + 1 no longer fits and manual_seed raises.
    uint64_t s = noise_detail::checked_seed_add(*seed, 1);
    return std::make_unique<DefaultNoiseSampler>(x, at::detail::createCPUGenerator(s));
  }
#ifdef COMFY_WITH_CUDA
  if (dev.is_cuda()) {
    at::Generator g = at::cuda::detail::createCUDAGenerator(dev.index());
    g.set_current_seed(*seed);
    return std::make_unique<DefaultNoiseSampler>(x, std::move(g));
  }
#endif
  throw Error("execution_error", "default_noise_sampler: no private generator for device " + dev.str());
}

}  // namespace comfy
