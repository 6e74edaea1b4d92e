// Sampler-level check of the SDE / CFG++ / DPM-Solver / multistep samplers against the golden
// `samplers`, `samplers_progress`, `nodes` and `nodes_core` cases, bypassing the node layer: the
// recorded sigmas, initial noise, per-step seed and (for Impact) whole schedule go straight into the
// sampler with a CFG denoiser over the golden README's toy model. (The node-level parameterised test
// covers the same cases through the nodes.)
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>

#include "comfy/sampling/model_sampling.hpp"
#include "comfy/sampling/sampler.hpp"
#include "test_util.hpp"

using namespace comfy;
using nlohmann::json;

namespace {

// The golden README's toy EPS network inside ComfyUI's BaseModel, with plain CFG (sampling.md 3.3).
class ToyCfgDenoiser final : public Denoiser {
 public:
  ToyCfgDenoiser(at::Tensor cpos, at::Tensor cneg, double cfg)
      : ms_(ModelSampling::discrete()), cpos_(std::move(cpos)), cneg_(std::move(cneg)), cfg_(cfg) {}

  at::Tensor apply_model(const at::Tensor& x, float sigma, const at::Tensor& c) const {
    const int64_t B = x.size(0);
    at::Tensor s = at::full({B}, sigma, at::kFloat);
    at::Tensor x_in = ms_.calculate_input(s, x);
    at::Tensor sigma_t = ms_.sigma(ms_.timestep(s)).view({B, 1, 1, 1});
    at::Tensor offs = (at::arange(4, at::kFloat) - 1.5) * 0.1;
    at::Tensor mu = (c.expand({B, c.size(1), c.size(2)}).mean({1, 2}).unsqueeze(1) + offs.unsqueeze(0)).view({B, 4, 1, 1});
    at::Tensor xp = x_in * (sigma_t * sigma_t + 1).sqrt();
    at::Tensor eps = sigma_t * (xp - mu) / (0.25 + sigma_t * sigma_t);
    return ms_.calculate_denoised(s, eps, x);
  }

  at::Tensor operator()(const at::Tensor& x, float sigma) override {
    ++calls;
    const bool skip_uncond = std::fabs(cfg_ - 1.0) <= 1e-9 * std::max(1.0, std::fabs(cfg_)) && !capture_;
    at::Tensor cond = apply_model(x, sigma, cpos_);
    at::Tensor uncond = skip_uncond ? at::zeros_like(cond) : apply_model(x, sigma, cneg_);
    if (capture_) uncond_ = uncond;
    return uncond + (cond - uncond) * cfg_;
  }
  void enable_uncond_capture() override { capture_ = true; }
  at::Tensor last_uncond() const override { return uncond_; }
  const ModelSampling& model_sampling() const override { return ms_; }

  int calls = 0;

 private:
  ModelSampling ms_;
  at::Tensor cpos_, cneg_;
  double cfg_;
  bool capture_ = false;
  at::Tensor uncond_;
};

const std::set<std::string>& my_samplers() {
  static const std::set<std::string> s = {
      "dpmpp_sde", "dpmpp_sde_gpu", "dpmpp_2m_sde", "dpmpp_2m_sde_gpu", "dpmpp_2m_sde_heun", "dpmpp_2m_sde_heun_gpu",
      "dpmpp_3m_sde", "dpmpp_3m_sde_gpu", "er_sde", "seeds_2", "seeds_3", "exp_heun_2_x0", "exp_heun_2_x0_sde",
      "sa_solver", "sa_solver_pece", "res_multistep", "res_multistep_cfg_pp", "res_multistep_ancestral",
      "res_multistep_ancestral_cfg_pp", "gradient_estimation", "gradient_estimation_cfg_pp", "euler_cfg_pp",
      "euler_ancestral_cfg_pp", "dpmpp_2s_ancestral_cfg_pp", "dpmpp_2m_cfg_pp", "dpm_fast", "dpm_adaptive"};
  return s;
}

const json& manifest() {
  static const json m = test::load_json(test::golden_root() / "sampling" / "manifest.json");
  return m;
}

std::vector<std::string> case_ids() {
  std::vector<std::string> ids;
  for (const auto& c : manifest()["cases"]) {
    const std::string fam = c["family"];
    const bool sampled = c["error"].is_null() && c.contains("observed") && c["observed"].is_object() &&
                         c["observed"].value("sample_calls", 0) == 1;
    if ((fam == "samplers" || fam == "samplers_progress" || fam == "nodes" || fam == "nodes_core") && sampled &&
        c["params"].contains("sampler_name") && my_samplers().count(c["params"]["sampler_name"].get<std::string>()))
      ids.push_back(c["id"]);
  }
  return ids;
}

const json& find_case(const std::string& id) {
  for (const auto& c : manifest()["cases"])
    if (c["id"] == id) return c;
  throw std::runtime_error("no case " + id);
}

class SamplerDirectGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(SamplerDirectGolden, MatchesReference) {
  const json& c = find_case(GetParam());
  auto common = test::golden_file("sampling/common.safetensors");
  auto st = test::golden_file("sampling/" + c["file"].get<std::string>());
  const json& p = c["params"];
  ToyCfgDenoiser model(common->get("conditioning.positive"), common->get("conditioning.negative"), p["cfg"].get<double>());
  const ModelSampling& ms = model.model_sampling();
  const LatentFormat lf = LatentFormat::sd15();

