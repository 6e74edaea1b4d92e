// Scheduler behaviour: the spec's reference values (sampling-schedules.md S4/S5), closed forms and
// edge cases. The golden suite covers the Impact path against upstream; this covers the rest.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include "comfy/core/error.hpp"
#include "comfy/sampling/model_sampling.hpp"
#include "comfy/sampling/schedulers.hpp"
#include "sampling/schedulers/schedule_util.hpp"
#include "test_util.hpp"

using namespace comfy;

namespace {
const ModelSampling& sd15() {
  static const ModelSampling ms = ModelSampling::discrete();
  return ms;
}
std::vector<double> host(const at::Tensor& t) {
  auto d = t.to(at::kDouble).contiguous();
  return std::vector<double>(d.data_ptr<double>(), d.data_ptr<double>() + d.numel());
}
void expect_values(const at::Tensor& got, const std::vector<double>& want, double tol, const std::string& what) {
  auto g = host(got);
  ASSERT_EQ(g.size(), want.size()) << what;
  for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], want[i], tol) << what << " [" << i << "]";
}
}  // namespace

// The table in S4 (SD1.5, n = 10, rounded to 6 decimals).
TEST(Schedulers, CoreSchedulersMatchSpecReferenceTable) {
  const std::map<std::string, std::vector<double>> ref = {
      {"normal", {14.61464, 7.839883, 4.609174, 2.918307, 1.950161, 1.344928, 0.932358, 0.624977, 0.368658, 0.029167, 0}},
      {"sgm_uniform", {14.61464, 8.307171, 5.092408, 3.325069, 2.279731, 1.61558, 1.162865, 0.831884, 0.571189, 0.343705, 0}},
      {"simple", {14.614641, 8.302803, 5.087763, 3.321083, 2.276463, 1.612886, 1.160578, 0.82986, 0.569285, 0.341674, 0}},
      {"karras", {14.614643, 9.102929, 5.478392, 3.168605, 1.749418, 0.914073, 0.446918, 0.201398, 0.08191, 0.029167, 0}},
      {"exponential", {14.61464, 7.324869, 3.67123, 1.840024, 0.922221, 0.462218, 0.231664, 0.11611, 0.058195, 0.029167, 0}},
      {"ddim_uniform", {8.390685, 5.134431, 3.347764, 2.292854, 1.623692, 1.168216, 0.835653, 0.57405, 0.346187, 0.041314, 0}},
      {"beta", {14.614641, 11.54277, 7.371844, 4.372802, 2.615236, 1.618279, 1.027329, 0.654885, 0.39551, 0.199059, 0}},
      {"linear_quadratic",
       {14.614641, 14.541568, 14.468495, 14.395422, 14.322349, 14.249275, 13.620845, 11.881703, 9.031848, 5.07128, 0}},
      {"kl_optimal", {14.614633, 4.23235, 2.393719, 1.597066, 1.132997, 0.815244, 0.572914, 0.372484, 0.195288, 0.029167, 0}},
  };
  ASSERT_EQ(core_scheduler_names().size(), 9u);
  for (const auto& name : core_scheduler_names()) {
    auto s = calculate_sigmas(sd15(), name, 10);
    EXPECT_EQ(s.scalar_type(), at::kFloat);
    EXPECT_EQ(s.dim(), 1);
    EXPECT_TRUE(s.device().is_cpu());
    expect_values(s, ref.at(name), 6e-6, name);
  }
}

// Karras: sigma_i = (smax^(1/7) + i/(n-1) * (smin^(1/7) - smax^(1/7)))^7, then a 0.
TEST(Schedulers, KarrasFollowsTheRhoFormula) {
  const double smin = sd15().sigma_min(), smax = sd15().sigma_max();
  for (int64_t n : {1, 2, 7, 30}) {
    auto s = host(calculate_sigmas(sd15(), "karras", n));
    ASSERT_EQ(s.size(), size_t(n + 1));
    EXPECT_EQ(s.back(), 0.0);
    for (int64_t i = 0; i < n; ++i) {
      const double r = n == 1 ? 0.0 : double(i) / double(n - 1);
      const double want = std::pow(std::pow(smax, 1 / 7.0) + r * (std::pow(smin, 1 / 7.0) - std::pow(smax, 1 / 7.0)), 7.0);
      EXPECT_NEAR(s[size_t(i)], want, 2e-6 * want) << "n " << n << " i " << i;
    }
    EXPECT_NEAR(s[0], smax, 2e-6 * smax);
    if (n > 1) EXPECT_NEAR(s[size_t(n - 1)], smin, 2e-6 * smin);
  }
}

