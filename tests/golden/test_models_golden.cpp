// Golden cases for the model families ($COMFY_NATIVE_GOLDEN_DIR/models, manifest.json): the adm vector,
// apply_model, one KSampler run per family, SDTurboScheduler sigmas and the .ckpt formats, each
// parameterised over the manifest (any number of cases per family). Tolerances from the README:
// y and sigmas |a-b| <= 1e-5 + 1e-5|b|; apply_model atol 2e-6*max|b| + 1e-5 (times max(1, sigma)),
// rtol 1e-5; KSampler final latents max|a-b| / max|b| <= 1e-5. Checkpoints are loaded by the same
// loader CheckpointLoaderSimple uses, so family detection is part of every case.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <map>
#include <mutex>

#include "comfy/io/safetensors.hpp"
#include "comfy/models/checkpoint.hpp"
#include "comfy/models/model_family.hpp"
#include "comfy/models/state_dict.hpp"
#include "comfy/sampling/ksampler.hpp"
#include "comfy/sampling/schedulers.hpp"
#include "test_util.hpp"

using namespace comfy;

namespace {

const std::vector<std::string> kFamilies = {"adm_sdxl",        "adm_refiner",       "apply_model_sdxl",
                                            "apply_model_refiner", "apply_model_sd2v", "apply_model_inpaint",
                                            "ksampler_sdxl",   "ksampler_refiner",  "ksampler_sd2v",
                                            "ksampler_inpaint", "sdturbo_scheduler", "ckpt_format"};

std::filesystem::path models_dir() { return test::golden_root() / "models"; }

const nlohmann::json& manifest() {
  static const nlohmann::json m = [] {
    auto p = models_dir() / "manifest.json";
    return std::filesystem::exists(p) ? test::load_json(p) : nlohmann::json::object();
  }();
  return m;
}

std::vector<std::string> case_ids(const std::vector<std::string>& families) {
  std::vector<std::string> ids;
  const auto& m = manifest();
  if (!m.contains("cases")) return ids;
  for (auto& c : m["cases"])
    if (std::find(families.begin(), families.end(), c.value("family", "")) != families.end())
      ids.push_back(c["id"].get<std::string>());
  return ids;
}

nlohmann::json find_case(const std::string& id) {
  for (auto& c : manifest()["cases"])
    if (c["id"] == id) return c;
  return {};
}

struct Tally {
  std::map<std::string, std::pair<int, int>> by_family;
  std::mutex mu;
  void add(const std::string& fam, bool ok) {
    std::lock_guard<std::mutex> l(mu);
    auto& p = by_family[fam];
    p.first += ok;
    p.second += 1;
  }
};
Tally& tally() {
  static Tally t;
  return t;
}
struct SummaryEnv : ::testing::Environment {
  void TearDown() override {
    for (auto& [fam, p] : tally().by_family)
      std::printf("[models golden] %s: %d/%d cases passed\n", fam.c_str(), p.first, p.second);
  }
};
const auto* kEnv = ::testing::AddGlobalTestEnvironment(new SummaryEnv);

// The tiny checkpoint a family's cases ran on (the family name ends in the model's short name).
std::string checkpoint_for(const std::string& family) {
  auto ends = [&](const char* s) {
    const std::string t = s;
    return family.size() >= t.size() && family.compare(family.size() - t.size(), t.size(), t) == 0;
  };
  if (ends("refiner")) return "tiny-sdxl-refiner.safetensors";
  if (ends("sdxl") || family == "sdturbo_scheduler") return "tiny-sdxl.safetensors";
  if (ends("sd2v")) return "tiny-sd21-v.safetensors";
  if (ends("inpaint")) return "tiny-sd15-inpaint.safetensors";
  return "";
}

std::shared_ptr<Model> model_from(const std::string& file) {
  static std::map<std::string, std::shared_ptr<Model>> cache;
  auto& m = cache[file];
  if (!m) {
    RuntimeConfig cfg;
    cfg.dtype = at::kFloat;
    m = load_checkpoint(models_dir() / file, cfg, /*want_clip=*/false, /*want_vae=*/false).model;
  }
  return m;
}

// A conditioning of one entry from the case's cond / pooled tensors and its conditioning dict.
std::shared_ptr<Conditioning> conditioning(const at::Tensor& cond, const at::Tensor& pooled, const nlohmann::json& dict) {
  CondEntry e;
  e.cross_attn = cond;
  e.pooled_output = pooled;
  for (auto& [k, v] : dict.items()) e.extra[k] = v.is_number_integer() ? Value(v.get<int64_t>()) : Value(v.get<double>());
  auto c = std::make_shared<Conditioning>();
  c->entries.push_back(e);
  return c;
}

class ModelsGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(ModelsGolden, MatchesComfyUI) {
  const auto c = find_case(GetParam());
  const std::string fam = c["family"], id = c["id"];
  std::map<std::string, at::Tensor> got;
  std::map<std::string, std::pair<double, double>> tol;  // name -> (rtol, atol); default 1e-5, 1e-5
  std::shared_ptr<io::SafeTensors> data;
  if (fam != "ckpt_format") data = test::golden_file("models/" + c["file"].get<std::string>());
  auto in = [&](const std::string& k) { return data->get(c["inputs"][k].get<std::string>()).to(at::kFloat).clone(); };

