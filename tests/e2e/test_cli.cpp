// The comfy-native command line end to end: run / validate / convert / nodes, exit codes, messages,
// and that bad input never crashes nor leaves partial files behind.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "comfy/io/safetensors.hpp"
#include "test_util.hpp"

using namespace comfy;
namespace fs = std::filesystem;
using test::run_cli;

namespace {

const char* kLatentWorkflow = R"({
  "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 32, "batch_size": 3}},
  "7": {"class_type": "LatentFromBatch", "inputs": {"samples": ["5", 0], "batch_index": 1, "length": 1}},
  "9": {"class_type": "SaveLatent", "inputs": {"samples": ["7", 0], "filename_prefix": "latents/test"}}})";

void write(const fs::path& p, const std::string& s) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << s;
}

std::vector<std::string> files_under(const fs::path& dir) {
  std::vector<std::string> out;
  if (!fs::exists(dir)) return out;
  for (auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out.push_back(fs::relative(e.path(), dir).generic_string());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<nlohmann::json> json_lines(const std::string& out) {
  std::vector<nlohmann::json> v;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) v.push_back(nlohmann::json::parse(line));  // throws on a non-JSON line
  return v;
}

struct Cli : ::testing::Test {
  test::TempDir td;
  fs::path out() const { return td.path / "output"; }
  fs::path wf(const std::string& text, const std::string& name = "wf.json") const {
    write(td.path / name, text);
    return td.path / name;
  }
};

}  // namespace