TEST(Schedulers, ExponentialIsLogUniform) {
  auto s = host(calculate_sigmas(sd15(), "exponential", 12));
  const double ratio = std::pow(double(sd15().sigma_min()) / sd15().sigma_max(), 1.0 / 11);
  for (int i = 0; i + 1 < 12; ++i) EXPECT_NEAR(s[size_t(i + 1)] / s[size_t(i)], ratio, 1e-5);
}

TEST(Schedulers, KlOptimalOneStepIsNaNThenZero) {
  auto s = host(calculate_sigmas(sd15(), "kl_optimal", 1));
  ASSERT_EQ(s.size(), 2u);
  EXPECT_TRUE(std::isnan(s[0]));
  EXPECT_EQ(s[1], 0.0);
}

TEST(Schedulers, KlOptimalEndpointsAreTanOfAtan) {
  auto s = host(calculate_sigmas(sd15(), "kl_optimal", 5));
  EXPECT_NEAR(s[0], sd15().sigma_max(), 2e-6 * sd15().sigma_max());
  EXPECT_NEAR(s[4], sd15().sigma_min(), 1e-7);
  // the midpoint: tan of the mean of the two arctangents
  const double mid = std::tan(0.5 * (std::atan(double(sd15().sigma_min())) + std::atan(double(sd15().sigma_max()))));
  EXPECT_NEAR(s[2], mid, 2e-6 * mid);
}

TEST(Schedulers, LinearQuadraticOneStepIsSigmaMaxThenZero) {
  expect_values(calculate_sigmas(sd15(), "linear_quadratic", 1), {sd15().sigma_max(), 0.0}, 0, "lq1");
}

TEST(Schedulers, SimpleStartsAtTheTableMaximumWithStepsPlusOneValues) {
  for (int64_t n : {1, 3, 1000, 1500}) {
    auto s = host(calculate_sigmas(sd15(), "simple", n));
    ASSERT_EQ(s.size(), size_t(n + 1));
    EXPECT_EQ(s[0], double(sd15().sigma_max()));
    EXPECT_EQ(s.back(), 0.0);
  }
}

// S4: n = 7 gives q = 142 and 8 table entries (8 steps), plus the appended 0.
TEST(Schedulers, DdimUniformCanReturnMoreThanStepsPlusOne) {
  auto s = host(calculate_sigmas(sd15(), "ddim_uniform", 7));
  ASSERT_EQ(s.size(), 9u);
  EXPECT_EQ(s[0], double(sd15().sigmas_host[995]));  // 1 + 7*142
  EXPECT_EQ(s[7], double(sd15().sigmas_host[1]));
  EXPECT_EQ(s[8], 0.0);
}

// S4: reference indices for n = 20.
TEST(Schedulers, BetaUsesTheSpecIndicesForTwentySteps) {
  const std::vector<int> idx = {999, 986, 959, 922, 876, 823, 765, 703, 637, 569,
                                500, 430, 362, 296, 234, 176, 123, 77,  40,  13};
  auto s = host(calculate_sigmas(sd15(), "beta", 20));
  ASSERT_EQ(s.size(), 21u);
  for (size_t i = 0; i < idx.size(); ++i) EXPECT_EQ(s[i], double(sd15().sigmas_host[size_t(idx[i])])) << i;
}

