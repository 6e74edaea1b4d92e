#include "models/weight_arena.hpp"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <sys/mman.h>

#include <cstring>
#include <new>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define COMFY_ARENA_X86 1
#endif

namespace comfy {

namespace {
constexpr size_t kHuge = size_t(2) << 20;  // transparent huge page size on x86-64 / arm64 (4 KB granule)
constexpr size_t kAlign = 64;
constexpr int64_t kGrain = int64_t(1) << 18;  // elements per parallel chunk

size_t round_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

#ifdef COMFY_ARENA_X86
__attribute__((target("avx,f16c"))) void half_to_float_f16c(const uint16_t* s, float* d, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(d + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i))));
  for (; i < n; ++i) d[i] = float(c10::Half(s[i], c10::Half::from_bits()));
}
bool have_f16c() {
  static const bool yes = __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx");
  return yes;
}
#endif

void half_to_float(const uint16_t* s, float* d, int64_t n) {
#ifdef COMFY_ARENA_X86
  if (have_f16c()) return half_to_float_f16c(s, d, n);
#endif
  for (int64_t i = 0; i < n; ++i) d[i] = float(c10::Half(s[i], c10::Half::from_bits()));
}

// bf16 is the top half of an fp32: the conversion is exact and a shift (the compiler vectorises it).
void bf16_to_float(const uint16_t* s, float* d, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t bits = uint32_t(s[i]) << 16;
    std::memcpy(d + i, &bits, sizeof bits);
  }
}
}  // namespace

struct WeightArena::Block {
  void* map = nullptr;
  size_t map_bytes = 0;
  char* base = nullptr;  // 2 MB aligned inside the mapping
  size_t size = 0;
  explicit Block(size_t bytes) {
    size = round_up(bytes, kHuge);
    map_bytes = size + kHuge;  // room to align the start to a huge page
    map = ::mmap(nullptr, map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (map == MAP_FAILED) throw std::bad_alloc();
    base = reinterpret_cast<char*>(round_up(reinterpret_cast<uintptr_t>(map), kHuge));
#ifdef MADV_HUGEPAGE
    ::madvise(base, size, MADV_HUGEPAGE);  // advice only: without THP the block is plain pages
#endif
  }
  ~Block() { ::munmap(map, map_bytes); }
  Block(const Block&) = delete;
  Block& operator=(const Block&) = delete;
};

bool WeightArena::handles(const at::Tensor& src, c10::Device device, c10::ScalarType dtype) {
  return device.is_cpu() && src.defined() && src.device().is_cpu() && dtype == at::kFloat &&
         (src.scalar_type() == at::kHalf || src.scalar_type() == at::kBFloat16) && src.numel() > 0;
}

void* WeightArena::take(size_t bytes, std::shared_ptr<Block>& owner) {
  bytes = round_up(bytes, kAlign);
  if (bytes > kBlockBytes / 4) {  // a large weight gets a block of its own: the current block keeps filling
    owner = std::make_shared<Block>(bytes);
    return owner->base;
  }
  if (!block_ || used_ + bytes > block_->size) {
    block_ = std::make_shared<Block>(kBlockBytes);
    used_ = 0;
  }
  owner = block_;
  void* p = block_->base + used_;
  used_ += bytes;
  return p;
}

at::Tensor WeightArena::convert(const at::Tensor& src, c10::ScalarType dtype) {
  const int64_t n = src.numel();
  std::shared_ptr<Block> owner;
  float* dst = static_cast<float*>(take(size_t(n) * sizeof(float), owner));
  auto* ctx = new std::shared_ptr<Block>(std::move(owner));
  c10::DataPtr dp(dst, ctx, [](void* c) { delete static_cast<std::shared_ptr<Block>*>(c); }, c10::Device(c10::kCPU));
  c10::Storage storage(c10::Storage::use_byte_size_t(), size_t(n) * sizeof(float), std::move(dp), nullptr, false);
  at::Tensor out = at::empty({0}, at::TensorOptions().dtype(dtype)).set_(storage, 0, src.sizes());

  if (!src.is_contiguous()) {
    out.copy_(src);
    return out;
  }
  const auto* s = static_cast<const uint16_t*>(src.data_ptr());
  const bool half = src.scalar_type() == at::kHalf;
  at::parallel_for(0, n, kGrain, [&](int64_t b, int64_t e) {
    if (half) half_to_float(s + b, dst + b, e - b);
    else bf16_to_float(s + b, dst + b, e - b);
  });
  return out;
}

}  // namespace comfy
