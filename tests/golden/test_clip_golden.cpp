// SD1 text side against ComfyUI v0.8.0 (golden/nets): tokenizer ids/weights/word ids, the CLIP text
// model (last / penultimate / pooled, intermediates), and prompt weighting end to end. Every case
// comes from manifest.json / tokenizer.json, so a held-out set of the same layout runs unchanged.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <mutex>

#include "comfy/io/safetensors.hpp"
#include "comfy/models/clip.hpp"
#include "test_util.hpp"

using namespace comfy;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

fs::path nets_dir() { return test::golden_root() / "nets"; }

// The vocabulary lives beside the golden data (../../tokenizers/sd1 from golden/nets), else in ../shared.
fs::path vocab_dir() {
  for (const auto& d : {test::golden_root().parent_path() / "tokenizers" / "sd1", test::shared_dir() / "tokenizers" / "sd1"})
    if (fs::exists(d / "vocab.json")) return d;
  return test::shared_dir() / "tokenizers" / "sd1";
}

const json& manifest() {
  static const json m = test::load_json(nets_dir() / "manifest.json");
  return m;
}
const json& tokenizer_json() {
  static const json t = test::load_json(nets_dir() / "tokenizer.json");
  return t;
}

std::vector<std::string> case_ids(const std::string& family) {
  std::vector<std::string> ids;
  try {
    for (const auto& c : manifest()["cases"])
      if (c.value("family", "") == family) ids.push_back(c["id"].get<std::string>());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cannot read the golden manifest: %s\n", e.what());
  }
  return ids;
}
const json& find_case(const std::string& id) {
  for (const auto& c : manifest()["cases"])
    if (c["id"] == id) return c;
  throw std::runtime_error("no case " + id);
}

// README: |a - b| <= 1e-5 + 1e-5*|b| for CLIP outputs on fp32 CPU; a case may carry its own.
json tolerance(const json& c) {
  if (c.contains("tolerance")) return c["tolerance"];
  return json{{"rtol", 1e-5}, {"atol", 1e-5}};
}

// Per-family pass counts, printed when the test program ends.
struct Summary : ::testing::Environment {
  static std::map<std::string, std::pair<int, int>>& counts() {
    static std::map<std::string, std::pair<int, int>> c;
    return c;
  }
  static void record(const std::string& family, bool ok) {
    static std::mutex mu;
    std::lock_guard<std::mutex> lock(mu);
    auto& c = counts()[family];
    c.second++;
    if (ok) c.first++;
  }
  static std::map<std::string, double>& worst() {
    static std::map<std::string, double> w;
    return w;
  }
  void TearDown() override {
    for (const auto& [family, c] : counts()) {
      std::printf("[golden summary] %s: %d/%d cases passed", family.c_str(), c.first, c.second);
      if (worst().count(family)) std::printf(", worst max|a-b| %.3g", worst()[family]);
      std::printf("\n");
    }
  }
};

// check_close plus bookkeeping of the largest absolute difference per family.
std::string check(const std::string& family, const at::Tensor& a, const at::Tensor& e, const json& tol) {
  if (a.sizes() == e.sizes()) {
    double d = (a.to(at::kCPU, at::kDouble) - e.to(at::kDouble)).abs().max().item<double>();
    auto& w = Summary::worst()[family];
    w = std::max(w, d);
  }
  return test::check_close(a, e, tol);
}
const auto* const kSummary = ::testing::AddGlobalTestEnvironment(new Summary);

std::shared_ptr<const ClipBpe> bpe() {
  static auto b = ClipBpe::load(vocab_dir());
  return b;
}

// The tiny SD1.5 checkpoint's CLIP, loaded the way CheckpointLoaderSimple does, with the golden
// embeddings folder as the embedding directory.
std::shared_ptr<Sd1ClipEncoder> encoder() {
  static std::shared_ptr<Sd1ClipEncoder> enc = [] {
    auto st = io::SafeTensors::open(nets_dir() / "tiny-sd15.safetensors");
    RuntimeConfig cfg;
    cfg.tokenizer_dir = vocab_dir();
    auto model = ClipTextModel::load(tensors_under(*st, "cond_stage_model.transformer.text_model."),
                                     c10::Device(c10::kCPU), "tiny-sd15 CLIP");
    return std::make_shared<Sd1ClipEncoder>(model, bpe(),
                                            std::vector<fs::path>{nets_dir() / "embeddings"}, cfg);
  }();
  return enc;
}