  if (fam.rfind("adm_", 0) == 0) {
    auto model = model_from(checkpoint_for(fam));
    auto cond = conditioning(at::zeros({1, 77, 8}), in("pooled_output"), c["conditioning_dict"]);
    const auto shape = c["latent_shape"].get<std::vector<int64_t>>();
    auto y = model->encode_adm(cond->entries[0], shape[3] * 8, shape[2] * 8, c["prompt_type"] == "negative");
    ASSERT_TRUE(y.has_value()) << id << ": the model takes no adm vector";
    got["y"] = *y;
  } else if (fam.rfind("apply_model_", 0) == 0) {
    auto model = model_from(checkpoint_for(fam));
    ModelConds conds;
    conds.c_crossattn = in("c_crossattn");
    if (c["inputs"].contains("y")) conds.y = in("y");
    if (c["inputs"].contains("c_concat")) conds.c_concat = in("c_concat");
    auto sigma = in("sigma");
    got["denoised"] = model->apply_model(in("x"), sigma, conds);
    got["timestep_used"] = model->sampling->timestep(sigma);
    auto ref = data->get(c["outputs"]["denoised"].get<std::string>()).to(at::kFloat);
    tol["denoised"] = {1e-5, (2e-6 * ref.abs().max().item<double>() + 1e-5) * std::max(1.0, sigma.max().item<double>())};
  } else if (fam.rfind("ksampler_", 0) == 0) {
    CoreKSamplerArgs a;
    a.model = model_from(checkpoint_for(fam));
    a.seed = c["seed"].get<uint64_t>();
    a.steps = c["steps"];
    a.cfg = c["cfg"];
    a.sampler_name = c["sampler"];
    a.scheduler = c["scheduler"];
    a.positive = conditioning(in("positive_cond"), in("positive_pooled"), c.value("positive_conditioning_dict", nlohmann::json::object()));
    a.negative = conditioning(in("negative_cond"), in("negative_pooled"), c.value("negative_conditioning_dict", nlohmann::json::object()));
    auto latent = std::make_shared<Latent>();
    latent->samples = in("latent_samples");
    if (c["inputs"].contains("noise_mask")) latent->noise_mask = in("noise_mask");
    a.latent = latent;
    std::vector<float> sigmas;
    at::Tensor noise;
    auto prev = set_sample_trace([&](const SampleTrace& t) {
      sigmas = t.sigmas;
      noise = t.noise;
    });
    got["samples"] = common_ksampler(a)->samples;
    set_sample_trace(prev);
    got["sigmas"] = at::tensor(sigmas, at::kFloat);
    got["noise"] = noise;
    auto ref = data->get(c["outputs"]["samples"].get<std::string>()).to(at::kFloat);
    tol["samples"] = {0.0, 1e-5 * ref.abs().max().item<double>()};
  } else if (fam == "sdturbo_scheduler") {
    auto model = model_from(checkpoint_for(fam));
    got["sigmas"] = sd_turbo_sigmas(*model->sampling, c["steps"], c["denoise"]);
    auto expect = c["sigmas_list"].get<std::vector<float>>();
    EXPECT_EQ(test::check_close(got["sigmas"], at::tensor(expect, at::kFloat), 1e-5, 1e-5), "") << id << " sigmas_list";
  } else if (fam == "ckpt_format") {
    const TensorMap sd = load_state_dict(models_dir() / c["file"].get<std::string>());
    auto ref = test::golden_file("nets/tiny-sd15.safetensors");
    const auto names = ref->names();
    EXPECT_EQ(sd.size(), names.size()) << id;
    if (c.contains("tensors")) EXPECT_EQ(int64_t(sd.size()), c["tensors"].get<int64_t>()) << id;
    bool ok = sd.size() == names.size();
    for (const auto& n : names) {
      auto it = sd.find(n);
      if (it == sd.end()) {
        ADD_FAILURE() << id << ": missing tensor " << n;
        ok = false;
        continue;
      }
      auto r = ref->get(n);
      if (it->second.scalar_type() != r.scalar_type() || it->second.sizes() != r.sizes() || !at::equal(it->second, r)) {
        ADD_FAILURE() << id << ": tensor " << n << " differs (" << it->second.scalar_type() << " " << it->second.sizes()
                      << " vs " << r.scalar_type() << " " << r.sizes() << ")";
        ok = false;
      }
    }
    tally().add(fam, ok);
    return;
  } else {
    FAIL() << "unknown family " << fam;
  }

