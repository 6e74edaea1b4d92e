// Initial-noise behaviour beyond the golden cases: the GPU modes (real CUDA or its emulation), the
// batch_index draw order, the global-generator side effects and the variation mixing formulas.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "comfy/core/error.hpp"
#include "comfy/sampling/noise.hpp"
#include "sampling/noise/cuda_randn_emulation.hpp"
#include "sampling/noise/mix_noise.hpp"

using namespace comfy;

namespace {
bool live_cuda() {
#ifdef COMFY_WITH_CUDA
  return at::hasCUDA();
#else
  return false;
#endif
}
}  // namespace

TEST(PrepareNoise, ComfyBatchIndexDrawsEveryIndexUpToTheMaximum) {
  auto latent = at::zeros({3, 4, 5, 6});
  auto got = comfy_prepare_noise(latent, 11, std::vector<int64_t>{3, 1, 3});
  at::Generator g = at::detail::createCPUGenerator(11);
  std::vector<at::Tensor> z;
  for (int k = 0; k < 4; ++k) z.push_back(at::randn({1, 4, 5, 6}, g, at::kFloat));
  EXPECT_TRUE(at::equal(got, at::cat({z[3], z[1], z[3]}, 0)));
}

// torch.manual_seed seeds the process-global generator: later global draws continue its stream.
TEST(PrepareNoise, ComfyReseedsTheGlobalCpuGenerator) {
  comfy_prepare_noise(at::zeros({1, 4, 4, 4}), 7, std::nullopt);
  auto next = at::randn({1, 4, 4, 4});
  at::Generator g = at::detail::createCPUGenerator(7);
  at::randn({1, 4, 4, 4}, g, at::kFloat);
  EXPECT_TRUE(at::equal(next, at::randn({1, 4, 4, 4}, g, at::kFloat)));
}

// GPU(=A1111): torch.cuda.manual_seed(seed + i) per item; emulated without a GPU.
TEST(PrepareNoise, GpuIncrementalSeedsEachItem) {
  auto latent = at::zeros({2, 4, 8, 8});
  auto got = inspire_prepare_noise(latent, 40, std::nullopt, NoiseDevice::GPU, "incremental", 0, 0.0, "linear");
  ASSERT_TRUE(got.device().is_cpu());
  auto want = at::cat({randn_cuda({1, 4, 8, 8}, 40), randn_cuda({1, 4, 8, 8}, 41)}, 0);
  EXPECT_TRUE(at::equal(got, want));
}

TEST(PrepareNoise, GpuComfyModeIsOneFullBatchDraw) {
  auto got = inspire_prepare_noise(at::zeros({3, 4, 8, 8}), 9, std::nullopt, NoiseDevice::GPU, "comfy", 0, 0.0, "linear");
  EXPECT_TRUE(at::equal(got, randn_cuda({3, 4, 8, 8}, 9)));
}

// The batch_index path draws successively from one CUDA generator (the Philox offset advances).
TEST(PrepareNoise, GpuBatchIndexDrawsSuccessivelyFromOneGenerator) {
  if (live_cuda()) GTEST_SKIP() << "needs the CPU emulation (a CUDA device is present)";
  auto got = inspire_prepare_noise(at::zeros({2, 4, 8, 8}), 9, std::vector<int64_t>{2, 0}, NoiseDevice::GPU,
                                   "incremental", 5, 0.7, "slerp");  // mode and variation are ignored here
  noise_detail::CudaRandnEmulator em(9);
  auto z0 = em.randn({1, 4, 8, 8});
  em.randn({1, 4, 8, 8});
  auto z2 = em.randn({1, 4, 8, 8});
  EXPECT_TRUE(at::equal(got, at::cat({z2, z0}, 0)));
  EXPECT_FALSE(at::equal(z0, z2));
}