std::string sanitize(std::string s) {
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
}
struct NameById {
  std::string operator()(const ::testing::TestParamInfo<std::string>& i) const { return sanitize(i.param); }
};

// Chunks from recorded ids/weights ([chunks, 77]); -1 slots take the embedding rows named in `slots`.
std::vector<TokenChunk> chunks_from(const at::Tensor& ids, const json* weights_exact, const json& slots) {
  auto idc = ids.to(at::kLong).contiguous();
  std::vector<TokenChunk> chunks(static_cast<size_t>(idc.size(0)));
  for (int64_t c = 0; c < idc.size(0); ++c)
    for (int64_t j = 0; j < idc.size(1); ++j) {
      PromptToken t;
      t.id = idc[c][j].item<int64_t>();
      t.weight = weights_exact ? (*weights_exact)[c][j].get<double>() : 1.0;
      chunks[c].push_back(t);
    }
  for (const auto& s : slots) {
    auto emb = load_embedding(s["embedding"].get<std::string>(), {nets_dir() / "embeddings"}, 32);
    if (!emb) throw std::runtime_error("embedding not found: " + s["embedding"].get<std::string>());
    auto& t = chunks.at(s["chunk"].get<size_t>()).at(s["position"].get<size_t>());
    t.embedding = (*emb)[s["row"].get<int64_t>()];
    t.id = -1;
  }
  return chunks;
}

}  // namespace

// ---------------------------------------------------------------- tokenizer
// One test over every prompt of tokenizer.json (a process per prompt would cost more than the
// checks); each failure names its prompt id.
bool check_prompt(const json& prompt) {
  bool ok = true;
  const std::string text = prompt["text"];
  auto chunks = encoder()->tokenize(text);
  const auto& expected = prompt["chunks"];
  ok &= chunks.size() == expected.size();
  EXPECT_EQ(chunks.size(), expected.size()) << "chunk count";
  for (size_t c = 0; c < std::min(chunks.size(), expected.size()); ++c) {
    std::vector<int64_t> ids, word_ids, eids = expected[c]["ids"], ewords = expected[c]["word_ids"];
    std::vector<double> weights, eweights = expected[c]["weights"];
    for (const auto& t : chunks[c]) {
      ids.push_back(t.embedding.defined() ? -1 : t.id);
      weights.push_back(t.weight);
      word_ids.push_back(t.word_id);
    }
    ok &= ids == eids && weights == eweights && word_ids == ewords;
    EXPECT_EQ(ids, eids) << "ids of chunk " << c;
    EXPECT_EQ(weights, eweights) << "weights of chunk " << c;
    EXPECT_EQ(word_ids, ewords) << "word ids of chunk " << c;
  }
  // embedding slots: {chunk, position, embedding, row}
  json slots = json::array();
  for (size_t c = 0; c < chunks.size(); ++c)
    for (size_t j = 0; j < chunks[c].size(); ++j)
      if (chunks[c][j].embedding.defined())
        slots.push_back({{"chunk", c}, {"position", j}, {"embedding", chunks[c][j].embedding_name},
                         {"row", chunks[c][j].embedding_row}});
  ok &= slots == prompt["embedding_slots"];
  EXPECT_EQ(slots, prompt["embedding_slots"]) << "embedding slots";
  // the bare BPE on the whole text (no weight parsing) = raw_ids without start/end
  if (prompt.contains("raw_ids")) {
    std::vector<int64_t> raw = prompt["raw_ids"];
    std::vector<int64_t> inner(raw.begin() + 1, raw.end() - 1);
    ok &= bpe()->encode(text) == inner;
    EXPECT_EQ(bpe()->encode(text), inner) << "raw BPE ids";
  }
  return ok;
}

