// Golden cases for the Inspire / core companion nodes ($COMFY_NATIVE_GOLDEN_DIR/companions, manifest.json):
// SeedExplorer, RegionalSeedExplorer{Mask,ColorMask}, FloatRange, LoRA Block Weight (vectors, patched
// weights, MakeLBW -> ApplyLBW; on the tiny SD1.5 and SDXL checkpoints), core LoraLoader on SDXL and the
// model merges, each case run through the registered node.
// Tolerances as the README gives them: lists, vectors, ratios, masks exact; noise atol/rtol 1e-6 (slerp
// atol 1e-5); patched / merged weights atol 1e-6 + rtol 1e-5.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <set>

#include "comfy/core/node.hpp"
#include "comfy/core/types.hpp"
#include "comfy/io/safetensors.hpp"
#include "comfy/models/checkpoint.hpp"
#include "comfy/models/lbw.hpp"
#include "comfy/models/lora.hpp"
#include "comfy/models/model_patcher.hpp"
#include "comfy/models/unet.hpp"
#include "inspire/lbw_model.hpp"
#include "test_util.hpp"

using namespace comfy;

namespace {

const std::set<std::string> kFamilies = {"seed_explorer", "regional_seed_explorer_mask", "regional_seed_explorer_color",
                                            "float_range",   "lbw_vector",                  "lbw_apply",
                                            "lbw_make_apply", "model_merge", "lbw_sdxl_vector",
                                            "lbw_sdxl_apply", "lora_loader_sdxl"};


const nlohmann::json& manifest() {
  static const nlohmann::json m = [] {
    auto p = test::golden_root() / "companions" / "manifest.json";
    return std::filesystem::exists(p) ? test::load_json(p) : nlohmann::json::object();
  }();
  return m;
}

std::vector<std::string> case_ids() {
  std::vector<std::string> ids;
  if (!manifest().contains("cases")) return ids;
  for (auto& c : manifest()["cases"]) {
    const std::string fam = c.value("family", "");
    if (kFamilies.count(fam)) ids.push_back(c["id"].get<std::string>());
  }
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
      std::printf("[companions golden] %s: %d/%d cases passed\n", fam.c_str(), p.first, p.second);
  }
};
const auto* kEnv = ::testing::AddGlobalTestEnvironment(new SummaryEnv);

std::shared_ptr<io::SafeTensors> data() { return test::golden_file("companions/companions.safetensors"); }

// A models folder with the tiny LoRA files under loras/ (links to the golden files).
struct Models {
  test::TempDir dir;
  RuntimeConfig cfg;
  Models() {
    auto loras = dir.path / "models" / "loras";
    std::filesystem::create_directories(loras);
    for (const char* f : {"tiny-lora-sd15.safetensors", "tiny-lora-sdxl.safetensors"})
      if (std::filesystem::exists(test::golden_root() / "companions" / f))
        std::filesystem::create_symlink(test::golden_root() / "companions" / f, loras / f);
    cfg.models_dirs = {dir.path / "models"};
    cfg.output_dir = dir.path / "output";
    cfg.dtype = at::kFloat;
  }
};
Models& models() {
  static Models m;
  return m;
}

const LoadedCheckpoint& tiny_sd15() {
  static const LoadedCheckpoint c = load_checkpoint(test::golden_root() / "nets" / "tiny-sd15.safetensors", models().cfg);
  return c;
}

// The tiny SDXL checkpoint (manifest inputs.sdxl_checkpoint), its config and CLIP widths detected from the weights.
const LoadedCheckpoint& tiny_sdxl() {
  static const LoadedCheckpoint c = load_checkpoint(test::golden_root() / "models" / "tiny-sdxl.safetensors", models().cfg);
  return c;
}

// A case's model / clip parameter ("tiny-sd15", "tiny-sdxl") -> the loaded checkpoint.
const LoadedCheckpoint& checkpoint_of(const nlohmann::json& params) {
  const std::string m = params.value("model", "tiny-sd15");
  if (m == "tiny-sdxl") return tiny_sdxl();
  if (m != "tiny-sd15") throw std::runtime_error("unknown model in the manifest: " + m);
  return tiny_sd15();
}

