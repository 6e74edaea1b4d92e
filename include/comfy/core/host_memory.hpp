#pragma once
// Process-wide tuning of the C heap for tensor work on the CPU.
//
// libtorch's CPU tensors come from malloc. With glibc's defaults a sampling loop on a 64x64 latent
// frees and re-allocates 64-512 KiB buffers every op: they sit around the mmap threshold, and the
// heap top is trimmed back to the OS after each free, so every fresh buffer page-faults its memory
// in again. Measured with bench_sampling (toy model, 1 thread): this was 2/3 of the run time.
// Keeping freed memory in the heap (no trimming below 512 MiB of free top, no mmap below 64 MiB)
// removes that cost; large weights are mmapped from safetensors files and are not affected.
namespace comfy {

// Call once, early in main(), before large allocations. Idempotent; a no-op on non-glibc systems.
// The environment variables MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ still win when set.
void tune_host_memory();

}  // namespace comfy