TEST(ClipTokenizerGolden, EveryPromptMatchesComfyUIIdsWeightsWordIdsAndEmbeddingSlots) {
  const auto& prompts = tokenizer_json()["prompts"];
  ASSERT_FALSE(prompts.empty());
  for (const auto& p : prompts) {
    SCOPED_TRACE("prompt '" + p["id"].get<std::string>() + "'");
    Summary::record("tokenizer", check_prompt(p));
  }
}

// ---------------------------------------------------------------- CLIP text model
TEST(ClipGolden, DetectedConfigMatchesTheManifest) {
  const auto& o = manifest()["configs"]["clip_text_model"]["overrides_of_sd1_clip_config_json"];
  const auto& c = encoder()->model().config();
  EXPECT_EQ(c.hidden, o["hidden_size"].get<int64_t>());
  EXPECT_EQ(c.intermediate, o["intermediate_size"].get<int64_t>());
  EXPECT_EQ(c.heads, o["num_attention_heads"].get<int64_t>());
  EXPECT_EQ(c.layers, o["num_hidden_layers"].get<int64_t>());
  EXPECT_EQ(c.positions, o["max_position_embeddings"].get<int64_t>());
  EXPECT_EQ(c.vocab, o["vocab_size"].get<int64_t>());
}

class ClipModelGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(ClipModelGolden, LastPenultimateAndPooledMatchComfyUI) {
  const json& c = find_case(GetParam());
  auto st = test::golden_file("nets/" + c["file"].get<std::string>());
  auto enc = encoder();
  auto chunks = chunks_from(st->get(c["inputs"]["tokens"].get<std::string>()), nullptr, json::array());
  const json tol = tolerance(c);

  // intermediates by name through the activation hook (last-layer run)
  std::map<std::string, at::Tensor> seen;
  auto& model = const_cast<ClipTextModel&>(enc->model());
  model.hook = [&](const std::string& name, const at::Tensor& t) { seen[name] = t.clone(); };
  auto last = enc->encode_token_weights(chunks, -1);
  model.hook = nullptr;
  auto pen = enc->encode_token_weights(chunks, -2);

  const auto& out = c["outputs"];
  EXPECT_EQ(check("clip", last.cond, st->get(out["cond_last"].get<std::string>()), tol), "") << "cond_last";
  EXPECT_EQ(check("clip", last.pooled, st->get(out["pooled_last"].get<std::string>()), tol), "") << "pooled_last";
  EXPECT_EQ(check("clip", pen.cond, st->get(out["cond_penultimate"].get<std::string>()), tol), "") << "cond_penultimate";
  EXPECT_EQ(check("clip", pen.pooled, st->get(out["pooled_penultimate"].get<std::string>()), tol), "") << "pooled_penultimate";
  if (c.contains("intermediates")) {
    for (const auto& [name, key] : c["intermediates"].items()) {
      ASSERT_TRUE(seen.count(name)) << "no activation named " << name;
      EXPECT_EQ(check("clip", seen[name], st->get(key.get<std::string>()), tol), "") << name;
    }
  }
  Summary::record("clip", !HasFailure());
}

INSTANTIATE_TEST_SUITE_P(Cases, ClipModelGolden, ::testing::ValuesIn(case_ids("clip")), NameById());

// ---------------------------------------------------------------- prompt weighting (CLIPTextEncode)
class PromptWeightingGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(PromptWeightingGolden, TokenizeAndEncodeMatchComfyUI) {
  const json& c = find_case(GetParam());
  auto st = test::golden_file("nets/" + c["file"].get<std::string>());
  auto enc = encoder();
  const json tol = tolerance(c);
  const auto& out = c["outputs"];

