// The sampling loop's host-scalar and fused fast paths against the libtorch expressions they stand
// for: bit for bit (at::equal), on sizes that are not a multiple of any vector width.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "comfy/models/toy_gaussian.hpp"
#include "comfy/sampling/model_sampling.hpp"
#include "sampling/fused.hpp"

using namespace comfy;

namespace {
at::Tensor rnd(int64_t n, int64_t seed, double scale = 1.0) {
  at::manual_seed(seed);
  return at::randn({2, 4, 37, n}) * scale;
}
const float kSigmas[] = {14.614642f, 7.0f, 3.1f, 1.0f, 0.5f, 0.1f, 0.0291675f, 1e-3f, 80.0f};
}  // namespace

TEST(FusedOps, CfgCombineIsBitIdenticalToTheTensorExpression) {
  auto C = rnd(29, 1), U = rnd(29, 2, 3.0);
  for (double cfg : {8.0, 1.0, 0.0, 7.3, -2.5, 1e-3}) {
    auto ref = U + (C - U) * cfg;
    EXPECT_TRUE(at::equal(fused::cfg_combine(C, U, float(cfg)), ref)) << cfg;
  }
}

TEST(FusedOps, EpsDenoisedAndEulerUpdateAreBitIdentical) {
  auto x = rnd(31, 3, 10.0), e = rnd(31, 4);
  for (float s : kSigmas) {
    EXPECT_TRUE(at::equal(fused::eps_denoised(x, e, s), x - e * s)) << s;
    const float dt = 0.37f * s - s;
    EXPECT_TRUE(at::equal(fused::euler_update(x, e, s, dt), x + ((x - e) / s) * dt)) << s;
  }
}

TEST(FusedOps, Dpmpp2mUpdateIsBitIdentical) {
  auto x = rnd(23, 10, 7.0), d = rnd(23, 11), old = rnd(23, 12);
  for (float e : {-0.3f, -0.05f, -1.0f}) {
    const float ratio = 0.81f, c2 = 1 / (2 * 1.37f), c1 = 1 + c2;
    EXPECT_TRUE(at::equal(fused::dpmpp_2m_update(x, d, at::Tensor(), ratio, 0, 0, e), x * ratio - d * e));
    EXPECT_TRUE(at::equal(fused::dpmpp_2m_update(x, d, old, ratio, c1, c2, e), x * ratio - (d * c1 - old * c2) * e));
  }
}

TEST(FusedOps, NonContiguousOrOtherDtypesFallBackToTheExpression) {
  auto x = rnd(8, 5).transpose(2, 3), e = rnd(8, 6).transpose(2, 3);
  ASSERT_FALSE(x.is_contiguous());
  EXPECT_TRUE(at::equal(fused::eps_denoised(x, e, 2.0f), x - e * 2.0f));
  auto xd = x.to(at::kDouble), ed = e.to(at::kDouble);
  EXPECT_TRUE(at::equal(fused::cfg_combine(xd, ed, 3.0f), ed + (xd - ed) * 3.0f));
}

TEST(ModelSamplingHostSigma, MatchesTheTensorVersionsBitForBit) {
  const auto ms = ModelSampling::discrete();
  auto x = rnd(19, 7, 5.0), out = rnd(19, 8);
  std::vector<float> sig(std::begin(kSigmas), std::end(kSigmas));
  for (float t : ms.sigmas_host) sig.push_back(t);  // every table sigma: exact ties in timestep()
  for (int i = 0; i < 200; ++i) sig.push_back(0.03f * std::pow(1.03f, float(i)));
  for (float s : sig) {
    auto st = at::full({2}, s);
    ASSERT_TRUE(at::equal(ms.calculate_input(s, x), ms.calculate_input(st, x))) << s;
    ASSERT_TRUE(at::equal(ms.calculate_denoised(s, out, x), ms.calculate_denoised(st, out, x))) << s;
    ASSERT_EQ(ms.timestep_value(s), ms.timestep(st)[0].item<float>()) << s;
  }
}

TEST(ModelSamplingHostSigma, ApplyModelWithAHostSigmaEqualsTheTensorCall) {
  auto model = make_toy_gaussian_model();
  ModelConds c;
  c.c_crossattn = at::cat({toy_conditioning(false)->entries[0].cross_attn, toy_conditioning(true)->entries[0].cross_attn});
  auto x = rnd(16, 9, 4.0).slice(3, 0, 16).contiguous();
  for (float s : kSigmas)
    EXPECT_TRUE(at::equal(model->apply_model(x, s, c), model->apply_model(x, at::full({2}, s), c))) << s;
}
