// ModelSamplingContinuousEDM (ComfyUI comfy/model_sampling.py) as the V_PREDICTION_EDM model type of
// CosXL checkpoints uses it, and the ModelSamplingContinuousEDM node. Expected values are the closed
// forms of ComfyUI's formulas, computed here in double: sigmas = exp(linspace(log min, log max, 1000)),
// timestep = 0.25 ln sigma, sigma(t) = exp(4 t), percent_to_sigma log-linear between the table ends,
// V_PREDICTION with sigma_data 1 (EDM: 0.5).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "comfy/core/error.hpp"
#include "comfy/core/node.hpp"
#include "comfy/models/model.hpp"
#include "comfy/sampling/model_sampling.hpp"
#include "comfy/sampling/schedulers.hpp"
#include "node_runner.hpp"

using namespace comfy;

namespace {

constexpr double kMin = 0.03, kMax = 80.0;  // a CosXL-like range (not the class defaults)

double rel(double a, double b) { return std::fabs(a - b) / std::max(std::fabs(b), 1e-30); }

// Returns zeros and records the timesteps and inputs it was called with.
struct RecordingNet : DiffusionNet {
  at::Tensor t, x_in;
  at::Tensor forward(const at::Tensor& x, const at::Tensor& ts, const ModelConds&) override {
    t = ts.clone();
    x_in = x.clone();
    return at::zeros_like(x);
  }
};

using test::run_node;

// "input: message" of the Error `f` throws ("" when none).
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.input_name + ": " + e.what();
  }
  return "";
}

}  // namespace

TEST(ContinuousEdmSampling, TheSigmaTableIsLogUniformBetweenTheEnds) {
  auto ms = ModelSampling::continuous_edm(kMin, kMax);
  EXPECT_EQ(ms.kind, ModelSampling::Kind::ContinuousEDM);
  EXPECT_EQ(ms.prediction, Prediction::V_PREDICTION);
  EXPECT_EQ(ms.sigma_data, 1.0);
  ASSERT_EQ(ms.sigmas_host.size(), 1000u);
  const double a = std::log(kMin), b = std::log(kMax);
  for (size_t i : {size_t(0), size_t(1), size_t(250), size_t(500), size_t(998), size_t(999)}) {
    const double want = std::exp(a + (b - a) * double(i) / 999.0);
    EXPECT_LT(rel(ms.sigmas_host[i], want), 5e-6) << i << ": " << ms.sigmas_host[i] << " vs " << want;
    EXPECT_LT(std::fabs(ms.log_sigmas_host[i] - std::log(want)), 5e-6) << i;
  }
  EXPECT_LT(rel(ms.sigma_min(), kMin), 5e-6);
  EXPECT_LT(rel(ms.sigma_max(), kMax), 5e-6);
}

TEST(ContinuousEdmSampling, TimestepIsAQuarterOfLogSigmaAndSigmaItsInverse) {
  auto ms = ModelSampling::continuous_edm(kMin, kMax);
  for (double s : {0.03, 0.5, 1.0, 7.25, 80.0}) {
    const float sf = float(s);
    const double want = 0.25 * std::log(double(sf));
    EXPECT_NEAR(ms.timestep_value(sf), want, 1e-6) << s;
    // the host path and the tensor path agree bit for bit
    EXPECT_EQ(ms.timestep(at::scalar_tensor(sf, at::kFloat)).item<float>(), ms.timestep_value(sf)) << s;
  }
  for (double t : {-0.8, 0.0, 0.3, 1.1}) {
    const double want = std::exp(4.0 * double(float(t)));
    EXPECT_LT(rel(ms.sigma_at(float(t)), want), 1e-6) << t;
    EXPECT_EQ(ms.sigma(at::scalar_tensor(float(t), at::kFloat)).item<float>(), ms.sigma_at(float(t))) << t;
  }
  // Not the discrete table lookup: a sigma between two table entries keeps its own timestep.
  EXPECT_NEAR(ms.timestep_value(1.0f), 0.0, 1e-9);
}