TEST(PrepareNoise, IncrementalOverflowFailsLikeTheReference) {
  const uint64_t max = std::numeric_limits<uint64_t>::max();
  for (auto dev : {NoiseDevice::CPU, NoiseDevice::GPU}) {
    EXPECT_NO_THROW(inspire_prepare_noise(at::zeros({1, 4, 2, 2}), max, std::nullopt, dev, "incremental", 0, 0, "linear"));
    try {
      inspire_prepare_noise(at::zeros({2, 4, 2, 2}), max, std::nullopt, dev, "incremental", 0, 0, "linear");
      FAIL() << "expected an overflow";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()), "Overflow when unpacking long");
    }
  }
}

TEST(PrepareNoise, UnknownBatchSeedModeIsRejected) {
  EXPECT_THROW(inspire_prepare_noise(at::zeros({1, 4, 2, 2}), 1, std::nullopt, NoiseDevice::CPU, "random", 0, 0, "linear"),
               Error);
  EXPECT_THROW(inspire_prepare_noise(at::zeros({2, 4, 2, 2}), 1, std::nullopt, NoiseDevice::CPU, "variation str inc",
                                     0, 0, "linear"),
               Error);
}

// "variation str inc:0.05": the same base noise for every item, strength + 0.05 * i.
TEST(PrepareNoise, VariationIncrementRaisesStrengthPerItem) {
  auto got = inspire_prepare_noise(at::zeros({3, 4, 4, 4}), 3, std::nullopt, NoiseDevice::CPU,
                                   "variation str inc:0.05", 8, 0.1, "linear");
  auto base = randn_cpu({1, 4, 4, 4}, 3), var = randn_cpu({1, 4, 4, 4}, 8);
  for (int i = 0; i < 3; ++i) {
    const double s = 0.1 + 0.05 * i;
    auto want = (base * (1 - s) + var * s) / std::sqrt((1 - s) * (1 - s) + s * s);
    EXPECT_TRUE(at::allclose(got.slice(0, i, i + 1), want, 1e-6, 1e-6)) << "item " << i;
  }
}

TEST(MixNoise, LinearIsRenormalised) {
  auto a = at::full({1, 2}, 1.0), b = at::full({1, 2}, -2.0);
  auto m = noise_detail::mix_noise(a, b, 0.25, "linear");
  const double want = (0.75 * 1 + 0.25 * -2) / std::sqrt(0.75 * 0.75 + 0.25 * 0.25);
  EXPECT_NEAR(m[0][0].item<double>(), want, 1e-6);
}

TEST(MixNoise, SlerpOfOrthogonalVectorsFollowsTheSineWeights) {
  auto low = at::tensor({2.0f, 0.0f, 0.0f}).reshape({1, 3});
  auto high = at::tensor({0.0f, 3.0f, 0.0f}).reshape({1, 3});
  const double v = 0.3;
  auto r = noise_detail::slerp(v, low, high);
  EXPECT_NEAR(r[0][0].item<double>(), 2 * std::sin((1 - v) * M_PI / 2), 1e-6);
  EXPECT_NEAR(r[0][1].item<double>(), 3 * std::sin(v * M_PI / 2), 1e-6);
  EXPECT_EQ(r[0][2].item<double>(), 0.0);
}

TEST(MixNoise, SlerpOfIdenticalDirectionsIsNaNLikeTheReference) {
  auto x = at::tensor({1.0f, 0.0f, 0.0f, 0.0f}).reshape({1, 4});
  EXPECT_TRUE(noise_detail::slerp(0.5, x, x).isnan().all().item<bool>());
}

TEST(MixNoise, SlerpTreatsAZeroRowAsOrthogonal) {
  auto low = at::zeros({1, 2});
  auto high = at::tensor({0.0f, 4.0f}).reshape({1, 2});
  auto r = noise_detail::slerp(0.5, low, high);
  EXPECT_NEAR(r[0][1].item<double>(), 4 * std::sin(0.5 * M_PI / 2), 1e-6);
}
