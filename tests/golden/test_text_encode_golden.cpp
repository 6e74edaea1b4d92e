// SD2 / SDXL / SDXL-refiner text encoding against ComfyUI v0.8.0 (golden/models, text_encode cases):
// the checkpoint's CLIP as load_checkpoint_clip builds it, run through the real nodes (CLIPTextEncode,
// CLIPSetLastLayer, CLIPTextEncodeSDXL, CLIPTextEncodeSDXLRefiner). Token ids and weights, cond,
// pooled_output and the conditioning dict are compared. Cases come from manifest.json, so a held-out
// root of the same layout runs unchanged.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <map>

#include "comfy/core/node.hpp"
#include "comfy/core/types.hpp"
#include "comfy/io/safetensors.hpp"
#include "comfy/models/checkpoint_clip.hpp"
#include "comfy/models/clip.hpp"
#include "test_util.hpp"

using namespace comfy;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

fs::path models_dir() { return test::golden_root() / "models"; }

const json& manifest() {
  static const json m = test::load_json(models_dir() / "manifest.json");
  return m;
}

bool is_text_case(const json& c) {
  const std::string fam = c.value("family", "");
  return fam.size() > 5 && fam.compare(fam.size() - 5, 5, "_text") == 0;
}

std::vector<std::string> case_ids() {
  std::vector<std::string> ids;
  try {
    for (const auto& c : manifest()["cases"])
      if (is_text_case(c)) ids.push_back(c["id"].get<std::string>());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cannot read the models golden manifest: %s\n", e.what());
  }
  return ids;
}
const json& find_case(const std::string& id) {
  for (const auto& c : manifest()["cases"])
    if (c["id"] == id) return c;
  throw std::runtime_error("no case " + id);
}

// Which checkpoint and text-encoder kind a family's cases were recorded on (README: text encoding).
struct Source {
  std::string file;
  ClipKind kind;
};
Source source_of(const json& c) {
  const std::string fam = c["family"];
  if (fam == "sdxl_text") return {"tiny-sdxl.safetensors", ClipKind::SDXL};
  if (fam == "refiner_text") return {"tiny-sdxl-refiner.safetensors", ClipKind::SDXLRefiner};
  if (fam == "sd2_text") return {"tiny-sd21-v.safetensors", ClipKind::SD2};
  if (fam == "sd15_text" || fam == "sd1_text") return {"tiny-sd15-inpaint.safetensors", ClipKind::SD1};
  throw std::runtime_error("text family '" + fam + "' has no known checkpoint");
}

RuntimeConfig config() {
  RuntimeConfig cfg;  // the built-in vocabulary; no embeddings folder
  return cfg;
}

std::shared_ptr<Clip> clip_for(const Source& s) {
  static std::map<std::string, std::shared_ptr<Clip>> cache;
  auto& slot = cache[s.file];
  if (!slot) {
    auto st = io::SafeTensors::open(models_dir() / s.file);
    slot = load_checkpoint_clip(tensors_under(*st, ""), s.kind, config(), s.file);
  }
  return slot;
}

NodeOutput run_node(const std::string& type, std::map<std::string, Value> values) {
  const NodeDef* def = Registry::global().find(type);
  if (!def) throw std::runtime_error("no node " + type);
  NodeInputs in;
  in.values = std::move(values);
  static RuntimeConfig cfg = config();
  ExecContext ctx;
  ctx.class_type = type;
  ctx.config = &cfg;
  return def->execute(in, ctx);
}

// The tokens ComfyUI encoded for this case, recomputed with our tokenizer as the node does.
TokenSets expected_tokens(TextEncoder& enc, const json& c) {
  const json p = c.value("params", json::object());
  if (p.contains("text_g")) {
    TokenSets t = enc.tokenize_sets(p["text_g"].get<std::string>());
    t["l"] = enc.tokenize_sets(p["text_l"].get<std::string>())["l"];
    TokenSets empty = enc.tokenize_sets("");
    while (t["l"].size() < t["g"].size()) t["l"].insert(t["l"].end(), empty["l"].begin(), empty["l"].end());
    while (t["l"].size() > t["g"].size()) t["g"].insert(t["g"].end(), empty["g"].begin(), empty["g"].end());
    return t;
  }
  return enc.tokenize_sets(p.contains("text") ? p["text"].get<std::string>() : c["text"].get<std::string>());
}

std::string compare_tokens(const std::vector<TokenChunk>& got, const at::Tensor& ids, const at::Tensor* weights) {
  auto idc = ids.to(at::kLong).contiguous();
  if (static_cast<int64_t>(got.size()) != idc.size(0))
    return std::to_string(got.size()) + " chunks, expected " + std::to_string(idc.size(0));
  for (size_t k = 0; k < got.size(); ++k) {
    if (static_cast<int64_t>(got[k].size()) != idc.size(1)) return "chunk length " + std::to_string(got[k].size());
    for (size_t j = 0; j < got[k].size(); ++j) {
      const auto want = idc[int64_t(k)][int64_t(j)].item<int64_t>();
      if (got[k][j].id != want)
        return "chunk " + std::to_string(k) + " slot " + std::to_string(j) + ": id " + std::to_string(got[k][j].id) +
               ", expected " + std::to_string(want);
      const double w = weights ? (*weights)[int64_t(k)][int64_t(j)].item<double>() : 1.0;
      if (std::abs(got[k][j].weight - w) > 1e-6)
        return "chunk " + std::to_string(k) + " slot " + std::to_string(j) + ": weight " +
               std::to_string(got[k][j].weight) + ", expected " + std::to_string(w);
    }
  }
  return "";
}