TEST(ContinuousEdmSampling, PercentToSigmaInterpolatesLogSigmaBetweenTheTableEnds) {
  auto ms = ModelSampling::continuous_edm(kMin, kMax);
  EXPECT_EQ(ms.percent_to_sigma(0.0), 999999999.9);
  EXPECT_EQ(ms.percent_to_sigma(-1.0), 999999999.9);
  EXPECT_EQ(ms.percent_to_sigma(1.0), 0.0);
  const double lo = ms.sigma_min(), hi = ms.sigma_max();
  // percent p: sigma_min^p * sigma_max^(1-p)
  EXPECT_LT(rel(ms.percent_to_sigma(0.5), std::sqrt(lo * hi)), 1e-12);
  EXPECT_LT(rel(ms.percent_to_sigma(0.25), std::pow(lo, 0.25) * std::pow(hi, 0.75)), 1e-12);
  EXPECT_LT(rel(ms.percent_to_sigma(1e-9), hi), 1e-6);
}

TEST(ContinuousEdmSampling, NormalSchedulerIsLogUniformAndKarrasFollowsItsFormula) {
  auto ms = ModelSampling::continuous_edm(kMin, kMax);
  const int n = 5;
  // normal: timesteps linspace(t(max), t(min), n), sigma = exp(4 t): max * (min/max)^(k/(n-1)), then 0
  auto normal = calculate_sigmas(ms, "normal", n);
  ASSERT_EQ(normal.numel(), n + 1);
  for (int k = 0; k < n; ++k) {
    const double want = kMax * std::pow(kMin / kMax, double(k) / (n - 1));
    EXPECT_LT(rel(normal[k].item<double>(), want), 2e-5) << k;
  }
  EXPECT_EQ(normal[n].item<double>(), 0.0);
  // karras (rho 7) between the table ends
  auto karras = calculate_sigmas(ms, "karras", n);
  ASSERT_EQ(karras.numel(), n + 1);
  const double a = std::pow(kMax, 1 / 7.0), b = std::pow(kMin, 1 / 7.0);
  for (int k = 0; k < n; ++k) {
    const double want = std::pow(a + double(k) / (n - 1) * (b - a), 7.0);
    EXPECT_LT(rel(karras[k].item<double>(), want), 2e-5) << k;
  }
  // simple: every (1000/n)-th table entry from the top: log-uniform as well
  auto simple = calculate_sigmas(ms, "simple", n);
  for (int k = 0; k < n; ++k) {
    const double want = std::exp(std::log(kMin) + (std::log(kMax) - std::log(kMin)) * (999 - 200 * k) / 999.0);
    EXPECT_LT(rel(simple[k].item<double>(), want), 2e-5) << k;
  }
}

TEST(ContinuousEdmSampling, TheModelSeesAQuarterLogSigmaAndTheVPredictionScalings) {
  Model m;
  auto net = std::make_shared<RecordingNet>();
  m.net = net;
  m.sampling = std::make_shared<ModelSampling>(ModelSampling::continuous_edm(kMin, kMax));
  auto x = at::full({2, 4, 2, 2}, 3.0f);
  ModelConds conds;
  conds.c_crossattn = at::zeros({2, 1, 8});
  for (float s : {0.5f, 12.0f}) {
    auto denoised = m.apply_model(x, s, conds);
    ASSERT_EQ(net->t.numel(), 2);
    EXPECT_NEAR(net->t[0].item<double>(), 0.25 * std::log(double(s)), 1e-6);
    // c_in = 1/sqrt(s^2 + 1); with a zero output, denoised = x / (s^2 + 1)
    EXPECT_TRUE(at::allclose(net->x_in, x / std::sqrt(double(s) * s + 1), 1e-6, 0));
    EXPECT_TRUE(at::allclose(denoised, x / (double(s) * s + 1), 1e-6, 0));
  }
}

// ---------------------------------------------------------------- the node