NodeOutput run(const std::string& cls, const std::map<std::string, Value>& values) {
  const NodeDef* def = Registry::global().find(cls);
  if (!def) throw std::runtime_error("node not registered: " + cls);
  NodeInputs in;
  in.values = values;
  ExecContext ctx;
  ctx.node_id = "1";
  ctx.class_type = cls;
  ctx.config = &models().cfg;
  return def->execute(in, ctx);
}

// JSON scalar -> Value as the executor gives it to a node.
Value scalar(const nlohmann::json& v) {
  if (v.is_boolean()) return Value(v.get<bool>());
  if (v.is_number_unsigned()) return Value(Int(v.get<uint64_t>()));
  if (v.is_number_integer()) return Value(Int(v.get<int64_t>()));
  if (v.is_number_float()) return Value(v.get<double>());
  if (v.is_string()) return Value(v.get<std::string>());
  return Value();
}

// The probe weight of a model key: UNet keys from the (patched) UNet, "clip_l.transformer.X" /
// "clip_g.transformer.X" from the CLIP (its weights go by ComfyUI's state-dict names).
at::Tensor probe(const Model& m, const Clip& c, const std::string& key) {
  const std::string up = "diffusion_model.";
  if (key.rfind(up, 0) == 0) return unet_weight(*m.net, key.substr(up.size()));
  const auto* w = c.encoder->lora_weights();
  if (!w || !w->count(key)) return at::Tensor();
  return w->at(key);
}

bool check_weights(const nlohmann::json& c, const Model& m, const Clip& clip) {
  bool ok = true;
  for (auto& [key, name] : c["outputs"]["weights"].items()) {
    at::Tensor got = probe(m, clip, key);
    if (!got.defined()) {
      ADD_FAILURE() << c["id"] << ": no weight " << key;
      ok = false;
      continue;
    }
    auto msg = test::check_close(got.to(at::kFloat).cpu(), data()->get(name.get<std::string>()).to(at::kFloat), 1e-5, 1e-6);
    if (!msg.empty()) {
      ADD_FAILURE() << c["id"] << " " << key << ": " << msg;
      ok = false;
    }
  }
  return ok;
}

bool check_tensor(const std::string& id, const std::string& what, const at::Tensor& got, const std::string& key,
                  double rtol, double atol) {
  auto expected = data()->get(key).to(at::kFloat);
  if (got.sizes() != expected.sizes()) {
    ADD_FAILURE() << id << " " << what << ": shape " << got.sizes() << ", expected " << expected.sizes();
    return false;
  }
  auto msg = test::check_close(got.to(at::kFloat).cpu(), expected, rtol, atol);
  if (!msg.empty()) ADD_FAILURE() << id << " " << what << ": " << msg;
  return msg.empty();
}

bool run_float_range(const nlohmann::json& c) {
  std::map<std::string, Value> in;
  for (auto& [k, v] : c["params"].items()) in[k] = scalar(v);
  auto out = run("FloatRange //Inspire", in);
  auto list = out.values.at(0).as<ValueList>();
  std::vector<double> got;
  for (auto& v : list->items) got.push_back(v.as_float());
  auto expected = c["outputs"]["FLOAT"].get<std::vector<double>>();
  EXPECT_EQ(got, expected) << c["id"];
  return got == expected;
}

