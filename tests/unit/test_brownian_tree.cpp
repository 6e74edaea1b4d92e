// torchsde BrownianTree / NumPy SeedSequence / BrownianTreeNoiseSampler (sampling-noise.md N3.2, N4).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <sstream>
#include <string>

#include "comfy/sampling/sampler.hpp"
#include "sampling/noise/brownian_tree.hpp"
#include "test_util.hpp"

using namespace comfy;

namespace {

// Runs /usr/bin/python3 (numpy) and returns its stdout; "" when unavailable.
std::string run_python(const std::string& code) {
  std::string py = test::python_with_torch();
  if (py.empty()) return "";
  test::TempDir dir;
  const auto script = dir.path / "s.py";
  {
    FILE* f = std::fopen(script.c_str(), "w");
    std::fputs(code.c_str(), f);
    std::fclose(f);
  }
  std::string out;
  FILE* p = popen((py + " " + script.string() + " 2>&1").c_str(), "r");
  if (!p) return "";
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

// karras(10) for the SD1.5 sigma table, as torch 1.13's k-diffusion get_sigmas_karras returns it
// (values printed with float.hex() from /usr/bin/python3 torch).
std::vector<float> karras10_sd15() {
  const char* hex[] = {"0x1.d3ab28p+3", "0x1.234b32p+3", "0x1.5e9dfap+2", "0x1.9594d8p+1", "0x1.bfd9dcp+0", "0x1.d40156p-1",
                       "0x1.c9a4f8p-2", "0x1.9c76bep-3", "0x1.4f812cp-4", "0x1.dde002p-6", "0x0p+0"};
  std::vector<float> s;
  for (const char* h : hex) s.push_back(std::strtof(h, nullptr));
  return s;
}

}  // namespace

// Vectors from sampling-noise.md N4.5 (stated there as checked against NumPy 1.24).
TEST(SeedSequence, MatchesSpecVectors) {
  EXPECT_EQ(brownian::seed_sequence_state(42, {}, 3), (std::vector<uint32_t>{387750627u, 2536650517u, 4078839648u}));
  EXPECT_EQ(brownian::seed_sequence_state(42, {0, 0}, 4),
            (std::vector<uint32_t>{2102017995u, 2891809698u, 2144110403u, 379559146u}));
}

// Live comparison with numpy.random.SeedSequence over entropies up to 2^64-1, multi-word spawn keys,
// pool sizes and output lengths; hard-coded NumPy 1.24 values when no Python is available.
TEST(SeedSequence, MatchesNumpy) {
  struct Case {
    uint64_t entropy;
    std::vector<uint64_t> key;
    size_t n, pool;
  };
  const std::vector<Case> cases = {{0, {}, 3, 24},           {18446744073709551615ull, {5, 3}, 4, 24},
                                   {4294967301ull, {7, 2}, 4, 24}, {123456789, {0, 0}, 30, 24},
                                   {42, {4294967296ull + 9, 31}, 5, 24}, {99, {1, 2, 3}, 6, 4},
                                   {1ull << 40, {}, 7, 8}};
  std::ostringstream code;
  code << "import numpy as np\n";
  for (const auto& c : cases) {
    code << "print(' '.join(str(int(v)) for v in np.random.SeedSequence(" << c.entropy << ", spawn_key=(";
    for (auto k : c.key) code << k << ",";
    code << "), pool_size=" << c.pool << ").generate_state(" << c.n << ")))\n";
  }
  std::string out = run_python(code.str());
  std::vector<std::vector<uint32_t>> expected;
  if (out.empty() || out.find("Error") != std::string::npos) {
    // Computed with NumPy 1.24.2 (/usr/bin/python3) for the first two cases.
    expected = {{2968811710u, 3677149159u, 745650761u}, {4128448950u, 745188972u, 4114323296u, 838280040u}};
  } else {
    std::istringstream in(out);
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream ls(line);
      std::vector<uint32_t> v;
      uint64_t w;
      while (ls >> w) v.push_back(static_cast<uint32_t>(w));
      expected.push_back(v);
    }
    ASSERT_EQ(expected.size(), cases.size()) << out;
  }
  for (size_t i = 0; i < expected.size(); ++i)
    EXPECT_EQ(brownian::seed_sequence_state(cases[i].entropy, cases[i].key, cases[i].n, cases[i].pool), expected[i])
        << "case " << i;
}

TEST(BrownianTree, RoundsLikePythonRound6) {
  // Expected values printed by Python 3.11 round(v, 6).
  EXPECT_EQ(brownian::round6(14.614643096923828), 14.614643);
  EXPECT_EQ(brownian::round6(0.0291671585291624), 0.029167);
  EXPECT_EQ(brownian::round6(0.5000005), 0.5);    // the double lies just below the decimal tie
  EXPECT_EQ(brownian::round6(0.0000005), 0.0);
  EXPECT_EQ(brownian::round6(2.5e-6), 3e-6);      // just above the tie
  EXPECT_EQ(brownian::round6(2.0000025), 2.000002);
}

