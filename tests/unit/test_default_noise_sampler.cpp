#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <limits>

#include "comfy/core/error.hpp"
#include "comfy/sampling/noise.hpp"
#include "comfy/sampling/sampler.hpp"
#include "test_util.hpp"

using namespace comfy;

// Spec N4.6 anchor: default_noise_sampler(seed 0) on the CPU seeds its generator with 1.
TEST(DefaultNoiseSampler, CpuSeedsWithSeedPlusOne) {
  auto x = at::zeros({1, 4, 4, 4});
  auto ns = make_default_noise_sampler(x, 0);
  auto n0 = (*ns)(14.6f, 9.1f);
  ASSERT_EQ(n0.sizes(), x.sizes());
  ASSERT_EQ(n0.scalar_type(), at::kFloat);
  auto f = n0.flatten();
  EXPECT_NEAR(f[0].item<float>(), -1.5256f, 1e-4);
  EXPECT_NEAR(f[1].item<float>(), -0.7502f, 1e-4);
  EXPECT_NEAR(f[2].item<float>(), -0.6540f, 1e-4);
  EXPECT_NEAR(f[3].item<float>(), -1.6095f, 1e-4);
  EXPECT_TRUE(at::equal(n0, randn_cpu({1, 4, 4, 4}, 1)));
}

// Each call is the next draw of one private generator: call k equals the k-th randn of a fresh
// generator with the same seed, and the global generator does not interfere.
TEST(DefaultNoiseSampler, SuccessiveCallsAreSuccessiveDraws) {
  auto x = at::zeros({2, 4, 3, 5});
  auto ns = make_default_noise_sampler(x, 41);
  at::Generator g = at::detail::createCPUGenerator(42);
  for (int k = 0; k < 3; ++k) {
    at::manual_seed(1000 + k);  // disturb the global generator between calls
    auto got = (*ns)(1.0f, 0.5f);
    auto want = at::randn({2, 4, 3, 5}, g, at::kFloat);
    EXPECT_TRUE(at::equal(got, want)) << "call " << k;
  }
}

TEST(DefaultNoiseSampler, MaxSeedOnCpuOverflowsLikeTheReference) {
  auto x = at::zeros({1, 4, 2, 2});
  try {
    make_default_noise_sampler(x, std::numeric_limits<uint64_t>::max());
    FAIL() << "expected an overflow error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Overflow when unpacking long"), std::string::npos);
  }
}

TEST(DefaultNoiseSampler, NoSeedUsesTheGlobalGenerator) {
  auto x = at::zeros({1, 4, 2, 2});
  at::manual_seed(7);
  auto ns = make_default_noise_sampler(x, std::nullopt);
  auto got = (*ns)(1.0f, 0.0f);
  EXPECT_TRUE(at::equal(got, randn_cpu({1, 4, 2, 2}, 7)));
}

// torch.manual_seed keeps only the low 32 bits on the CPU (golden README; noise.comfy.*.seed5).
TEST(RandnCpu, SeedUsesLow32Bits) {
  auto a = randn_cpu({2, 4, 8, 8}, 5);
  auto b = randn_cpu({2, 4, 8, 8}, 5 + (uint64_t(1) << 32));
  auto c = randn_cpu({2, 4, 8, 8}, 6);
  EXPECT_TRUE(at::equal(a, b));
  EXPECT_FALSE(at::equal(a, c));
  // N4.6 anchor: prepare_noise(seed 0) for [1,4,4,4] starts -1.1258, -1.1524, -0.2506, -0.4339.
  auto f = randn_cpu({1, 4, 4, 4}, 0).flatten();
  EXPECT_NEAR(f[0].item<float>(), -1.1258f, 1e-4);
  EXPECT_NEAR(f[3].item<float>(), -0.4339f, 1e-4);
}
