// Golden cases for the UNet and the VAE ($COMFY_NATIVE_GOLDEN_DIR/nets, manifest.json): every case of
// the families below, every output and every recorded intermediate, within the README's tolerances
// (|a-b| <= 1e-5 + 1e-5|b|; model_apply: atol scaled by max(1, sigma); intermediates: atol scaled by
// max(1, max|ref|)). A case may carry its own {"tolerance": {"rtol", "atol"}}.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <map>
#include <mutex>

#include "comfy/io/safetensors.hpp"
#include "comfy/models/model.hpp"
#include "comfy/models/unet.hpp"
#include "comfy/models/vae.hpp"
#include "test_util.hpp"

using namespace comfy;

namespace {

const std::vector<std::string> kFamilies = {"unet_sd15", "model_apply", "unet_sdxl_style", "vae_decode",
                                            "vae_encode"};

const nlohmann::json& manifest() {
  static const nlohmann::json m = [] {
    auto p = test::golden_root() / "nets" / "manifest.json";
    return std::filesystem::exists(p) ? test::load_json(p) : nlohmann::json::object();
  }();
  return m;
}

std::vector<std::string> case_ids() {
  std::vector<std::string> ids;
  const auto& m = manifest();
  if (!m.contains("cases")) return ids;
  for (auto& c : m["cases"])
    if (std::find(kFamilies.begin(), kFamilies.end(), c.value("family", "")) != kFamilies.end())
      ids.push_back(c["id"].get<std::string>());
  return ids;
}

nlohmann::json find_case(const std::string& id) {
  for (auto& c : manifest()["cases"])
    if (c["id"] == id) return c;
  return {};
}

// Summary per family, printed when the suite ends.
struct Tally {
  std::map<std::string, std::pair<int, int>> by_family;  // passed, total
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
      std::printf("[nets golden] %s: %d/%d cases passed\n", fam.c_str(), p.first, p.second);
  }
};
const auto* kEnv = ::testing::AddGlobalTestEnvironment(new SummaryEnv);

// COMFY_TEST_DEVICE=cuda runs the networks on the GPU (fp32; cuDNN may use TF32, so the tolerance
// becomes 2e-3 relative to each tensor's largest value): a device smoke test, not the golden contract.
c10::Device test_device() {
  const char* d = std::getenv("COMFY_TEST_DEVICE");
  return d && std::string(d) == "cuda" ? c10::Device(c10::kCUDA) : c10::Device(c10::kCPU);
}

std::shared_ptr<UNetModel> unet_from(const std::string& file) {
  static std::map<std::string, std::shared_ptr<UNetModel>> cache;
  auto& net = cache[file];
  if (!net) {
    auto st = test::golden_file("nets/" + file);
    net = UNetModel::load(tensors_under(*st, "model.diffusion_model."), test_device(), at::kFloat, file);
  }
  return net;
}

std::shared_ptr<AutoencoderKL> vae_from(const std::string& file) {
  static std::map<std::string, std::shared_ptr<AutoencoderKL>> cache;
  auto& net = cache[file];
  if (!net) {
    RuntimeConfig cfg;
    cfg.device = test_device();
    cfg.dtype = at::kFloat;
    auto vae = load_vae(test::golden_file("nets/" + file), "first_stage_model.", cfg);
    net = std::dynamic_pointer_cast<AutoencoderKL>(vae->net);
  }
  return net;
}

class NetsGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(NetsGolden, MatchesComfyUI) {
  const auto c = find_case(GetParam());
  const std::string fam = c["family"], id = c["id"];
  auto data = test::golden_file("nets/" + c["file"].get<std::string>());
  const auto dev = test_device();
  auto in = [&](const std::string& k) { return data->get(c["inputs"][k].get<std::string>()).clone().to(dev); };
  double rtol = 1e-5, atol = 1e-5;
  const bool on_gpu = dev.is_cuda();
  if (on_gpu) rtol = atol = 2e-3;
  if (c.contains("tolerance")) {
    rtol = c["tolerance"].value("rtol", rtol);
    atol = c["tolerance"].value("atol", atol);
  }
  std::map<std::string, at::Tensor> got;  // output / intermediate name -> tensor
  auto record = [&](const std::string& n, const at::Tensor& t) { got[n] = t.detach().to(at::kFloat).cpu().clone(); };