// sampling-noise.md N4.6: x [1,4,4,4], seed 0, karras(10) SD1.5, cpu=True; 4-decimal anchors.
TEST(BrownianTreeNoiseSampler, ReproducesTorchsdeSelfTest) {
  const auto sig = karras10_sd15();
  at::Tensor x = at::zeros({1, 4, 4, 4});
  auto ns = make_brownian_noise_sampler(x, sig[9], sig[0], 0, true);
  at::Tensor n01 = (*ns)(sig[0], sig[1]).flatten();
  const float e01[] = {0.0717f, -1.1974f, -0.1059f, 1.1643f};
  for (int k = 0; k < 4; ++k) EXPECT_NEAR(n01[k].item<float>(), e01[k], 6e-5) << k;
  EXPECT_NEAR(n01.sum().item<float>(), 4.4899f, 6e-4);
  at::Tensor n34 = (*ns)(sig[3], sig[4]).flatten();
  const float e34[] = {-0.9840f, -0.3637f, 0.1170f, -0.9167f};
  for (int k = 0; k < 4; ++k) EXPECT_NEAR(n34[k].item<float>(), e34[k], 6e-5) << k;
  EXPECT_NEAR(n34.sum().item<float>(), -5.4054f, 6e-4);
}

// The halfway tree makes a query's value independent of query history (N4).
TEST(BrownianTree, ResultDoesNotDependOnQueryOrder) {
  brownian::BrownianTree a(0.03, 14.6, {2, 3, 5}, at::kCPU, 1234), b(0.03, 14.6, {2, 3, 5}, at::kCPU, 1234);
  const std::vector<std::pair<double, double>> q = {{0.5, 3.0}, {7.25, 9.5}, {0.03, 14.6}, {1.0, 1.5}, {2.0, 2.000003}};
  std::vector<at::Tensor> fa;
  for (auto [s, e] : q) fa.push_back(a.increment(s, e));
  for (size_t k = q.size(); k-- > 0;) {
    EXPECT_TRUE(at::equal(b.increment(q[k].first, q[k].second), fa[k])) << k;
  }
  // The root query is the root increment itself: W(t0, t1) ~ N(0, t1 - t0).
  EXPECT_TRUE(at::equal(a.increment(0.03, 14.6), fa[2]));
}

// Increments over disjoint intervals are independent N(0, length); adjacent ones add up.
TEST(BrownianTree, IncrementsHaveVarianceEqualToLength) {
  brownian::BrownianTree tree(0.02, 15.0, {50000}, at::kCPU, 99);
  const std::vector<std::pair<double, double>> iv = {{0.02, 0.1}, {0.1, 1.0}, {1.0, 1.3}, {3.0, 9.0}, {9.0, 15.0}};
  std::vector<at::Tensor> w;
  for (auto [s, e] : iv) {
    at::Tensor d = tree.increment(s, e);
    const double var = d.var().item<double>(), len = e - s;
    // The sample variance of 5e4 normals has relative sd ~ sqrt(2/5e4) = 0.6%.
    EXPECT_NEAR(var / len, 1.0, 0.035) << "[" << s << ", " << e << "]";
    EXPECT_NEAR(d.mean().item<double>() / std::sqrt(len), 0.0, 0.025);
    w.push_back(d);
  }
  // Disjoint intervals: uncorrelated.
  const double corr = ((w[1] * w[3]).mean() / (w[1].std() * w[3].std())).item<double>();
  EXPECT_NEAR(corr, 0.0, 0.025);
  // Additivity: W(1,1.3) + W(3,9) pieces vs a query spanning adjacent intervals.
  at::Tensor whole = tree.increment(3.0, 15.0);
  EXPECT_TRUE(at::allclose(whole, w[3] + w[4], 1e-4, 1e-4));
}

TEST(BrownianTreeNoiseSampler, ReturnsUnitVarianceNoiseAndGpuVariantEqualsCpuOnCpu) {
  at::Tensor x = at::zeros({2, 4, 64, 64});
  auto cpu = make_brownian_noise_sampler(x, 0.0291675f, 14.614642f, 42, true);
  auto dev = make_brownian_noise_sampler(x, 0.0291675f, 14.614642f, 42, false);
  at::Tensor a = (*cpu)(9.1f, 5.4f), b = (*dev)(9.1f, 5.4f);
  EXPECT_TRUE(at::equal(a, b));
  EXPECT_EQ(a.sizes(), x.sizes());
  EXPECT_NEAR(a.var().item<double>(), 1.0, 0.03);
  // Reversed arguments flip the sign.
  EXPECT_TRUE(at::equal((*cpu)(5.4f, 9.1f), -a));
}

TEST(BrownianTreeNoiseSampler, EndpointsCloserThanResolutionGiveZeroNoiseNotRecursion) {
  at::Tensor x = at::zeros({1, 4, 4, 4});
  auto ns = make_brownian_noise_sampler(x, 0.03f, 14.6f, 1, true);
  at::Tensor n = (*ns)(1.0000001f, 1.0f);
  EXPECT_EQ(n.abs().max().item<float>(), 0.0f);
}

// Consecutive queries of a schedule share one endpoint; the node cache keeps that path, so a query
// costs about one root-to-leaf path of draws (~17 for SD's range at 1e-6), not two.
TEST(BrownianTree, ConsecutiveScheduleQueriesReuseCachedPaths) {
  std::vector<double> s;
  for (int k = 0; k < 30; ++k) s.push_back(std::exp(std::log(14.6) + (std::log(0.0292) - std::log(14.6)) * k / 29.0));
  brownian::BrownianTree tree(s.back(), s.front(), {1, 4, 8, 8}, at::kCPU, 1);
  for (int k = 0; k + 1 < 30; ++k) tree.increment(s[k + 1], s[k]);
  EXPECT_LT(tree.draws(), 29 * 20);
}
