// WeightArena (the load's fp16 / bf16 -> fp32 cast into huge-page blocks) against libtorch's own
// `tensor.to(kFloat)`: the same bits for every finite, infinite and subnormal value, any length, any
// layout; tensors outlive the arena that made them; MapWeights takes the arena path for file weights.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "comfy/io/safetensors.hpp"
#include "comfy/models/weights.hpp"
#include "models/weight_arena.hpp"

using namespace comfy;

namespace {
// Every 16-bit pattern but the NaNs, as a tensor of `dt` (NaN payloads are not a weight value).
at::Tensor all_non_nan_patterns(c10::ScalarType dt) {
  auto bits = at::arange(0, 65536, at::kInt).to(at::kShort);  // wraps to the int16 patterns
  auto t = bits.view(dt);
  return t.index({at::logical_not(t.to(at::kFloat).isnan())}).contiguous();
}
bool same_bits(const at::Tensor& a, const at::Tensor& b) {
  return a.sizes() == b.sizes() && a.scalar_type() == b.scalar_type() &&
         at::equal(a.contiguous().view(at::kInt), b.contiguous().view(at::kInt));
}
}  // namespace

TEST(WeightArena, HalfAndBf16CastMatchLibtorchBitForBit) {
  for (auto dt : {at::kHalf, at::kBFloat16}) {
    WeightArena arena;
    auto src = all_non_nan_patterns(dt);
    ASSERT_GT(src.numel(), 60000);
    EXPECT_TRUE(WeightArena::handles(src, at::kCPU, at::kFloat));
    // Every length around the 8-wide vector loop, and the whole table.
    for (int64_t n : {int64_t(1), int64_t(7), int64_t(8), int64_t(9), int64_t(15), int64_t(17), int64_t(1000), int64_t(src.numel())}) {
      auto part = src.slice(0, src.numel() - n);
      EXPECT_TRUE(same_bits(arena.convert(part, at::kFloat), part.to(at::kFloat))) << c10::toString(dt) << " n=" << n;
    }
  }
}

TEST(WeightArena, KeepsShapesAndTakesNonContiguousSources) {
  WeightArena arena;
  at::manual_seed(3);
  auto w = (at::randn({64, 32, 3, 3}) * 4).to(at::kHalf);
  auto c = arena.convert(w, at::kFloat);
  EXPECT_EQ(c.sizes(), w.sizes());
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_TRUE(same_bits(c, w.to(at::kFloat)));
  auto t = at::randn({33, 65}).to(at::kBFloat16).t();  // a transposed view
  ASSERT_FALSE(t.is_contiguous());
  EXPECT_TRUE(same_bits(arena.convert(t, at::kFloat), t.to(at::kFloat)));
}

TEST(WeightArena, RefusesWhatItDoesNotConvert) {
  auto h = at::ones({4}, at::kHalf);
  EXPECT_FALSE(WeightArena::handles(h, at::kCPU, at::kHalf));               // no cast needed
  EXPECT_FALSE(WeightArena::handles(h, at::kCPU, at::kBFloat16));           // not to fp32
  EXPECT_FALSE(WeightArena::handles(at::ones({4}), at::kCPU, at::kFloat));  // already fp32
  EXPECT_FALSE(WeightArena::handles(at::ones({4}, at::kInt), at::kCPU, at::kFloat));
  EXPECT_FALSE(WeightArena::handles(h, c10::Device(c10::kCUDA, 0), at::kFloat));
  EXPECT_FALSE(WeightArena::handles(at::ones({0}, at::kHalf), at::kCPU, at::kFloat));
}

TEST(WeightArena, TensorsOutliveTheArenaAcrossBlocks) {
  // Enough small weights to fill more than one block, one weight larger than a quarter block (its own
  // block), then the arena goes away and every tensor still reads its values.
  std::vector<at::Tensor> src, out;
  {
    WeightArena arena;
    const int64_t small = int64_t(WeightArena::kBlockBytes / 4 / sizeof(float)) - 1000;  // just under a quarter
    for (int i = 0; i < 5; ++i) src.push_back(at::full({small}, float(i) + 0.5f, at::kHalf));
    src.push_back(at::full({int64_t(WeightArena::kBlockBytes / 4 / sizeof(float)) + 17}, -3.25f, at::kBFloat16));
    for (auto& s : src) out.push_back(arena.convert(s, at::kFloat));
  }
  for (size_t i = 0; i < src.size(); ++i) {
    EXPECT_TRUE(same_bits(out[i], src[i].to(at::kFloat))) << i;
    EXPECT_EQ(out[i].data_ptr<float>()[0], src[i][0].item<float>());
  }
  // Distinct, non-overlapping storage for each.
  for (size_t i = 0; i + 1 < out.size(); ++i)
    for (size_t j = i + 1; j < out.size(); ++j) {
      auto a = reinterpret_cast<uintptr_t>(out[i].data_ptr()), b = reinterpret_cast<uintptr_t>(out[j].data_ptr());
      auto an = size_t(out[i].nbytes()), bn = size_t(out[j].nbytes());
      EXPECT_TRUE(a + an <= b || b + bn <= a) << i << " overlaps " << j;
    }
}

TEST(WeightArena, MapWeightsCastsFileWeightsThroughIt) {
  namespace fs = std::filesystem;
  const auto path = fs::temp_directory_path() / ("arena_" + std::to_string(::getpid()) + ".safetensors");
  at::manual_seed(7);
  auto w16 = at::randn({48, 40}).to(at::kHalf), b16 = at::randn({48}).to(at::kBFloat16);
  auto c32 = at::randn({5});
  {
    std::ofstream f(path, std::ios::binary);
    f << io::safetensors_bytes({{"l.weight", w16}, {"l.bias", b16}, {"c", c32}}, {});
  }
  auto st = io::SafeTensors::open(path);
  TensorMap m = tensors_under(*st, "");
  MapWeights mw(m, at::kCPU, at::kFloat, "test file");
  auto w = mw.get("l.weight", {48, 40}), b = mw.get("l.bias", {48}), c = mw.get("c", {5});
  EXPECT_EQ(w.scalar_type(), at::kFloat);
  EXPECT_TRUE(same_bits(w, w16.to(at::kFloat)));
  EXPECT_TRUE(same_bits(b, b16.to(at::kFloat)));
  EXPECT_TRUE(same_bits(c, c32));  // fp32 stays a view of the file
  EXPECT_TRUE(io::is_mapped_view(c));
  EXPECT_FALSE(io::is_mapped_view(w));
  // Read again after the file's pages were released: the mapping re-reads the file.
  EXPECT_TRUE(same_bits(mw.get("l.weight", {48, 40}), w16.to(at::kFloat)));
  m.clear();
  st.reset();
  EXPECT_TRUE(same_bits(w, w16.to(at::kFloat)));  // the converted weight owns its memory
  fs::remove(path);
}