  bool ok = true;
  int checked = 0;
  for (const char* group : {"outputs", "intermediates"}) {
    if (!c.contains(group)) continue;
    for (auto& [name, key] : c[group].items()) {
      auto it = got.find(name);
      if (it == got.end()) {
        ADD_FAILURE() << id << ": no value computed for " << group << " '" << name << "'";
        ok = false;
        continue;
      }
      auto expected = data->get(key.get<std::string>()).to(at::kFloat);
      if (it->second.sizes() != expected.sizes()) {
        ADD_FAILURE() << id << " " << name << ": shape " << it->second.sizes() << " expected " << expected.sizes();
        ok = false;
        continue;
      }
      auto [rtol, atol] = tol.count(name) ? tol[name] : std::pair<double, double>{1e-5, 1e-5};
      if (std::getenv("COMFY_GOLDEN_VERBOSE"))
        std::printf("  %s %-14s max|diff| %.3g  max|ref| %.3g\n", id.c_str(), name.c_str(),
                    (it->second.to(at::kFloat) - expected).abs().max().item<double>(), expected.abs().max().item<double>());
      auto msg = test::check_close(it->second.to(at::kFloat).cpu(), expected, rtol, atol);
      if (!msg.empty()) {
        ADD_FAILURE() << id << " " << name << ": " << msg;
        ok = false;
      }
      ++checked;
    }
  }
  if (fam == "sdturbo_scheduler") ++checked;
  EXPECT_GT(checked, 0) << id << ": nothing compared";
  tally().add(fam, ok && checked > 0);
}

INSTANTIATE_TEST_SUITE_P(Manifest, ModelsGolden, ::testing::ValuesIn(case_ids(kFamilies)),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ModelsGolden);

// Every checkpoint of the manifest: the family, prediction type, latent format, inpainting flag and
// UNet config ComfyUI found, from our detection.
std::vector<std::string> checkpoint_names() {
  std::vector<std::string> v;
  if (manifest().contains("checkpoints"))
    for (auto& [k, ck] : manifest()["checkpoints"].items())
      if (ck.contains("model_config_class_in_comfy")) v.push_back(k);
  return v;
}

class ModelsGoldenDetection : public ::testing::TestWithParam<std::string> {};

TEST_P(ModelsGoldenDetection, FindsComfyUIsFamilyAndConfig) {
  const auto& ck = manifest()["checkpoints"][GetParam()];
  const TensorMap sd = load_state_dict(models_dir() / GetParam());
  const DetectedModel d = detect_model(sd);
  ASSERT_NE(d.family, nullptr) << d.found;
  // The tiny classes are subclasses named Tiny<upstream class>.
  const std::string cls = ck.value("model_config_class_in_comfy", "");
  EXPECT_EQ("Tiny" + d.family->name, cls);
  EXPECT_EQ(d.prediction == Prediction::V_PREDICTION ? "V_PREDICTION" : "EPS", ck["model_type"].get<std::string>());
  EXPECT_NEAR(d.family->latent_format.scale_factor, ck["latent_scale_factor"].get<double>(), 1e-9);
  EXPECT_EQ(d.inpaint, !ck["concat_keys"].empty());
  const auto& u = ck["detected_unet_config"];
  EXPECT_EQ(d.unet.in_channels, u["in_channels"].get<int64_t>());
  EXPECT_EQ(d.unet.model_channels, u["model_channels"].get<int64_t>());
  EXPECT_EQ(d.unet.context_dim, u["context_dim"].get<int64_t>());
  EXPECT_EQ(d.unet.channel_mult, u["channel_mult"].get<std::vector<int64_t>>());
  EXPECT_EQ(d.unet.num_res_blocks, u["num_res_blocks"].get<std::vector<int64_t>>());
  EXPECT_EQ(d.unet.transformer_depth, u["transformer_depth"].get<std::vector<int64_t>>());
  EXPECT_EQ(d.unet.transformer_depth_output, u["transformer_depth_output"].get<std::vector<int64_t>>());
  EXPECT_EQ(d.unet.transformer_depth_middle, u["transformer_depth_middle"].get<int64_t>());
  EXPECT_EQ(d.unet.use_linear_in_transformer, u["use_linear_in_transformer"].get<bool>());
  if (u["adm_in_channels"].is_null()) EXPECT_FALSE(d.unet.adm_in_channels.has_value());
  else EXPECT_EQ(d.unet.adm_in_channels.value_or(-1), u["adm_in_channels"].get<int64_t>());
}

INSTANTIATE_TEST_SUITE_P(Manifest, ModelsGoldenDetection, ::testing::ValuesIn(checkpoint_names()),
                         [](const ::testing::TestParamInfo<std::string>& i) {
                           std::string n = i.param;
                           for (auto& ch : n)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ModelsGoldenDetection);

}  // namespace
