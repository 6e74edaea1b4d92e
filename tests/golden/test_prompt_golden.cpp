// BNK_CLIPTextEncodeAdvanced and ImpactWildcardEncode against ComfyUI_ADV_CLIP_emb / Impact run on the
// tiny SD1.5 CLIP (golden/prompt: manifest.json, bnk_advanced.safetensors, wildcard_encode.safetensors).
// Every case comes from the manifest, so a held-out set of the same layout runs unchanged.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <sstream>

#include "comfy/core/node.hpp"
#include "comfy/core/types.hpp"
#include "comfy/io/safetensors.hpp"
#include "comfy/models/checkpoint_clip.hpp"
#include "comfy/models/clip.hpp"
#include "prompt/bnk_towers.hpp"
#include "comfy/prompt/bnk_encode.hpp"
#include "comfy/prompt/wildcards.hpp"
#include "test_util.hpp"

using namespace comfy;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

fs::path prompt_dir() { return test::golden_root() / "prompt"; }
fs::path nets_dir() { return test::golden_root() / "nets"; }
fs::path vocab_dir() {
  for (const auto& d : {test::golden_root().parent_path() / "tokenizers" / "sd1", test::shared_dir() / "tokenizers" / "sd1"})
    if (fs::exists(d / "vocab.json")) return d;
  return test::shared_dir() / "tokenizers" / "sd1";
}

const json& manifest() {
  static const json m = test::load_json(prompt_dir() / "manifest.json");
  return m;
}

// A manifest path "shared/golden/<rel>" under the golden root in use.
fs::path golden_path(const std::string& recorded) {
  const std::string prefix = "shared/golden/";
  return test::golden_root() / (recorded.compare(0, prefix.size(), prefix) == 0 ? recorded.substr(prefix.size()) : recorded);
}

// The tiny SDXL checkpoint's CLIP (CLIP-L 32 + CLIP-G 48) as CheckpointLoaderSimple loads it.
std::shared_ptr<Clip> sdxl_clip() {
  static std::shared_ptr<Clip> clip = [] {
    auto st = io::SafeTensors::open(golden_path(manifest()["sdxl_checkpoint"]));
    RuntimeConfig cfg;
    cfg.tokenizer_dir = vocab_dir();
    return load_checkpoint_clip(tensors_under(*st, ""), ClipKind::SDXL, cfg, "tiny-sdxl");
  }();
  return clip;
}

std::vector<std::string> ids_of(const std::string& section) {
  std::vector<std::string> ids;
  try {
    for (const auto& c : manifest()[section]) ids.push_back(c["id"].get<std::string>());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cannot read the prompt golden manifest: %s\n", e.what());
  }
  return ids;
}
const json& find_case(const std::string& section, const std::string& id) {
  for (const auto& c : manifest()[section])
    if (c["id"] == id) return c;
  throw std::runtime_error("no case " + id);
}

// The tiny SD1.5 checkpoint's CLIP as CheckpointLoaderSimple loads it (fp16 storage), with the golden
// embeddings folder.
std::shared_ptr<Sd1ClipEncoder> encoder() {
  static std::shared_ptr<Sd1ClipEncoder> enc = [] {
    auto st = io::SafeTensors::open(golden_path(manifest()["checkpoint"]));
    RuntimeConfig cfg;
    cfg.tokenizer_dir = vocab_dir();
    auto model = ClipTextModel::load(tensors_under(*st, "cond_stage_model.transformer.text_model."),
                                     c10::Device(c10::kCPU), "tiny-sd15 CLIP");
    return std::make_shared<Sd1ClipEncoder>(model, ClipBpe::load(vocab_dir()),
                                            std::vector<fs::path>{nets_dir() / "embeddings"}, cfg);
  }();
  return enc;
}

struct Counts : ::testing::Environment {
  static std::map<std::string, std::pair<int, int>>& c() {
    static std::map<std::string, std::pair<int, int>> m;
    return m;
  }
  static std::map<std::string, double>& worst() {
    static std::map<std::string, double> w;
    return w;
  }
  static void record(const std::string& family, bool ok) {
    auto& e = c()[family];
    e.second++;
    e.first += ok;
  }
  void TearDown() override {
    for (const auto& [f, e] : c())
      std::printf("[golden summary] %s: %d/%d cases passed, worst max|a-b|/max|b| %.3g\n", f.c_str(), e.first, e.second,
                  worst()[f]);
  }
};
const auto* const kCounts = ::testing::AddGlobalTestEnvironment(new Counts);

// Relative to the tensor's scale (README: A1111 divides by a mean and amplifies rounding): max|a-b|
// <= 1e-4 * max|b| + 1e-6.
std::string check_tensor(const std::string& family, const at::Tensor& a, const at::Tensor& e) {
  if (a.sizes() != e.sizes()) {
    std::ostringstream m;
    m << "shape " << a.sizes() << " vs expected " << e.sizes();
    return m.str();
  }
  const double scale = e.abs().max().item<double>();
  const double d = (a.to(at::kDouble) - e.to(at::kDouble)).abs().max().item<double>();
  auto& w = Counts::worst()[family];
  w = std::max(w, scale > 0 ? d / scale : d);
  if (d <= 1e-4 * scale + 1e-6) return "";
  return "max|a-b| " + std::to_string(d) + " vs max|b| " + std::to_string(scale);
}

