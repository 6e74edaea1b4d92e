// blocks::Linear's oneDNN path (fp32 CPU, the UNet's attention and feed-forward projections) against
// at::linear (OpenBLAS sgemm, what ComfyUI computes with): same shapes, values within fp32 rounding of
// a different summation order, bias or none, 2-D and 3-D inputs; small layers stay on at::linear.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "models/blocks.hpp"

using namespace comfy;

namespace {
blocks::Linear make(int64_t in, int64_t out, bool bias, uint64_t seed) {
  at::manual_seed(seed);
  blocks::Linear l;
  l.weight = at::randn({out, in}) / std::sqrt(double(in));
  if (bias) l.bias = at::randn({out}) * 0.1;
  return l;
}
}  // namespace

TEST(LinearOneDnn, MatchesAtLinearWithinFp32Rounding) {
  if (!at::hasMKLDNN()) GTEST_SKIP() << "this libtorch has no oneDNN: Linear is at::linear only";
  struct Case { std::vector<int64_t> x; int64_t out; bool bias; };
  for (const Case& c : {Case{{2, 64, 640}, 640, false}, Case{{2, 64, 640}, 2560, true}, Case{{128, 1280}, 1280, true},
                        Case{{2, 77, 768}, 320, false}, Case{{3, 50, 320}, 1280, true}}) {
    auto l = make(c.x.back(), c.out, c.bias, uint64_t(c.out + c.x.back()));
    auto x = at::randn(c.x);
    if (c.x.size() == 3 && c.x[0] == 3) x = at::randn({c.x[1], c.x[0], c.x[2]}).transpose(0, 1);  // a strided input
    ASSERT_TRUE(blocks::linear_uses_onednn(x, l.weight)) << c.out;
    auto got = l(x), want = at::linear(x, l.weight, l.bias);
    ASSERT_EQ(got.sizes(), want.sizes());
    EXPECT_TRUE(got.is_contiguous());
    const double rel = ((got - want).abs().max() / want.abs().max()).item<double>();
    EXPECT_LT(rel, 1e-5) << "out " << c.out;
  }
}

TEST(LinearOneDnn, SmallAndWideLayersStayOnAtLinear) {
  auto x = at::randn({2, 77, 32});
  auto tiny = make(32, 32, true, 1);
  EXPECT_FALSE(blocks::linear_uses_onednn(x, tiny.weight));  // the tiny test models
  EXPECT_TRUE(at::equal(tiny(x), at::linear(x, tiny.weight, tiny.bias)));
  auto wide = make(320, 2560, true, 2);  // > 4x the outputs: sgemm measured as fast
  EXPECT_FALSE(blocks::linear_uses_onednn(at::randn({512, 320}), wide.weight));
  EXPECT_FALSE(blocks::linear_uses_onednn(at::randn({4, 320}), make(320, 320, false, 3).weight));  // few rows
  EXPECT_FALSE(blocks::linear_uses_onednn(at::randn({128, 320}).to(at::kDouble), make(320, 320, false, 3).weight.to(at::kDouble)));
}