TEST_F(Cli, RunWritesTheLatentAndSummarizesIt) {
  auto r = run_cli({"run", wf(kLatentWorkflow).string(), "--output-dir", out().string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(files_under(out()), (std::vector<std::string>{"latents/test_00001_.latent"}));
  EXPECT_NE(r.out.find("SaveLatent #9: wrote "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("latents/test_00001_.latent"), std::string::npos) << r.out;
  auto st = io::SafeTensors::open(out() / "latents/test_00001_.latent");
  EXPECT_EQ(st->info("latent_tensor").shape, (std::vector<int64_t>{1, 4, 4, 8}));
  // a second run never overwrites: it gets the next counter
  r = run_cli({"run", wf(kLatentWorkflow).string(), "--output-dir", out().string(), "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(files_under(out()).size(), 2u);
}

TEST_F(Cli, SetOverridesInputsAsJsonOrText) {
  auto r = run_cli({"run", wf(kLatentWorkflow).string(), "--output-dir", out().string(), "--set", "5.width=128",
                    "--set", "9.filename_prefix=a, b/c"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(files_under(out()), (std::vector<std::string>{"a, b/c_00001_.latent"}));
  auto st = io::SafeTensors::open(out() / "a, b/c_00001_.latent");
  EXPECT_EQ(st->info("latent_tensor").shape, (std::vector<int64_t>{1, 4, 4, 16}));
  r = run_cli({"run", wf(kLatentWorkflow).string(), "--set", "5.nonexistent=1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("node 5 (EmptyLatentImage) has no input 'nonexistent'"), std::string::npos) << r.err;
  r = run_cli({"run", wf(kLatentWorkflow).string(), "--set", "42.width=1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("node '42' does not exist"), std::string::npos) << r.err;
}

TEST_F(Cli, SeedSweepReusesUpstreamResultsAndShards) {
  // --seed-input points the sweep at LatentFromBatch.batch_index: seeds 0..2 pick each batch entry.
  auto r = run_cli({"run", wf(kLatentWorkflow).string(), "--output-dir", out().string(), "--seeds", "0-2",
                    "--seed-input", "7.batch_index", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto lines = json_lines(r.out);
  int executing5 = 0, written = 0, seeds = 0, success = 0;
  for (auto& l : lines) {
    if (l["type"] == "executing" && l["data"]["node"] == "5") executing5++;
    if (l["type"] == "output_written") written++;
    if (l["type"] == "seed") seeds++;
    if (l["type"] == "execution_success") success++;
  }
  EXPECT_EQ(seeds, 3);
  EXPECT_EQ(success, 3);
  EXPECT_EQ(written, 3);
  EXPECT_EQ(executing5, 1);  // EmptyLatentImage ran once for the whole sweep
  EXPECT_EQ(files_under(out()).size(), 3u);

  test::TempDir other;
  r = run_cli({"run", wf(kLatentWorkflow).string(), "--output-dir", other.path.string(), "--seeds", "0,1,2,0,1",
               "--seed-input", "7.batch_index", "--shard", "1/2", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<uint64_t> got;
  for (auto& l : json_lines(r.out))
    if (l["type"] == "seed") got.push_back(l["data"]["seed"]);
  EXPECT_EQ(got, (std::vector<uint64_t>{1, 0}));  // positions 1 and 3

  r = run_cli({"run", wf(kLatentWorkflow).string(), "--seeds", "1-3"});
  EXPECT_EQ(r.exit_code, 2);  // no seed / noise_seed input in this workflow
  EXPECT_NE(r.err.find("--seed-input"), std::string::npos) << r.err;
  r = run_cli({"run", wf(kLatentWorkflow).string(), "--seeds", "3-1", "--seed-input", "7.batch_index"});
  EXPECT_EQ(r.exit_code, 2);
  r = run_cli({"run", wf(kLatentWorkflow).string(), "--seeds", "1", "--seed-input", "7.batch_index", "--shard", "2/2"});
  EXPECT_EQ(r.exit_code, 2);
}

TEST_F(Cli, JsonEventsAreComfyUIsMessages) {
  auto r = run_cli({"run", wf(kLatentWorkflow).string(), "--output-dir", out().string(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto lines = json_lines(r.out);
  ASSERT_GE(lines.size(), 6u);
  EXPECT_EQ(lines.front()["type"], "execution_start");
  EXPECT_EQ(lines[1]["type"], "execution_cached");
  EXPECT_EQ(lines.back()["type"], "executing");
  EXPECT_TRUE(lines.back()["data"]["node"].is_null());
  bool executed = false;
  for (auto& l : lines)
    if (l["type"] == "executed") {
      executed = true;
      EXPECT_EQ(l["data"]["node"], "9");
      EXPECT_EQ(l["data"]["output"]["latents"][0]["filename"], "test_00001_.latent");
      EXPECT_EQ(l["data"]["output"]["latents"][0]["subfolder"], "latents");
    }
  EXPECT_TRUE(executed);
}

TEST_F(Cli, ValidateReportsComfyUIErrors) {
  auto good = wf(kLatentWorkflow);
  auto r = run_cli({"validate", good.string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  std::string bad = kLatentWorkflow;
  bad.replace(bad.find("\"width\": 64"), 11, "\"width\": 8");
  r = run_cli({"validate", wf(bad, "bad.json").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("node 5 (EmptyLatentImage), input 'width'"), std::string::npos) << r.out;
  r = run_cli({"validate", wf(bad, "bad.json").string(), "--json"});
  EXPECT_EQ(r.exit_code, 2);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["error"]["type"], "prompt_outputs_failed_validation");
  EXPECT_EQ(j["node_errors"]["5"]["errors"][0]["type"], "value_smaller_than_min");
  EXPECT_EQ(j["node_errors"]["5"]["dependent_outputs"], nlohmann::json::array({"9"}));
}

TEST_F(Cli, ConvertWritesTheApiFormNeverOverwriting) {
  fs::path ui = test::shared_dir() / "workflows/real/comfyex-img2img.ui.json";
  auto r = run_cli({"convert", ui.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto api = nlohmann::json::parse(r.out);
  auto expected = test::load_json(test::shared_dir() / "workflows/real/comfyex-img2img.api.json");
  ASSERT_EQ(api.size(), expected.size());
  for (auto& [id, n] : expected.items()) EXPECT_EQ(api[id]["class_type"], n["class_type"]) << id;
  fs::path dst = td.path / "api.json";
  r = run_cli({"convert", ui.string(), "-o", dst.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(std::ifstream(dst)), api);
  write(dst, "keep me");
  r = run_cli({"convert", ui.string(), "-o", dst.string()});
  EXPECT_NE(r.exit_code, 0);
  std::ifstream f(dst);
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(s, "keep me");
}

TEST_F(Cli, NodesJsonIsObjectInfo) {
  auto r = run_cli({"nodes", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["SaveLatent"]["output_node"], true);
  EXPECT_EQ(j["SaveLatent"]["input"]["required"]["filename_prefix"][1]["default"], "latents/ComfyUI");
  EXPECT_EQ(j["SaveLatent"]["input"]["hidden"]["prompt"], "PROMPT");
  EXPECT_EQ(j["LatentFromBatch"]["input_order"]["required"], nlohmann::json::array({"samples", "batch_index", "length"}));
  EXPECT_EQ(j["RepeatLatentBatch"]["input"]["required"]["amount"][1]["max"], 64);
  EXPECT_EQ(j["PrimitiveInt"]["input"]["required"]["value"][1]["min"], -9223372036854775807LL);
  EXPECT_EQ(j["PrimitiveInt"]["input"]["required"]["value"][1]["control_after_generate"], true);
}

TEST_F(Cli, HelpListsEveryRunFlag) {
  auto r = run_cli({"run", "--help"});
  ASSERT_EQ(r.exit_code, 0);
  for (const char* flag : {"--set", "--seeds", "--seed-input", "--shard", "--output-dir", "--models-dir",
                           "--extra-model-paths", "--input-dir", "--device", "--dtype", "--tokenizer-dir", "--dump-progress", "--json",
                           "--quiet", "--allow-partial", "--memory-limit"})
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
  EXPECT_EQ(run_cli({"run"}).exit_code, 2);
  EXPECT_EQ(run_cli({"run", "x.json", "--bogus"}).exit_code, 2);
  EXPECT_EQ(run_cli({"run", "x.json", "--dtype", "fp8"}).exit_code, 2);
  EXPECT_EQ(run_cli({"run", "x.json", "--device", "tpu"}).exit_code, 2);
}

// Bad input: each case must fail (exit != 0, not a crash), name what is wrong, and leave the output
// folder without any file (no partial or temporary files).
struct BadCase {
  const char* name;
  std::string text;
  int exit_code;
  std::vector<std::string> must_mention;
};

TEST_F(Cli, BadInputFailsCleanly) {
  std::string deep(100000, '[');
  std::vector<BadCase> cases = {
      {"empty", "", 2, {}},
      {"truncated", std::string(kLatentWorkflow).substr(0, 80), 2, {}},
      {"deep", deep, 2, {}},
      {"not_object", "[1, 2, 3]", 2, {}},
      {"cycle", R"({"7": {"class_type": "LatentFromBatch", "inputs": {"samples": ["8", 0], "batch_index": 0, "length": 1}},
                  "8": {"class_type": "LatentFromBatch", "inputs": {"samples": ["7", 0], "batch_index": 0, "length": 1}},
                  "9": {"class_type": "SaveLatent", "inputs": {"samples": ["8", 0], "filename_prefix": "x"}}})", 2, {"7", "8"}},
      {"dangling", R"({"9": {"class_type": "SaveLatent", "inputs": {"samples": ["12", 0], "filename_prefix": "x"}}})", 2,
       {"9", "samples", "12"}},
      {"unknown_class", R"({"3": {"class_type": "FancySampler", "inputs": {}},
                  "9": {"class_type": "SaveLatent", "inputs": {"samples": ["3", 0], "filename_prefix": "x"}}})", 2,
       {"FancySampler", "3"}},
      {"wrong_link_type", R"({"1": {"class_type": "PrimitiveInt", "inputs": {"value": 3}},
                  "9": {"class_type": "SaveLatent", "inputs": {"samples": ["1", 0], "filename_prefix": "x"}}})", 2,
       {"node 9 (SaveLatent)", "samples"}},
      {"out_of_range", R"({"5": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 0}},
                  "9": {"class_type": "SaveLatent", "inputs": {"samples": ["5", 0], "filename_prefix": "x"}}})", 2,
       {"node 5 (EmptyLatentImage)", "batch_size"}},
      {"non_numeric", R"({"5": {"class_type": "EmptyLatentImage", "inputs": {"width": "wide", "height": 64, "batch_size": 1}},
                  "9": {"class_type": "SaveLatent", "inputs": {"samples": ["5", 0], "filename_prefix": "x"}}})", 2,
       {"node 5 (EmptyLatentImage)", "width"}},
      {"seed_2_64", R"({"1": {"class_type": "PrimitiveInt", "inputs": {"value": 18446744073709551616}},
                  "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": ["1", 0]}},
                  "9": {"class_type": "SaveLatent", "inputs": {"samples": ["5", 0], "filename_prefix": "x"}}})", 2,
       {"node 1 (PrimitiveInt)", "value"}},
      // ComfyUI does not validate constants of object types: this fails when node 9 runs (exit 1)
      {"string_for_link", R"({"9": {"class_type": "SaveLatent", "inputs": {"samples": "5", "filename_prefix": "x"}}})", 1,
       {"node 9 (SaveLatent)", "samples"}},
      {"missing_latent_file", R"({"3": {"class_type": "LoadLatent", "inputs": {"latent": "nope.latent"}},
                  "9": {"class_type": "SaveLatent", "inputs": {"samples": ["3", 0], "filename_prefix": "x"}}})", 2,
       {"node 3 (LoadLatent)", "Invalid latent file: nope.latent"}},
      {"escaping_prefix", R"({"5": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
                  "9": {"class_type": "SaveLatent", "inputs": {"samples": ["5", 0], "filename_prefix": "../../escaped"}}})", 1,
       {"node 9 (SaveLatent)", "filename_prefix", "outside the output folder"}},
  };
  for (auto& c : cases) {
    test::TempDir dir;
    fs::path file = dir.path / (std::string(c.name) + ".json");
    write(file, c.text);
    fs::path outdir = dir.path / "a" / "b" / "output";
    auto r = run_cli({"run", file.string(), "--output-dir", outdir.string(), "--input-dir", (dir.path / "input").string()});
    EXPECT_EQ(r.exit_code, c.exit_code) << c.name << "\n" << r.out << r.err;
    EXPECT_FALSE(r.err.empty()) << c.name;
    for (auto& m : c.must_mention) EXPECT_NE(r.err.find(m), std::string::npos) << c.name << ": '" << m << "' not in\n" << r.err;
    EXPECT_TRUE(files_under(outdir).empty()) << c.name;
    for (auto& f : files_under(dir.path)) EXPECT_EQ(f, file.filename().string()) << c.name << ": stray file";
    // `validate --json` answers JSON for the load-time and validation failures (a few, to keep this fast)
    static const std::set<std::string> validate_too = {"truncated", "deep", "cycle", "unknown_class", "out_of_range"};
    if (validate_too.count(c.name)) {
      auto v = run_cli({"validate", file.string(), "--json"});
      EXPECT_EQ(v.exit_code, 2) << c.name;
      EXPECT_NO_THROW(nlohmann::json::parse(v.out)) << c.name << ": " << v.out;
    }
  }
}
