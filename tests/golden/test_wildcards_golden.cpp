// Impact's wildcard processing against the recorded upstream results (golden/prompt/wildcards.json):
// numpy's generator streams, process() with the recorded dictionary, the second pass of
// ImpactWildcardProcessor, LoRA tag extraction, and the dictionary read from golden/prompt/wildcards.
// Every case comes from the file, so a held-out set of the same layout runs unchanged.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>

#include "comfy/core/error.hpp"
#include "comfy/prompt/numpy_random.hpp"
#include "comfy/prompt/wildcards.hpp"
#include "test_util.hpp"

using namespace comfy;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

fs::path prompt_dir() { return test::golden_root() / "prompt"; }

const json& wildcards_json() {
  static const json j = test::load_json(prompt_dir() / "wildcards.json");
  return j;
}

// The dictionary in the order upstream built it (os.walk order is filesystem dependent; '*' globs
// concatenate in that order).
const wildcards::Dictionary& recorded_dictionary() {
  static const wildcards::Dictionary d = [] {
    wildcards::Dictionary dict;
    for (const auto& e : wildcards_json()["wildcard_dict"]) dict.set(e[0], e[1].get<std::vector<std::string>>());
    return dict;
  }();
  return d;
}

std::vector<size_t> indices(const std::string& key) {
  std::vector<size_t> out;
  try {
    for (size_t i = 0; i < wildcards_json()[key].size(); ++i) out.push_back(i);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cannot read wildcards.json: %s\n", e.what());
  }
  return out;
}

std::string case_name(const json& c, size_t i) {
  std::string s = c.contains("id") ? c["id"].get<std::string>() : "seed_" + c["seed"].get<std::string>();
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s + "_" + std::to_string(i);
}

struct Counts : ::testing::Environment {
  static std::map<std::string, std::pair<int, int>>& c() {
    static std::map<std::string, std::pair<int, int>> m;
    return m;
  }
  static void record(const std::string& family, bool ok) {
    auto& e = c()[family];
    e.second++;
    e.first += ok;
  }
  void TearDown() override {
    for (const auto& [f, e] : c()) std::printf("[golden summary] %s: %d/%d cases passed\n", f.c_str(), e.first, e.second);
  }
};
const auto* const kCounts = ::testing::AddGlobalTestEnvironment(new Counts);

}  // namespace

// ---------------------------------------------------------------- numpy Generator(PCG64)
class NumpyRngGolden : public ::testing::TestWithParam<size_t> {};

TEST_P(NumpyRngGolden, SeedSequencePcg64AndDrawsMatchNumpy) {
  const json& r = wildcards_json()["numpy_rng_reference"][GetParam()];
  const uint64_t seed = std::stoull(r["seed"].get<std::string>());
  EXPECT_EQ(numpy::seed_sequence_state(seed, 8), r["seedsequence_generate_state_u32x8"].get<std::vector<uint32_t>>());

  numpy::Generator g(seed);
  auto as_dec = [](std::pair<uint64_t, uint64_t> v) {  // 128-bit value in decimal
    unsigned __int128 x = (static_cast<unsigned __int128>(v.first) << 64) | v.second;
    std::string s;
    do {
      s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(x % 10)));
      x /= 10;
    } while (x);
    return s;
  };
  EXPECT_EQ(as_dec(g.state()), r["pcg64_initial_state"].get<std::string>());
  EXPECT_EQ(as_dec(g.increment()), r["pcg64_increment"].get<std::string>());
  for (const auto& v : r["random_raw_u64x6"]) EXPECT_EQ(g.next64(), std::stoull(v.get<std::string>()));

  numpy::Generator d(seed);
  for (const auto& v : r["random_x4"]) EXPECT_EQ(d.random(), std::stod(v.get<std::string>()));  // repr round-trips

  numpy::Generator n(seed);
  const std::vector<int64_t> ns{2, 3, 5, 7, 10, 3, 3, 3};
  std::vector<int64_t> got;
  for (int64_t k : ns) got.push_back(n.integers(0, k));
  EXPECT_EQ(got, r["integers_0_n_for_n_2_3_5_7_10_3_3_3"].get<std::vector<int64_t>>());

  numpy::Generator s(seed);
  std::vector<char> letters{'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'};
  s.shuffle(letters);
  EXPECT_EQ(std::string(letters.begin(), letters.end()), r["shuffle_abcdefgh"].get<std::string>());

  numpy::Generator c(seed);
  std::vector<std::string> picked;
  for (size_t i : c.choice_without_replacement({.1, .2, .3, .25, .15}, 3)) picked.push_back(std::string(1, char('a' + i)));
  EXPECT_EQ(picked, r["choice_abcde_p_.1_.2_.3_.25_.15_size3_noreplace"].get<std::vector<std::string>>());
  Counts::record("numpy_rng", !HasFailure());
}