bool run_seed_explorer(const nlohmann::json& c, const std::string& fam) {
  const auto& p = c["params"];
  std::map<std::string, Value> in;
  for (auto& [k, v] : p.items())
    if (!v.is_object() && !v.is_null()) in[k] = scalar(v);
  const std::string id = c["id"];
  std::string cls;
  if (fam == "seed_explorer") {
    cls = "SeedExplorer //Inspire";
    // "<zeros [2, 4, 8, 8]>"
    std::string desc = p["latent"]["samples"];
    std::vector<int64_t> shape;
    for (size_t i = desc.find('[') + 1; i < desc.size() && desc[i] != ']';) {
      shape.push_back(std::stoll(desc.substr(i)));
      i = desc.find_first_of(",]", i);
      if (desc[i] == ',') i += 2;
    }
    auto l = std::make_shared<Latent>();
    l->samples = at::zeros(shape);
    in["latent"] = Value(l);
  } else {
    cls = fam == "regional_seed_explorer_mask" ? "RegionalSeedExplorerMask //Inspire" : "RegionalSeedExplorerColorMask //Inspire";
    in["noise"] = Value(data()->get(p["noise"].get<std::string>()).to(at::kFloat).clone());
    if (p.contains("mask")) in["mask"] = Value(data()->get(p["mask"].get<std::string>()).to(at::kFloat).clone());
    if (p.contains("color_mask")) in["color_mask"] = Value(data()->get(p["color_mask"].get<std::string>()).to(at::kFloat).clone());
  }
  auto out = run(cls, in);
  const double atol = p.value("variation_method", "linear") == "slerp" ? 1e-5 : 1e-6;
  bool ok = check_tensor(id, "noise", out.values.at(0).as_tensor(), c["outputs"]["NOISE_IMAGE"], 1e-6, atol);
  if (c["outputs"].contains("MASK")) ok &= check_tensor(id, "mask", out.values.at(1).as_tensor(), c["outputs"]["MASK"], 0, 0);
  return ok;
}

std::map<std::string, Value> lbw_inputs(const nlohmann::json& p, const LoadedCheckpoint& ckpt) {
  std::map<std::string, Value> in;
  for (auto& [k, v] : p.items())
    if (k != "model" && k != "clip") in[k] = scalar(v);
  in["model"] = Value(ckpt.model);
  in["clip"] = Value(ckpt.clip);
  return in;
}

bool expect_error(const nlohmann::json& c, const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), c["error"]["message"].get<std::string>()) << c["id"];
    EXPECT_EQ(e.input_name, "block_vector") << c["id"];
    return std::string(e.what()) == c["error"]["message"].get<std::string>();
  }
  ADD_FAILURE() << c["id"] << ": expected " << c["error"]["message"];
  return false;
}

// muted_in_order: compare the muted keys' order too. The SDXL recordings list them in an order that
// depends on what ran before in the recording process: Inspire calls model_lora_keys_unet(model.model)
// without a key_map, so Python's shared mutable default dict keeps the positions of names first seen on
// the tiny SD1.5 (middle / output blocks 0-2 show proj_out between transformer_blocks.0 and .1, label_emb
// after the CLIP-L keys). Only the keys and their count are behaviour there; the ratios, which depend on
// the walk order within a block, are compared exactly everywhere.
bool check_lbw_model(const std::string& id, const lbw::LbwModel& m, const nlohmann::json& ratios, const nlohmann::json& muted,
                     bool muted_in_order = true) {
  std::map<std::string, double> got, expected;
  for (auto& b : m.blocks) got[b.patch->model_key] = b.ratio;
  for (auto& [k, v] : ratios.items()) expected[k] = v.get<double>();
  EXPECT_EQ(got, expected) << id << " ratios";
  auto exp_muted = muted.get<std::vector<std::string>>();
  auto got_muted = m.muted;
  if (!muted_in_order) {
    std::sort(exp_muted.begin(), exp_muted.end());
    std::sort(got_muted.begin(), got_muted.end());
  }
  EXPECT_EQ(got_muted, exp_muted) << id << " muted";
  return got == expected && got_muted == exp_muted;
}

bool run_lbw_vector(const nlohmann::json& c) {
  auto in = lbw_inputs(c["params"], checkpoint_of(c["params"]));
  in["preset"] = Value("Preset");
  in["bypass"] = Value(false);
  if (!c["error"].is_null()) return expect_error(c, [&] { run("MakeLBW //Inspire", in); });
  auto out = run("MakeLBW //Inspire", in);
  bool ok = out.values.at(1).as_string() == c["outputs"]["populated_vector"].get<std::string>();
  EXPECT_EQ(out.values.at(1).as_string(), c["outputs"]["populated_vector"].get<std::string>()) << c["id"];
  const bool in_order = c["family"] != "lbw_sdxl_vector";
  return check_lbw_model(c["id"], *out.values.at(0).as<lbw::LbwModel>(), c["outputs"]["ratios"], c["outputs"]["muted"],
                         in_order) && ok;
}