TEST(ModelSamplingContinuousEDMNode, SetsTheScheduleAndPredictionOnACopy) {
  auto model = std::make_shared<Model>();
  model->sampling = std::make_shared<ModelSampling>(ModelSampling::discrete());
  auto run = [&](const char* sampling, double mx, double mn) {
    return run_node("ModelSamplingContinuousEDM", {{"model", Value(model)}, {"sampling", Value(sampling)},
                                                   {"sigma_max", Value(mx)}, {"sigma_min", Value(mn)}})
        .values.at(0)
        .as<Model>();
  };
  auto v = run("v_prediction", 120.0, 0.002);
  EXPECT_EQ(v->sampling->kind, ModelSampling::Kind::ContinuousEDM);
  EXPECT_EQ(v->sampling->prediction, Prediction::V_PREDICTION);
  EXPECT_EQ(v->sampling->sigma_data, 1.0);
  EXPECT_LT(rel(v->sampling->sigma_max(), 120.0), 5e-6);
  EXPECT_LT(rel(v->sampling->sigma_min(), 0.002), 5e-6);
  EXPECT_EQ(model->sampling->kind, ModelSampling::Kind::Discrete);  // the input model is untouched

  // edm: sigma_data 0.5, denoised = x * 0.25/(s^2+0.25) + out * s*0.5/sqrt(s^2+0.25)
  auto e = run("edm", 80.0, 0.002);
  EXPECT_EQ(e->sampling->prediction, Prediction::EDM);
  EXPECT_EQ(e->sampling->sigma_data, 0.5);
  const double s = 2.0;
  auto x = at::full({1, 4, 1, 1}, 1.0f), out = at::full({1, 4, 1, 1}, 1.0f);
  const double want = 0.25 / (s * s + 0.25) + s * 0.5 / std::sqrt(s * s + 0.25);
  EXPECT_NEAR(e->sampling->calculate_denoised(at::scalar_tensor(s), out, x)[0][0][0][0].item<double>(), want, 1e-6);

  auto eps = run("eps", 80.0, 0.002);
  EXPECT_EQ(eps->sampling->prediction, Prediction::EPS);
  EXPECT_EQ(eps->latent_format.scale_factor, model->latent_format.scale_factor);

  // Playground 2.5's latent format: (z - mean) * 0.5 / std per channel
  auto pg = run("edm_playground_v2.5", 80.0, 0.002);
  EXPECT_EQ(pg->sampling->prediction, Prediction::EDM);
  auto z = at::zeros({1, 4, 1, 1});
  auto zin = pg->latent_format.process_in(z).flatten();
  const double mean[4] = {-1.6574, 1.886, -1.383, 2.5155}, stdv[4] = {8.4927, 5.9022, 6.5498, 5.2299};
  for (int c = 0; c < 4; ++c) EXPECT_NEAR(zin[c].item<double>(), -mean[c] * 0.5 / stdv[c], 1e-6) << c;
}

TEST(ModelSamplingContinuousEDMNode, RefusesCosmosAndNonPositiveSigmasNamingTheInput) {
  auto model = std::make_shared<Model>();
  model->sampling = std::make_shared<ModelSampling>(ModelSampling::discrete());
  auto call = [&](const char* sampling, double mx, double mn) {
    return error_of([&] {
      run_node("ModelSamplingContinuousEDM", {{"model", Value(model)}, {"sampling", Value(sampling)},
                                              {"sigma_max", Value(mx)}, {"sigma_min", Value(mn)}});
    });
  };
  auto msg = call("cosmos_rflow", 80.0, 0.002);
  EXPECT_EQ(msg.rfind("sampling: ", 0), 0u) << msg;
  EXPECT_NE(msg.find("cosmos_rflow"), std::string::npos) << msg;
  msg = call("v_prediction", 80.0, 0.0);
  EXPECT_EQ(msg.rfind("sigma_min: ", 0), 0u) << msg;
  msg = call("v_prediction", 0.0, 0.002);
  EXPECT_EQ(msg.rfind("sigma_max: ", 0), 0u) << msg;
}