TEST(Schedulers, BetaDropsConsecutiveDuplicateTimesteps) {
  auto s = host(calculate_sigmas(sd15(), "beta", 2000));
  EXPECT_LT(s.size(), 2001u);
  for (size_t i = 0; i + 2 < s.size(); ++i) EXPECT_GT(s[i], s[i + 1]);
}

TEST(Schedulers, UnknownNameRaisesLikeComfyUI) {
  try {
    calculate_sigmas(sd15(), "nope", 10);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "error invalid scheduler nope");
  }
  EXPECT_THROW(impact_calculate_sigmas(sd15(), "euler", "AYS SD3", 10), Error);
}

// Impact: dpm_2 & co compute steps+1 and drop the second-to-last sigma.
TEST(Schedulers, DiscardSamplersDropThePenultimateSigma) {
  for (const char* sampler : {"dpm_2", "dpm_2_ancestral", "uni_pc", "uni_pc_bh2"}) {
    auto full = host(calculate_sigmas(sd15(), "karras", 11));
    auto got = host(impact_calculate_sigmas(sd15(), sampler, "karras", 10));
    ASSERT_EQ(got.size(), 11u);
    for (size_t i = 0; i < 10; ++i) EXPECT_EQ(got[i], full[i]);
    EXPECT_EQ(got[10], 0.0);
  }
  EXPECT_TRUE(at::equal(impact_calculate_sigmas(sd15(), "euler", "karras", 10), calculate_sigmas(sd15(), "karras", 10)));
}

TEST(Schedulers, InspireNamesAreCoreThenTables) {
  const auto& n = inspire_scheduler_names();
  ASSERT_EQ(n.size(), 16u);
  EXPECT_EQ(n[0], "simple");
  EXPECT_EQ(n[9], "AYS SDXL");
  EXPECT_EQ(n[12], "GITS[coeff=1.2]");
  EXPECT_EQ(n[15], "OSS Chroma");
  for (const auto& name : n) {
    auto s = impact_calculate_sigmas(sd15(), "euler", name, 8);
    EXPECT_GE(s.size(0), 9) << name;
  }
}

// S5.1 reference values.
TEST(Schedulers, AlignYourStepsMatchesSpecValues) {
  expect_values(ays_sigmas("SD1", 5), {14.614641, 3.863675, 1.884192, 0.964258, 0.397746, 0}, 1e-6, "AYS SD1 n5");
  expect_values(ays_sigmas("SD1", 20),
                {14.614641, 9.727467, 6.474576, 5.001565, 3.863675, 3.226626, 2.694615, 2.253258, 1.884192, 1.620889,
                 1.39438,   1.159544, 0.964258, 0.793128, 0.652369, 0.509389, 0.397746, 0.245495, 0.151523, 0.066479, 0},
                1e-6, "AYS SD1 n20");
  expect_values(ays_sigmas("SDXL", 20),
                {14.614641, 9.609468, 6.318449, 4.879451, 3.768179, 2.866872, 2.181148, 1.709936, 1.340524, 1.075002,
                 0.862072,  0.691744, 0.555069, 0.459179, 0.379854, 0.29765,  0.233236, 0.161205, 0.111419, 0.057007, 0},
                1e-6, "AYS SDXL n20");
  // steps + 1 == 11: the table verbatim, last value replaced by 0
  expect_values(ays_sigmas("SVD", 10), {700.00, 54.5, 15.886, 7.977, 4.248, 1.789, 0.981, 0.403, 0.173, 0.034, 0}, 1e-5,
                "AYS SVD n10");
}

TEST(Schedulers, TableSchedulersHonourDenoise) {
  auto full = host(ays_sigmas("SD1", 10));
  auto half = host(ays_sigmas("SD1", 10, 0.5));  // last round(5)+1 values
  ASSERT_EQ(half.size(), 6u);
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(half[i], full[5 + i]);
  EXPECT_EQ(half[5], 0.0);
  EXPECT_EQ(ays_sigmas("SD1", 10, 0.0).numel(), 0);
  EXPECT_EQ(oss_sigmas("FLUX", 10, 0.25).numel(), 3);  // Python round(2.5) = 2 (half to even): 2 + 1 values
}