bool run_lbw_apply(const nlohmann::json& c) {
  const auto& ckpt = checkpoint_of(c["params"]);
  auto out = run("LoraLoaderBlockWeight //Inspire", lbw_inputs(c["params"], ckpt));
  const auto& o = c["outputs"];
  bool ok = out.values.at(2).as_string() == o["populated_vector"].get<std::string>();
  EXPECT_EQ(out.values.at(2).as_string(), o["populated_vector"].get<std::string>()) << c["id"];
  auto model = out.values.at(0).as<Model>();
  auto clip = out.values.at(1).as<Clip>();
  EXPECT_EQ(model.get() == ckpt.model.get(), o["model_is_input"].get<bool>()) << c["id"];
  EXPECT_EQ(clip.get() == ckpt.clip.get(), o["clip_is_input"].get<bool>()) << c["id"];
  ok &= (model.get() == ckpt.model.get()) == o["model_is_input"].get<bool>();
  ok &= (clip.get() == ckpt.clip.get()) == o["clip_is_input"].get<bool>();
  return check_weights(c, *model, *clip) && ok;
}

// Core LoraLoader: the same outputs, plus how many LoRA modules ComfyUI mapped onto each part
// (patched_keys: "diffusion_model", "clip_l", "clip_g") and the keys it left unloaded.
bool run_lora_loader(const nlohmann::json& c) {
  const auto& ckpt = checkpoint_of(c["params"]);
  auto out = run("LoraLoader", lbw_inputs(c["params"], ckpt));
  const auto& o = c["outputs"];
  auto model = out.values.at(0).as<Model>();
  auto clip = out.values.at(1).as<Clip>();
  bool ok = (model.get() == ckpt.model.get()) == o["model_is_input"].get<bool>() &&
            (clip.get() == ckpt.clip.get()) == o["clip_is_input"].get<bool>();
  EXPECT_EQ(model.get() == ckpt.model.get(), o["model_is_input"].get<bool>()) << c["id"];
  EXPECT_EQ(clip.get() == ckpt.clip.get(), o["clip_is_input"].get<bool>()) << c["id"];

  auto st = io::SafeTensors::open(models().dir.path / "models" / "loras" / c["params"]["lora_name"].get<std::string>());
  auto unet = resolve_unet(ckpt.model->net);
  auto loaded = load_lora_modules(*st, &unet->config(), &unet->weights(), ckpt.clip->encoder->lora_weights());
  std::map<std::string, int> parts;
  for (auto& m : loaded.modules) parts[m.model_key.substr(0, m.model_key.find('.'))] += 1;
  std::map<std::string, int> expected_parts;
  for (auto& [k, v] : o["patched_keys"].items()) expected_parts[k] = v.get<int>();
  EXPECT_EQ(parts, expected_parts) << c["id"];
  const auto warned = o["not_loaded_warnings"].get<std::vector<std::string>>();
  EXPECT_EQ(loaded.not_loaded.size(), warned.size()) << c["id"];
  ok &= parts == expected_parts && loaded.not_loaded.size() == warned.size();
  return check_weights(c, *model, *clip) && ok;
}

bool run_lbw_make_apply(const nlohmann::json& c) {
  const auto& ckpt = tiny_sd15();
  auto make_in = lbw_inputs(c["params"]["MakeLBW"], ckpt);
  auto made = run("MakeLBW //Inspire", make_in);
  const auto& o = c["outputs"];
  bool ok = made.values.at(1).as_string() == o["populated_vector"].get<std::string>();
  EXPECT_TRUE(ok) << c["id"] << " populated_vector " << made.values.at(1).as_string();
  ok &= check_lbw_model(c["id"], *made.values.at(0).as<lbw::LbwModel>(), o["lbw_model_ratios"], o["lbw_model_muted"]);
  auto ap = c["params"]["ApplyLBW"];
  auto applied = run("ApplyLBW //Inspire", {{"model", Value(ckpt.model)}, {"clip", Value(ckpt.clip)},
                                            {"strength_model", scalar(ap["strength_model"])},
                                            {"strength_clip", scalar(ap["strength_clip"])}, {"lbw_model", made.values.at(0)}});
  return check_weights(c, *applied.values.at(0).as<Model>(), *applied.values.at(1).as<Clip>()) && ok;
}

