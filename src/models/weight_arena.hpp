#pragma once
// Where a load puts the weights it has to convert (an fp16 / bf16 file read into fp32 networks on the
// CPU): packed one after another into large anonymous mappings that the kernel may back with
// transparent huge pages, filled by a vectorised, multi-threaded cast straight from the file mapping.
// The plain path (`tensor.to(dtype)`, one malloc per weight) faults every 4 KB page of ~10 GB for a
// full SDXL load and casts through ATen's generic copy kernel; this one does 512x fewer faults and
// runs the F16C conversion at memory speed. Bit for bit the same values as `to(dtype)`.
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstddef>
#include <memory>

namespace comfy {

class WeightArena {
 public:
  // Whether convert() takes this weight: a CPU fp16 / bf16 tensor going to fp32 on the CPU.
  static bool handles(const at::Tensor& src, c10::Device device, c10::ScalarType dtype);
  // `src` converted to `dtype` in arena memory (contiguous, same shape). Each returned tensor keeps
  // its block alive; a block is unmapped when the last tensor in it is freed.
  at::Tensor convert(const at::Tensor& src, c10::ScalarType dtype);

  static constexpr size_t kBlockBytes = size_t(256) << 20;

 private:
  struct Block;
  void* take(size_t bytes, std::shared_ptr<Block>& owner);
  std::shared_ptr<Block> block_;
  size_t used_ = 0;
};

}  // namespace comfy
