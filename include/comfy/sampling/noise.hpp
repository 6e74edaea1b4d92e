#pragma once
// Initial noise (sampling-noise.md N1, N2): ComfyUI's prepare_noise and the Inspire variants,
// CPU (torch.manual_seed + torch.randn) and GPU(=A1111) (CUDA Philox, emulated on CPU when no GPU).
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace comfy {

// torch.randn(shape, generator=torch.Generator('cpu').manual_seed(seed)), f32.
at::Tensor randn_cpu(at::IntArrayRef shape, uint64_t seed);
// torch.randn(shape, device='cuda', generator seeded with seed), f32, returned on the CPU. Uses the real
// CUDA generator when CUDA is available and `emulate` is false; else a bit-exact CPU emulation
// (Philox 4x32-10 + PyTorch's Box-Muller transform and thread layout).
at::Tensor randn_cuda(at::IntArrayRef shape, uint64_t seed, bool emulate = false);

// comfy.sample.prepare_noise(latent, seed, noise_inds) (N1.1).
at::Tensor comfy_prepare_noise(const at::Tensor& latent, uint64_t seed,
                               const std::optional<std::vector<int64_t>>& batch_index);

enum class NoiseDevice { CPU, GPU };
// Inspire libs/utils.prepare_noise (N2.2). mode: "incremental", "comfy", "variation str inc:0.01",
// "variation str inc:0.05"; variation_method: "linear" | "slerp". Returns f32 on the CPU.
at::Tensor inspire_prepare_noise(const at::Tensor& latent, uint64_t seed,
                                 const std::optional<std::vector<int64_t>>& batch_index, NoiseDevice device,
                                 const std::string& mode, uint64_t variation_seed, double variation_strength,
                                 const std::string& variation_method);

}  // namespace comfy