// model1 / model2 as the manifest describes them: the tiny checkpoint, or it with the LoRA through
// LoraLoaderBlockWeight SD-ALL at strengths 1/1.
std::shared_ptr<const Model> merge_input(const std::string& desc) {
  const auto& ckpt = tiny_sd15();
  if (desc == "tiny-sd15") return ckpt.model;
  EXPECT_NE(desc.find("LoraLoaderBlockWeight SD-ALL, strengths 1/1"), std::string::npos) << desc;
  std::map<std::string, Value> in = {{"model", Value(ckpt.model)}, {"clip", Value(ckpt.clip)},
                                     {"category_filter", Value("All")}, {"lora_name", Value("tiny-lora-sd15.safetensors")},
                                     {"strength_model", Value(1.0)}, {"strength_clip", Value(1.0)},
                                     {"inverse", Value(false)}, {"seed", Value(Int(0))}, {"A", Value(4.0)},
                                     {"B", Value(1.0)}, {"preset", Value("Preset")}, {"block_vector", Value("SD-ALL")},
                                     {"bypass", Value(false)}};
  return run("LoraLoaderBlockWeight //Inspire", in).values.at(0).as<Model>();
}

bool run_model_merge(const nlohmann::json& c) {
  const auto& p = c["params"];
  std::map<std::string, Value> in = {{"model1", Value(merge_input(p["model1"]))}, {"model2", Value(merge_input(p["model2"]))}};
  for (const char* k : {"ratio", "multiplier"})
    if (p.contains(k)) in[k] = scalar(p[k]);
  auto merged = run(c["node"].get<std::string>(), in).values.at(0).as<Model>();
  // Lazy: nothing built until a weight is asked for.
  auto patched = std::dynamic_pointer_cast<PatchedUNet>(merged->net);
  EXPECT_TRUE(patched && !patched->built()) << c["id"] << ": the merge should be a pending patch";
  bool ok = check_weights(c, *merged, *tiny_sd15().clip);  // one key at a time, unbuilt
  EXPECT_TRUE(patched && !patched->built()) << c["id"] << ": asking for one weight built the whole network";
  if (patched) patched->unet();  // the built network holds the same weights
  return ok && check_weights(c, *merged, *tiny_sd15().clip);
}

class CompanionsGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(CompanionsGolden, MatchesUpstream) {
  const auto c = find_case(GetParam());
  const std::string fam = c["family"];
  bool ok = false;
  if (fam == "float_range") ok = run_float_range(c);
  else if (fam == "seed_explorer" || fam == "regional_seed_explorer_mask" || fam == "regional_seed_explorer_color")
    ok = run_seed_explorer(c, fam);
  else if (fam == "lbw_vector" || fam == "lbw_sdxl_vector") ok = run_lbw_vector(c);
  else if (fam == "lbw_apply" || fam == "lbw_sdxl_apply") ok = run_lbw_apply(c);
  else if (fam == "lora_loader_sdxl") ok = run_lora_loader(c);
  else if (fam == "lbw_make_apply") ok = run_lbw_make_apply(c);
  else if (fam == "model_merge") ok = run_model_merge(c);
  else FAIL() << "unknown family " << fam;
  tally().add(fam, ok);
}

INSTANTIATE_TEST_SUITE_P(Manifest, CompanionsGolden, ::testing::ValuesIn(case_ids()),
                         [](const ::testing::TestParamInfo<std::string>& i) {
                           std::string s = i.param;
                           for (auto& ch : s)
                             if (!std::isalnum((unsigned char)ch)) ch = '_';
                           return s;
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(CompanionsGolden);

}  // namespace