  if (fam == "unet_sd15" || fam == "unet_sdxl_style") {
    auto net = unet_from(fam == "unet_sd15" ? "tiny-sd15.safetensors" : "tiny-sdxl-unet.safetensors");
    net->hook = record;
    std::optional<at::Tensor> y;
    if (c["inputs"].contains("y")) y = in("y");
    got["eps"] = net->forward(in("x"), in("timesteps"), in("context"), y);
    net->hook = nullptr;
  } else if (fam == "model_apply") {
    Model model;
    model.net = unet_from("tiny-sd15.safetensors");
    model.sampling = std::make_shared<ModelSampling>(ModelSampling::discrete());
    model.device = dev;
    ModelConds conds;
    conds.c_crossattn = in("context");
    auto sigma = in("sigma");
    got["denoised"] = model.apply_model(in("x"), sigma, conds);
    got["timestep_used"] = model.sampling->timestep(sigma);
    atol *= std::max(1.0, sigma.max().item<double>());
  } else if (fam == "vae_decode") {
    auto vae = vae_from("tiny-sd15.safetensors");
    auto latent = in("latent");
    got["decoder_raw_nchw"] = vae->decode_raw(latent);
    got["image"] = vae->decode(latent);
  } else if (fam == "vae_encode") {
    auto vae = vae_from("tiny-sd15.safetensors");
    auto image = in("image").cpu();
    got["latent"] = vae->encode(image);
    // The crop and the moments, recomputed the way encode() does them.
    const int64_t H = image.size(1) / 8 * 8, W = image.size(2) / 8 * 8;
    const int64_t oy = (image.size(1) % 8) / 2, ox = (image.size(2) % 8) / 2;
    auto px = image.slice(1, oy, oy + H).slice(2, ox, ox + W).slice(3, 0, 3);
    got["pixels_after_crop_nhwc"] = px;
    got["moments"] = vae->encode_moments((px.movedim(-1, 1) * 2.0 - 1.0).to(dev));
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
      auto expected = data->get(key.get<std::string>());
      if (it->second.sizes() != expected.sizes()) {
        ADD_FAILURE() << id << " " << name << ": shape " << it->second.sizes() << " expected " << expected.sizes();
        ok = false;
        continue;
      }
      // Intermediates reach |x| ~ 10 while the final eps is O(1): their absolute term scales with the
      // tensor's largest value (the README measures implementation variation relative to it).
      double a = atol;
      if (std::string(group) == "intermediates" || on_gpu) a *= std::max(1.0, expected.abs().max().item<double>());
      auto msg = test::check_close(it->second.cpu(), expected.to(at::kFloat), rtol, a);
      if (std::getenv("COMFY_GOLDEN_VERBOSE"))
        std::printf("  %s %-22s max|diff| %.3g  max|ref| %.3g\n", id.c_str(), name.c_str(),
                    (it->second - expected.to(at::kFloat)).abs().max().item<double>(),
                    expected.to(at::kFloat).abs().max().item<double>());
      if (!msg.empty()) {
        ADD_FAILURE() << id << " " << name << ": " << msg;
        ok = false;
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, 0) << id << ": nothing compared";
  tally().add(fam, ok && checked > 0);
}

INSTANTIATE_TEST_SUITE_P(Manifest, NetsGolden, ::testing::ValuesIn(case_ids()),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(NetsGolden);

TEST(NetsGoldenConfig, DetectsComfyUIsUNetConfigFromTheTinyCheckpoints) {
  const auto& m = manifest();
  ASSERT_TRUE(m.contains("configs"));
  for (auto [name, file] : {std::pair<std::string, std::string>{"unet_sd15", "tiny-sd15.safetensors"},
                            {"unet_sdxl_style", "tiny-sdxl-unet.safetensors"}}) {
    auto st = test::golden_file("nets/" + file);
    auto cfg = UNetConfig::detect(tensors_under(*st, "model.diffusion_model."));
    auto k = m["configs"][name]["constructor_kwargs"];
    EXPECT_EQ(cfg.in_channels, k["in_channels"].get<int64_t>()) << name;
    EXPECT_EQ(cfg.out_channels, k["out_channels"].get<int64_t>()) << name;
    EXPECT_EQ(cfg.model_channels, k["model_channels"].get<int64_t>()) << name;
    EXPECT_EQ(cfg.channel_mult, k["channel_mult"].get<std::vector<int64_t>>()) << name;
    EXPECT_EQ(cfg.num_res_blocks, k["num_res_blocks"].get<std::vector<int64_t>>()) << name;
    EXPECT_EQ(cfg.transformer_depth, k["transformer_depth"].get<std::vector<int64_t>>()) << name;
    EXPECT_EQ(cfg.transformer_depth_output, k["transformer_depth_output"].get<std::vector<int64_t>>()) << name;
    EXPECT_EQ(cfg.transformer_depth_middle, k["transformer_depth_middle"].get<int64_t>()) << name;
    EXPECT_EQ(cfg.context_dim, k["context_dim"].get<int64_t>()) << name;
    EXPECT_EQ(cfg.use_linear_in_transformer, k["use_linear_in_transformer"].get<bool>()) << name;
    EXPECT_EQ(cfg.num_heads, k["num_heads"].get<int64_t>()) << name;
    EXPECT_EQ(cfg.num_head_channels, k["num_head_channels"].get<int64_t>()) << name;
    if (k["adm_in_channels"].is_null()) EXPECT_FALSE(cfg.adm_in_channels) << name;
    else EXPECT_EQ(cfg.adm_in_channels.value_or(-1), k["adm_in_channels"].get<int64_t>()) << name;
  }
}

TEST(NetsGoldenConfig, DetectsTheVaeConfig) {
  const auto& m = manifest();
  ASSERT_TRUE(m.contains("configs"));
  auto dd = m["configs"]["vae"]["ddconfig"];
  auto cfg = VaeConfig::detect(tensors_under(*test::golden_file("nets/tiny-sd15.safetensors"), "first_stage_model."));
  EXPECT_EQ(cfg.ch, dd["ch"].get<int64_t>());
  EXPECT_EQ(cfg.ch_mult, dd["ch_mult"].get<std::vector<int64_t>>());
  EXPECT_EQ(cfg.num_res_blocks, dd["num_res_blocks"].get<int64_t>());
  EXPECT_EQ(cfg.z_channels, dd["z_channels"].get<int64_t>());
  EXPECT_EQ(cfg.embed_dim, m["configs"]["vae"]["embed_dim"].get<int64_t>());
  EXPECT_EQ(cfg.double_z, dd["double_z"].get<bool>());
}

}  // namespace
