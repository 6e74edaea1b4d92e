// CUDA-side randn: the real default/private CUDA generators when compiled with CUDA and a GPU is
// present, else the CPU emulation of PyTorch's CUDA normal kernel.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#ifdef COMFY_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAGeneratorImpl.h>
#endif
#include <spdlog/spdlog.h>

#include <mutex>

#include "comfy/sampling/noise.hpp"
#include "sampling/noise/cuda_randn_emulation.hpp"
#include "sampling/noise/noise_source.hpp"

namespace comfy {
namespace noise_detail {
namespace {

bool cuda_usable() {
#ifdef COMFY_WITH_CUDA
  return at::hasCUDA();
#else
  return false;
#endif
}

// Launch geometry for the emulation: the real device's when there is one, else an H100's.
CudaDeviceGeometry emulated_geometry() {
  CudaDeviceGeometry g;
#ifdef COMFY_WITH_CUDA
  if (at::hasCUDA()) {
    const auto* p = at::cuda::getCurrentDeviceProperties();
    g.multi_processor_count = p->multiProcessorCount;
    g.max_threads_per_multi_processor = p->maxThreadsPerMultiProcessor;
  }
#endif
  return g;
}

class CpuGlobalSource final : public NoiseSource {
 public:
  void seed(uint64_t s) override { at::manual_seed(s); }
  at::Tensor randn(at::IntArrayRef shape) override {
    return at::randn(shape, at::detail::getDefaultCPUGenerator(), at::TensorOptions().dtype(at::kFloat));
  }
};

#ifdef COMFY_WITH_CUDA
class CudaDefaultSource final : public NoiseSource {
 public:
  void seed(uint64_t s) override {
    at::Generator g = at::cuda::detail::getDefaultCUDAGenerator();
    std::lock_guard<std::mutex> lock(g.mutex());
    g.set_current_seed(s);  // torch.cuda.manual_seed: current device only, offset back to 0
  }
  at::Tensor randn(at::IntArrayRef shape) override {
    at::Generator g = at::cuda::detail::getDefaultCUDAGenerator();
    return at::randn(shape, g, at::TensorOptions().dtype(at::kFloat).device(at::kCUDA)).cpu();
  }
};
#endif

class EmulatedCudaSource final : public NoiseSource {
 public:
  EmulatedCudaSource() : em_(0, emulated_geometry()) {}
  void seed(uint64_t s) override { em_.manual_seed(s); }
  at::Tensor randn(at::IntArrayRef shape) override { return em_.randn(shape); }

 private:
  CudaRandnEmulator em_;
};

}  // namespace

std::unique_ptr<NoiseSource> cpu_global_noise_source() { return std::make_unique<CpuGlobalSource>(); }

std::unique_ptr<NoiseSource> cuda_noise_source() {
#ifdef COMFY_WITH_CUDA
  if (cuda_usable()) return std::make_unique<CudaDefaultSource>();
#endif
  static std::once_flag warned;
  std::call_once(warned, [] {
    spdlog::warn("GPU noise mode without a CUDA device: emulating PyTorch's CUDA randn on the CPU "
                 "(H100 launch geometry; values agree with a real GPU to about 1e-6)");
  });
  return std::make_unique<EmulatedCudaSource>();
}

}  // namespace noise_detail

at::Tensor randn_cuda(at::IntArrayRef shape, uint64_t seed, bool emulate) {
#ifdef COMFY_WITH_CUDA
  if (!emulate && at::hasCUDA()) {
    at::Generator g = at::cuda::detail::createCUDAGenerator();
    g.set_current_seed(seed);
    return at::randn(shape, g, at::TensorOptions().dtype(at::kFloat).device(at::kCUDA)).cpu();
  }
#endif
  noise_detail::CudaRandnEmulator em(seed, noise_detail::emulated_geometry());
  return em.randn(shape);
}

}  // namespace comfy
