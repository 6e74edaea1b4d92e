#pragma once
// Seed arithmetic as the reference does it: Python ints added without bound, then handed to
// torch's manual_seed, which rejects anything above 2^64-1 (sampling-noise.md N0.3).
#include <cstdint>

namespace comfy::noise_detail {

// seed + add, or a comfy::Error ("Overflow when unpacking long", a RuntimeError in the reference)
// when the sum does not fit in 64 bits.
uint64_t checked_seed_add(uint64_t seed, uint64_t add);

}  // namespace comfy::noise_detail