// GITS steps = 1 indexes row -1 (the 20-step row) in the reference: the schedule is its last two values.
TEST(Schedulers, GitsOneStepTakesTheTailOfTheTwentyStepRow) {
  expect_values(gits_sigmas(1.2, 1), {0.09824532, 0}, 1e-7, "GITS n1");
  expect_values(gits_sigmas(1.2, 2), {14.61464119, 0.803307, 0}, 1e-6, "GITS n2");
  auto s = host(gits_sigmas(1.2, 40));  // > 20: log-linear interpolation of the 20-step row
  ASSERT_EQ(s.size(), 41u);
  EXPECT_NEAR(s[0], 14.61464119, 1e-5);
  for (size_t i = 0; i + 1 < s.size(); ++i) EXPECT_GT(s[i], s[i + 1]);
  EXPECT_THROW(gits_sigmas(1.05, 10), Error);
}

TEST(Schedulers, OptimalStepsUsesTheTableVerbatimWhenLengthsMatch) {
  expect_values(oss_sigmas("FLUX", 10), {0.9968, 0.9886, 0.9819, 0.975, 0.966, 0.9471, 0.9158, 0.8287, 0.5512, 0.2808, 0},
                1e-7, "OSS FLUX n10");
  EXPECT_EQ(oss_sigmas("Wan", 20).numel(), 21);
  EXPECT_EQ(oss_sigmas("Chroma", 3).numel(), 4);
}

// NumPy interp on log values: at the knots the input comes back (up to exp(log(x)) rounding).
TEST(ScheduleUtil, LoglinearInterpKeepsKnotsAndIsLogLinearBetween) {
  const std::vector<double> levels = {10.0, 1.0, 0.1};
  auto out = sched_detail::loglinear_interp(levels, 5);
  ASSERT_EQ(out.size(), 5u);
  const std::vector<double> want = {10.0, std::sqrt(10.0), 1.0, std::sqrt(0.1), 0.1};
  for (size_t i = 0; i < 5; ++i) EXPECT_NEAR(out[i], want[i], 1e-12 * want[i]) << i;
}

// Closed forms of the regularised incomplete beta function and its inverse.
TEST(ScheduleUtil, InverseIncompleteBetaClosedForms) {
  for (double p : {1e-6, 0.01, 0.3, 0.5, 0.77, 0.999}) {
    EXPECT_NEAR(sched_detail::ibeta_inv(p, 1, 1), p, 1e-14);
    EXPECT_NEAR(sched_detail::ibeta_inv(p, 1, 2), 1 - std::sqrt(1 - p), 1e-14);
    const double arcsine = std::pow(std::sin(p * M_PI / 2), 2);  // Beta(1/2, 1/2)
    EXPECT_NEAR(sched_detail::ibeta_inv(p, 0.5, 0.5), arcsine, 1e-13);
    EXPECT_NEAR(sched_detail::ibeta(sched_detail::ibeta_inv(p, 0.6, 0.6), 0.6, 0.6), p, 1e-14);
  }
  EXPECT_EQ(sched_detail::ibeta_inv(0.5, 0.6, 0.6), 0.5);
}

// scipy.stats.beta.ppf timesteps recorded with SciPy (tests/unit/data/beta_timesteps_scipy.json).
TEST(ScheduleUtil, BetaTimestepsMatchSciPy) {
  const auto j = test::load_json(test::source_dir() / "tests/unit/data/beta_timesteps_scipy.json");
  int64_t checked = 0;
  for (const auto& [key, want] : j["idx"].items()) {
    const int64_t n = std::stoll(key);
    const double step = 1.0 / double(n);
    for (int64_t i = 0; i < n; ++i) {
      const double t = std::nearbyint(sched_detail::ibeta_inv(1.0 - double(i) * step, 0.6, 0.6) * 999.0);
      EXPECT_EQ(int64_t(t), want[size_t(i)].get<int64_t>()) << "n " << n << " k " << i;
      ++checked;
    }
  }
  EXPECT_GT(checked, 3000);
}