std::string sanitize(std::string s) {
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
}
struct NameById {
  std::string operator()(const ::testing::TestParamInfo<std::string>& i) const { return sanitize(i.param); }
};

}  // namespace

// ---------------------------------------------------------------- BNK_CLIPTextEncodeAdvanced (SD1)
class BnkAdvancedGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(BnkAdvancedGolden, TokensWeightTableAndCondMatchUpstream) {
  const json& c = find_case("bnk_cases", GetParam());
  const json* found = nullptr;
  for (const auto& p : manifest()["bnk_prompts"])
    if (p["prompt_index"] == c["prompt_index"]) found = &p;
  ASSERT_TRUE(found) << "no bnk_prompts entry " << c["prompt_index"];
  const json& prompt = *found;
  auto enc = encoder();
  const auto tokens = enc->tokenize(c["text"].get<std::string>());

  // ComfyUI's tokenize(return_word_ids=True)
  ASSERT_EQ(tokens.size(), prompt["token_ids"].size());
  for (size_t k = 0; k < tokens.size(); ++k)
    for (size_t j = 0; j < tokens[k].size(); ++j) {
      const auto& t = tokens[k][j];
      ASSERT_EQ(t.embedding.defined() ? -1 : t.id, prompt["token_ids"][k][j].get<int64_t>()) << k << "," << j;
      ASSERT_EQ(t.weight, prompt["weights"][k][j].get<double>()) << k << "," << j;
      ASSERT_EQ(t.word_id, prompt["word_ids"][k][j].get<int64_t>()) << k << "," << j;
    }

  // the weight table after token_normalization (down_weight: after its rescaling)
  const auto norm = bnk::parse_normalization(c["token_normalization"]);
  const auto interp = bnk::parse_interpretation(c["weight_interpretation"]);
  ASSERT_TRUE(norm && interp);
  auto table = bnk::normalize_weights(tokens, *norm);
  if (*interp == bnk::Interpretation::DownWeight) table = bnk::scale_to_norm(tokens, table);
  const auto& expected_w = c["normalized_weights"];
  ASSERT_EQ(table.size(), expected_w.size());
  for (size_t k = 0; k < table.size(); ++k)
    for (size_t j = 0; j < table[k].size(); ++j)
      EXPECT_NEAR(table[k][j], expected_w[k][j].get<double>(), 1e-12) << "weight " << k << "," << j;

  // the node itself, on a CLIP holding this encoder
  auto clip = std::make_shared<Clip>();
  clip->encoder = enc;
  NodeInputs in;
  in.values = {{"text", Value(c["text"].get<std::string>())}, {"clip", Value(clip)},
               {"token_normalization", Value(c["token_normalization"].get<std::string>())},
               {"weight_interpretation", Value(c["weight_interpretation"].get<std::string>())}};
  RuntimeConfig cfg;
  ExecContext ctx;
  ctx.config = &cfg;
  auto out = Registry::global().find("BNK_CLIPTextEncodeAdvanced")->execute(in, ctx);
  auto cond = out.values.at(0).as<Conditioning>();
  ASSERT_EQ(cond->entries.size(), 1u);
  EXPECT_FALSE(cond->entries[0].pooled_output.has_value()) << "SD1: pooled_output is None upstream";
  auto st = test::golden_file("prompt/bnk_advanced.safetensors");
  EXPECT_EQ(check_tensor("bnk_advanced", cond->entries[0].cross_attn, st->get(c["outputs"]["cond"].get<std::string>())), "");
  Counts::record("bnk_advanced", !HasFailure());
}

INSTANTIATE_TEST_SUITE_P(Cases, BnkAdvancedGolden, ::testing::ValuesIn(ids_of("bnk_cases")), NameById());

