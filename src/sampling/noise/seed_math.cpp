#include "sampling/noise/seed_math.hpp"

#include "comfy/core/error.hpp"

namespace comfy::noise_detail {

uint64_t checked_seed_add(uint64_t seed, uint64_t add) {
  uint64_t out = seed + add;
  if (out < seed) {
    // torch.manual_seed(2**64) -> RuntimeError: Overflow when unpacking long
    throw Error("execution_error", "Overflow when unpacking long")
        .with_extra({{"exception_type", "RuntimeError"}, {"seed", seed}, {"offset", add}});
  }
  return out;
}

}  // namespace comfy::noise_detail