  // our own tokenization must give the recorded tokens and weights ...
  auto chunks = enc->tokenize(c["text"].get<std::string>());
  auto ids = st->get(c["inputs"]["tokens"].get<std::string>()).to(at::kLong);
  ASSERT_EQ(static_cast<int64_t>(chunks.size()), ids.size(0));
  for (size_t k = 0; k < chunks.size(); ++k)
    for (size_t j = 0; j < chunks[k].size(); ++j) {
      const auto& t = chunks[k][j];
      EXPECT_EQ(t.embedding.defined() ? -1 : t.id, ids[k][j].item<int64_t>()) << "chunk " << k << " pos " << j;
      EXPECT_EQ(t.weight, c["weights_exact"][k][j].get<double>()) << "chunk " << k << " pos " << j;
    }

  // ... and encoding it (= CLIPTextEncode, with and without CLIPSetLastLayer -2) the recorded outputs
  auto last = enc->encode_token_weights(chunks, -1);
  auto pen = enc->encode_token_weights(chunks, -2);
  EXPECT_EQ(check("prompt_weighting", last.cond, st->get(out["cond_last"].get<std::string>()), tol), "") << "cond_last";
  EXPECT_EQ(check("prompt_weighting", last.pooled, st->get(out["pooled_last"].get<std::string>()), tol), "") << "pooled_last";
  EXPECT_EQ(check("prompt_weighting", pen.cond, st->get(out["cond_penultimate"].get<std::string>()), tol), "") << "cond_penultimate";
  EXPECT_EQ(check("prompt_weighting", pen.pooled, st->get(out["pooled_penultimate"].get<std::string>()), tol), "") << "pooled_penultimate";

  // the bare model output for the same ids (all weights 1), from the recorded inputs
  auto bare = chunks_from(ids, nullptr, c["embedding_slots"]);
  auto u_last = enc->encode_token_weights(bare, -1);
  auto u_pen = enc->encode_token_weights(bare, -2);
  EXPECT_EQ(check("prompt_weighting", u_last.cond, st->get(out["cond_unweighted_last"].get<std::string>()), tol), "");
  EXPECT_EQ(check("prompt_weighting", u_pen.cond, st->get(out["cond_unweighted_penultimate"].get<std::string>()), tol), "");
  Summary::record("prompt_weighting", !HasFailure());
}

INSTANTIATE_TEST_SUITE_P(Cases, PromptWeightingGolden, ::testing::ValuesIn(case_ids("prompt_weighting")), NameById());

// ---------------------------------------------------------------- the same on CUDA (GPU machines only)
// Weights and activations on the GPU, fp32; GPU kernels may differ from CPU by more than the CPU
// tolerance, so this uses 1e-4 (relative and absolute).
TEST(ClipGoldenCuda, PromptWeightingCasesMatchOnCuda) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  auto st = io::SafeTensors::open(nets_dir() / "tiny-sd15.safetensors");
  RuntimeConfig cfg;
  cfg.device = c10::Device(c10::kCUDA, 0);
  cfg.tokenizer_dir = vocab_dir();
  cfg.models_dirs = {};
  auto clip = load_sd1_clip(st, "cond_stage_model.transformer.", cfg);
  auto enc = std::dynamic_pointer_cast<Sd1ClipEncoder>(clip->encoder);
  ASSERT_TRUE(enc);
  EXPECT_TRUE(enc->model().device().is_cuda());
  const json tol{{"rtol", 1e-4}, {"atol", 1e-4}};
  int n = 0;
  for (const auto& id : case_ids("prompt_weighting")) {
    const json& c = find_case(id);
    if (!c["embedding_slots"].empty()) continue;  // the embeddings folder is not configured here
    auto gst = test::golden_file("nets/" + c["file"].get<std::string>());
    for (int64_t layer : {-1, -2}) {
      auto entries = enc->encode(c["text"].get<std::string>(), layer);
      ASSERT_EQ(entries.size(), 1u);
      const std::string suffix = layer == -1 ? "_last" : "_penultimate";
      EXPECT_EQ(test::check_close(entries[0].cross_attn, gst->get(c["outputs"]["cond" + suffix].get<std::string>()), tol), "")
          << id << suffix;
      EXPECT_EQ(test::check_close(*entries[0].pooled_output, gst->get(c["outputs"]["pooled" + suffix].get<std::string>()), tol), "")
          << id << suffix;
    }
    ++n;
  }
  EXPECT_GT(n, 0);
}