INSTANTIATE_TEST_SUITE_P(Seeds, NumpyRngGolden, ::testing::ValuesIn(indices("numpy_rng_reference")),
                         [](const auto& i) { return case_name(wildcards_json()["numpy_rng_reference"][i.param], i.param); });

// ---------------------------------------------------------------- process()
class WildcardProcessGolden : public ::testing::TestWithParam<size_t> {};

TEST_P(WildcardProcessGolden, PopulatedTextAndProcessorOutputMatchImpact) {
  const json& c = wildcards_json()["cases"][GetParam()];
  const uint64_t seed = std::stoull(c["seed"].get<std::string>());
  SCOPED_TRACE("text: " + c["wildcard_text"].get<std::string>() + ", seed " + c["seed"].get<std::string>());
  if (c.contains("error") && !c["error"].is_null()) {
    EXPECT_THROW(wildcards::process(c["wildcard_text"], seed, recorded_dictionary()), Error);
  } else {
    const std::string populated = wildcards::process(c["wildcard_text"], seed, recorded_dictionary());
    EXPECT_EQ(populated, c["populated_text"].get<std::string>());
    EXPECT_EQ(wildcards::process(populated, seed, recorded_dictionary()), c["processor_output"].get<std::string>());
  }
  Counts::record("wildcards", !HasFailure());
}

INSTANTIATE_TEST_SUITE_P(Cases, WildcardProcessGolden, ::testing::ValuesIn(indices("cases")),
                         [](const auto& i) { return case_name(wildcards_json()["cases"][i.param], i.param); });

// ---------------------------------------------------------------- <lora:...> tags
class LoraTagGolden : public ::testing::TestWithParam<size_t> {};

TEST_P(LoraTagGolden, ExtractedLorasAndStrippedTextMatchImpact) {
  const json& c = wildcards_json()["lora_cases"][GetParam()];
  const std::string text = c["text"];
  EXPECT_EQ(wildcards::remove_lora_tags(text), c["text_without_lora_tags"].get<std::string>());
  const auto tags = wildcards::extract_lora_tags(text);
  ASSERT_EQ(tags.size(), c["loras"].size());
  auto opt = [](const json& v) { return v.is_null() ? std::optional<double>() : std::optional<double>(v.get<double>()); };
  for (size_t i = 0; i < tags.size(); ++i) {
    const json& e = c["loras"][i];
    EXPECT_EQ(tags[i].name, e["name"].get<std::string>());
    EXPECT_EQ(tags[i].model_weight, e["model_weight"].get<double>());
    EXPECT_EQ(tags[i].clip_weight, e["clip_weight"].get<double>());
    EXPECT_EQ(tags[i].lbw, e["lbw"].is_null() ? std::optional<std::string>() : std::optional<std::string>(e["lbw"].get<std::string>()));
    EXPECT_EQ(tags[i].lbw_a, opt(e["lbw_a"]));
    EXPECT_EQ(tags[i].lbw_b, opt(e["lbw_b"]));
  }
  Counts::record("lora_tags", !HasFailure());
}

INSTANTIATE_TEST_SUITE_P(Cases, LoraTagGolden, ::testing::ValuesIn(indices("lora_cases")),
                         [](const auto& i) { return case_name(wildcards_json()["lora_cases"][i.param], i.param); });

// ---------------------------------------------------------------- the dictionary from the folder
TEST(WildcardDictionaryGolden, FolderLoadsToTheRecordedKeysAndLines) {
  const auto& j = wildcards_json();
  const auto loaded = wildcards::load_dictionary({prompt_dir() / j["wildcard_folder"].get<std::string>()});
  std::map<std::string, std::vector<std::string>> ours, theirs;
  for (const auto& [k, v] : loaded.entries()) ours[k] = v;
  for (const auto& e : j["wildcard_dict"]) theirs[e[0]] = e[1].get<std::vector<std::string>>();
  EXPECT_EQ(ours, theirs);  // order is the filesystem's listing order, here and upstream
}