  at::Tensor sig_t = st->get(c["observed"]["sigmas_used"].get<std::string>()).contiguous();
  std::vector<float> sig(sig_t.data_ptr<float>(), sig_t.data_ptr<float>() + sig_t.numel());
  at::Tensor noise = st->get(c["observed"]["noise_used"].get<std::string>()).clone();
  at::Tensor latent_in = st->get(c["inputs"]["latent_image"]["samples"].get<std::string>()).clone();
  at::Tensor latent = latent_in.count_nonzero().item<int64_t>() > 0 ? lf.process_in(latent_in) : latent_in;
  const float smax = ms.sigma_max();
  const bool max_denoise = std::fabs(smax - sig[0]) <= 1e-5 * std::max(std::fabs(smax), std::fabs(sig[0])) || sig[0] > smax;

  SamplerRun run;
  run.model = &model;
  run.x = ms.noise_scaling(at::scalar_tensor(sig[0], at::kFloat), noise, latent, max_denoise);
  run.sigmas = sig;
  run.seed = c["observed"]["sampler_seed"].get<uint64_t>();
  const SamplerInfo& info = get_sampler(p["sampler_name"].get<std::string>());
  if (c["observed"].contains("impact_total_sigmas") && info.uses_brownian) {
    // Impact's wrapper: the Brownian range comes from the whole schedule (sampling.md 2.4).
    at::Tensor total = st->get(c["observed"]["impact_total_sigmas"].get<std::string>());
    const float lo = total.masked_select(total > 0).min().item<float>(), hi = total.max().item<float>();
    run.noise_sampler = make_brownian_noise_sampler(run.x, lo, hi, *run.seed, !info.brownian_on_gpu);
  }
  std::vector<std::pair<int64_t, at::Tensor>> frames;
  at::Tensor last_x0;
  run.callback = [&](int64_t i, const at::Tensor& x, const at::Tensor& den) {
    frames.emplace_back(i, lf.process_out(x));
    last_x0 = den;
  };
  at::Tensor out = ms.inverse_noise_scaling(at::scalar_tensor(sig.back(), at::kFloat), info.fn(run));
  at::Tensor final_latent = lf.process_out(out);

  const json& tol = c["tolerance"];
  const std::string call = c["call"];
  if (c["family"] == "nodes" || c["family"] == "nodes_core") {
    // Inspire's Advanced node without leftover noise returns the last x0; everything else the final x.
    const bool x0_out = call.find("KSamplerAdvanced_inspire") != std::string::npos &&
                        p["return_with_leftover_noise"].is_boolean() && !p["return_with_leftover_noise"].get<bool>();
    at::Tensor got = x0_out && last_x0.defined() ? lf.process_out(last_x0) : final_latent;
    EXPECT_EQ(test::check_close(got, st->get(c["outputs"]["latent"]["samples"].get<std::string>()), tol), "");
    return;
  }
  if (c["family"] == "samplers") {
    EXPECT_EQ(test::check_close(final_latent, st->get(c["outputs"]["latent"]["samples"].get<std::string>()), tol), "");
    return;
  }
  // KSamplerProgress: latent = last x0; progress = [input, x at each callback, latent].
  at::Tensor latent_out = last_x0.defined() ? lf.process_out(last_x0) : final_latent;
  EXPECT_EQ(test::check_close(latent_out, st->get(c["outputs"]["latent"]["samples"].get<std::string>()), tol), "");
  std::vector<at::Tensor> parts = {latent_in};
  const int64_t total = static_cast<int64_t>(sig.size()) - 1;
  const int64_t interval = p["interval"].get<int64_t>();
  for (auto& [i, x] : frames)
    if (i == total - 1 || i % interval == 0) parts.push_back(x);
  parts.push_back(latent_out);
  at::Tensor progress = at::cat(parts, 0);
  at::Tensor expected = st->get(c["outputs"]["progress_latent"]["samples"].get<std::string>());
  ASSERT_EQ(progress.sizes(), expected.sizes());
  EXPECT_EQ(test::check_close(progress, expected, tol), "");
}

INSTANTIATE_TEST_SUITE_P(Cases, SamplerDirectGolden, ::testing::ValuesIn(case_ids()),
                         [](const ::testing::TestParamInfo<std::string>& i) {
                           std::string n = i.param;
                           for (char& ch : n)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });

// The toy denoiser itself against the golden `model` family (direct apply_model evaluations).
TEST(SamplerDirectGoldenModel, ToyModelMatchesReference) {
  auto common = test::golden_file("sampling/common.safetensors");
  ToyCfgDenoiser model(common->get("conditioning.positive"), common->get("conditioning.negative"), 1.0);
  int n = 0;
  for (const auto& c : manifest()["cases"]) {
    if (c["family"] != "model") continue;
    const float sigma = c["params"]["sigma"].get<float>();
    at::Tensor x = common->get(c["inputs"]["x"].get<std::string>());
    EXPECT_EQ(test::check_close(model.apply_model(x, sigma, common->get("conditioning.positive")),
                                common->get(c["outputs"]["denoised_positive"].get<std::string>()), c["tolerance"]),
              "")
        << c["id"];
    EXPECT_EQ(test::check_close(model.apply_model(x, sigma, common->get("conditioning.negative")),
                                common->get(c["outputs"]["denoised_negative"].get<std::string>()), c["tolerance"]),
              "")
        << c["id"];
    ++n;
  }
  // However many cases the golden root has (the shared set has 4, the held-out set 3), at least one.
  EXPECT_GT(n, 0) << "no 'model' family case in the manifest";
}

}  // namespace