struct Summary : ::testing::Environment {
  static std::map<std::string, std::pair<int, int>>& counts() {
    static std::map<std::string, std::pair<int, int>> c;
    return c;
  }
  void TearDown() override {
    for (const auto& [family, c] : counts())
      std::printf("[golden summary] %s: %d/%d cases passed\n", family.c_str(), c.first, c.second);
  }
};
const auto* const kSummary = ::testing::AddGlobalTestEnvironment(new Summary);

std::string sanitize(std::string s) {
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

class TextEncodeGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(TextEncodeGolden, MatchesComfyUI) {
  const json& c = find_case(GetParam());
  const std::string family = c["family"];
  auto gst = test::golden_file("models/" + c["file"].get<std::string>());
  std::shared_ptr<const Clip> clip = clip_for(source_of(c));
  ASSERT_TRUE(clip) << "no CLIP in " << source_of(c).file;

  // tokens and weights per tokenizer key
  TokenSets tokens = expected_tokens(*clip->encoder, c);
  for (const auto& [name, key] : c["inputs"].items()) {
    if (name.rfind("tokens_", 0) != 0) continue;
    const std::string k = name.substr(7);
    ASSERT_TRUE(tokens.count(k)) << "our tokenizer gives no \"" << k << "\" tokens";
    const std::string wname = "weights_" + k;
    at::Tensor w;
    if (c["inputs"].contains(wname)) w = gst->get(c["inputs"][wname].get<std::string>(), at::kDouble);
    EXPECT_EQ(compare_tokens(tokens[k], gst->get(key.get<std::string>()), w.defined() ? &w : nullptr), "") << k;
  }

  // the node chain ComfyUI ran
  if (c.contains("stop_at_clip_layer"))
    clip = run_node("CLIPSetLastLayer", {{"clip", Value(clip)}, {"stop_at_clip_layer", Value(c["stop_at_clip_layer"].get<int64_t>())}})
               .values.at(0).as<Clip>();
  const json p = c.value("params", json::object());
  NodeOutput out;
  if (p.contains("text_g")) {
    std::map<std::string, Value> v{{"clip", Value(clip)}};
    for (const char* k : {"width", "height", "crop_w", "crop_h", "target_width", "target_height"}) v[k] = Value(p[k].get<int64_t>());
    v["text_g"] = Value(p["text_g"].get<std::string>());
    v["text_l"] = Value(p["text_l"].get<std::string>());
    out = run_node("CLIPTextEncodeSDXL", v);
  } else if (p.contains("ascore")) {
    out = run_node("CLIPTextEncodeSDXLRefiner", {{"clip", Value(clip)},
                                                 {"ascore", Value(p["ascore"].get<double>())},
                                                 {"width", Value(p["width"].get<int64_t>())},
                                                 {"height", Value(p["height"].get<int64_t>())},
                                                 {"text", Value(p["text"].get<std::string>())}});
  } else {
    out = run_node("CLIPTextEncode", {{"clip", Value(clip)}, {"text", Value(c["text"].get<std::string>())}});
  }
  auto cond = out.values.at(0).as<Conditioning>();
  ASSERT_EQ(cond->entries.size(), 1u);
  const CondEntry& e = cond->entries[0];
  const json tol = c.value("tolerance", json{{"rtol", 1e-5}, {"atol", 1e-5}});
  EXPECT_EQ(test::check_close(e.cross_attn, gst->get(c["outputs"]["cond"].get<std::string>()), tol), "") << "cond";
  ASSERT_TRUE(e.pooled_output.has_value());
  EXPECT_EQ(test::check_close(*e.pooled_output, gst->get(c["outputs"]["pooled_output"].get<std::string>()), tol), "")
      << "pooled_output";

  // the other entries of the conditioning dict (sizes, aesthetic score), and nothing else
  const json dict = c.value("conditioning_dict", json::object());
  EXPECT_EQ(e.extra.size(), dict.size());
  for (const auto& [k, v] : dict.items()) {
    auto it = e.extra.find(k);
    ASSERT_NE(it, e.extra.end()) << "missing conditioning entry " << k;
    if (v.is_number_integer()) {
      EXPECT_TRUE(it->second.is_int()) << k;
      EXPECT_EQ(it->second.as_i64(), v.get<int64_t>()) << k;
    } else {
      EXPECT_TRUE(it->second.is_float()) << k;
      EXPECT_EQ(it->second.as_float(), v.get<double>()) << k;
    }
  }
  auto& cnt = Summary::counts()[family];
  cnt.second++;
  if (!HasFailure()) cnt.first++;
}

INSTANTIATE_TEST_SUITE_P(Cases, TextEncodeGolden, ::testing::ValuesIn(case_ids()),
                         [](const ::testing::TestParamInfo<std::string>& i) { return sanitize(i.param); });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(TextEncodeGolden);

TEST(TextEncodeGoldenManifest, HasTextEncoderCases) { EXPECT_FALSE(case_ids().empty()); }

}  // namespace
