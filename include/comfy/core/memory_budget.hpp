#pragma once
// Sizes that cannot fit are refused before anything is allocated (issue 14): a node that is about to
// create a large tensor asks first, and gets a clear error naming what it needed instead of a libtorch
// allocation failure (or the kernel's OOM killer) half-way through.
#include <cstdint>
#include <optional>
#include <string>

namespace comfy {

struct RuntimeConfig;

// The memory a run may use: RuntimeConfig::memory_limit when set (--memory-limit), else this machine's
// physical memory plus swap.
uint64_t memory_budget(const RuntimeConfig& cfg);

// Throws comfy::Error("execution_error", ...) at `input` when `bytes` exceed the budget:
// "<what> needs 256.0 GiB of memory (<shape>); the limit is 125.5 GiB (physical memory + swap)".
// `bytes` is a double so that products of large sizes cannot overflow before the check.
void require_memory(const RuntimeConfig& cfg, double bytes, const std::string& what, const std::string& input = {});

// Bytes of a float32 tensor with these sizes (as a double: no overflow).
double float_tensor_bytes(std::initializer_list<int64_t> sizes);

// "512 B", "1.5 KiB", "256.0 GiB"
std::string format_bytes(double bytes);
// "8GiB", "512M", "1.5G", "1000000": the byte count, or nullopt when unreadable.
std::optional<uint64_t> parse_bytes(const std::string& text);

}  // namespace comfy