// ---------------------------------------------------------------- BNK on SDXL (both nodes)
class BnkSdxlGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(BnkSdxlGolden, CondAndPooledMatchUpstream) {
  const json& c = find_case("bnk_sdxl_cases", GetParam());
  const bool sdxl_node = c["node"] == "BNK_CLIPTextEncodeSDXLAdvanced";
  NodeInputs in;
  in.values = {{"clip", Value(sdxl_clip())},
               {"token_normalization", Value(c["token_normalization"].get<std::string>())},
               {"weight_interpretation", Value(c["weight_interpretation"].get<std::string>())}};
  auto req = prompt_nodes::bnk_request(in);
  req.text_l = sdxl_node ? c["text_l"].get<std::string>() : c["text"].get<std::string>();
  req.text_g = sdxl_node ? c["text_g"].get<std::string>() : c["text"].get<std::string>();
  req.balance = c.contains("balance") && !c["balance"].is_null() ? c["balance"].get<double>() : 0.5;
  req.sdxl_node = sdxl_node;
  req.affect_pooled = c.value("affect_pooled", "disable") == "enable";
  if (c.contains("error") && !c["error"].is_null()) {
    EXPECT_THROW(prompt_nodes::bnk_encode_clip(*sdxl_clip(), req), Error);
    Counts::record("bnk_sdxl", !HasFailure());
    return;
  }
  const CondEntry e = prompt_nodes::bnk_encode_clip(*sdxl_clip(), req);
  auto st = test::golden_file("prompt/bnk_sdxl.safetensors");
  EXPECT_EQ(check_tensor("bnk_sdxl", e.cross_attn, st->get(c["outputs"]["cond"].get<std::string>())), "");
  ASSERT_TRUE(e.pooled_output.has_value());
  EXPECT_EQ(check_tensor("bnk_sdxl", *e.pooled_output, st->get(c["outputs"]["pooled_output"].get<std::string>())), "");
  if (!req.affect_pooled) {  // the node itself (affect_pooled is no node input)
    if (sdxl_node) {
      in.values["text_l"] = Value(req.text_l);
      in.values["text_g"] = Value(req.text_g);
      in.values["balance"] = Value(req.balance);
    } else {
      in.values["text"] = Value(req.text_g);
    }
    RuntimeConfig cfg;
    ExecContext ctx;
    ctx.config = &cfg;
    auto out = Registry::global().find(c["node"].get<std::string>())->execute(in, ctx);
    EXPECT_TRUE(out.values.at(0).as<Conditioning>()->entries.at(0).cross_attn.equal(e.cross_attn));
  }
  Counts::record("bnk_sdxl", !HasFailure());
}

INSTANTIATE_TEST_SUITE_P(Cases, BnkSdxlGolden, ::testing::ValuesIn(ids_of("bnk_sdxl_cases")), NameById());

// ---------------------------------------------------------------- ImpactWildcardEncode (SD1, SDXL)
void check_wildcard_encode(const std::string& section, const std::string& family, const std::string& file,
                           std::shared_ptr<Clip> clip, const std::string& id) {
  const json& c = find_case(section, id);
  RuntimeConfig cfg;
  cfg.wildcards_dirs = {prompt_dir() / "wildcards"};
  ExecContext ctx;
  ctx.config = &cfg;
  ctx.node_id = "1";
  ctx.class_type = "ImpactWildcardEncode";
  NodeInputs in;
  in.values = {{"model", Value(std::string("no model"))}, {"clip", Value(clip)},
               {"wildcard_text", Value(c["wildcard_text"].get<std::string>())}, {"populated_text", Value(std::string())},
               {"mode", Value(true)}, {"seed", Value(static_cast<uint64_t>(std::stoull(c["seed"].get<std::string>())))},
               {"Select to add LoRA", Value("Select the LoRA to add to the text")},
               {"Select to add Wildcard", Value("Select the Wildcard to add to the text")}};
  auto out = Registry::global().find("ImpactWildcardEncode")->execute(in, ctx);
  ASSERT_EQ(out.values.size(), 4u);
  EXPECT_EQ(out.values[3].as_string(), c["outputs"]["populated_text_output"].get<std::string>());
  EXPECT_EQ(out.values[3].as_string(), c["pass1"].get<std::string>());
  auto cond = out.values[2].as<Conditioning>();
  ASSERT_EQ(cond->entries.size(), 1u);
  auto st = test::golden_file("prompt/" + file);
  EXPECT_EQ(check_tensor(family, cond->entries[0].cross_attn, st->get(c["outputs"]["cond"].get<std::string>())), "");
  ASSERT_TRUE(cond->entries[0].pooled_output.has_value());
  EXPECT_EQ(check_tensor(family, *cond->entries[0].pooled_output, st->get(c["outputs"]["pooled_output"].get<std::string>())), "");
}

class WildcardEncodeGolden : public ::testing::TestWithParam<std::string> {};
TEST_P(WildcardEncodeGolden, PopulatedTextCondAndPooledMatchImpact) {
  auto clip = std::make_shared<Clip>();
  clip->encoder = encoder();
  check_wildcard_encode("wildcard_encode_cases", "wildcard_encode", "wildcard_encode.safetensors", clip, GetParam());
  Counts::record("wildcard_encode", !HasFailure());
}
INSTANTIATE_TEST_SUITE_P(Cases, WildcardEncodeGolden, ::testing::ValuesIn(ids_of("wildcard_encode_cases")), NameById());

class WildcardEncodeSdxlGolden : public ::testing::TestWithParam<std::string> {};
TEST_P(WildcardEncodeSdxlGolden, PopulatedTextCondAndPooledMatchImpact) {
  check_wildcard_encode("wildcard_encode_sdxl_cases", "wildcard_encode_sdxl", "wildcard_encode_sdxl.safetensors", sdxl_clip(), GetParam());
  Counts::record("wildcard_encode_sdxl", !HasFailure());
}
INSTANTIATE_TEST_SUITE_P(Cases, WildcardEncodeSdxlGolden, ::testing::ValuesIn(ids_of("wildcard_encode_sdxl_cases")),
                         NameById());
