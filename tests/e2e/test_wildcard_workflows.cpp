// Impact's wildcard encode from the command line: --wildcards-dir feeds ImpactWildcardEncode, and the
// result samples exactly like CLIPTextEncode given the text process() populates; a missing folder or an
// empty wildcard file fails with the node named and nothing written.
#include <gtest/gtest.h>

#include <fstream>

#include "comfy/io/safetensors.hpp"
#include "comfy/prompt/wildcards.hpp"
#include "test_util.hpp"

using namespace comfy;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& p, const std::string& s) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << s;
}

// builtin:shapes txt2img, the positive prompt from node 6 (`positive` = its JSON), saved as a latent.
std::string workflow(const std::string& positive_node, const std::string& prefix) {
  return R"({
  "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "builtin:shapes"}},
  "6": )" + positive_node + R"(,
  "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "green", "clip": ["4", 1]}},
  "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
  "3": {"class_type": "KSampler", "inputs": {"seed": 3, "steps": 4, "cfg": 6.0, "sampler_name": "euler",
        "scheduler": "normal", "denoise": 1.0, "model": ["4", 0], "positive": ["6", )" +
         (positive_node.find("ImpactWildcardEncode") != std::string::npos ? "2" : "0") + R"(],
        "negative": ["7", 0], "latent_image": ["5", 0]}},
  "9": {"class_type": "SaveLatent", "inputs": {"samples": ["3", 0], "filename_prefix": ")" + prefix + R"("}}})";
}

const char* kWildcardText = "a {red|blue|yellow} __shape__, {2$$big|small|round}";

std::string wildcard_node(const std::string& text) {
  return R"({"class_type": "ImpactWildcardEncode", "inputs": {"model": ["4", 0], "clip": ["4", 1],
    "wildcard_text": ")" + text + R"(", "populated_text": "", "mode": true,
    "Select to add LoRA": "Select the LoRA to add to the text",
    "Select to add Wildcard": "Select the Wildcard to add to the text", "seed": 11}})";
}

struct WildcardCli : ::testing::Test {
  test::TempDir td;
  fs::path wc() const { return td.path / "wildcards"; }
  fs::path out() const { return td.path / "output"; }
  fs::path wf(const std::string& text, const std::string& name) const {
    write(td.path / name, text);
    return td.path / name;
  }
};

}  // namespace

TEST_F(WildcardCli, WildcardEncodeSamplesLikeThePopulatedPlainPrompt) {
  write(wc() / "shape.txt", "circle\nsquare\ntriangle\n");
  const std::string populated =
      wildcards::process(kWildcardText, 11, wildcards::load_dictionary({wc()}));
  ASSERT_EQ(populated.find("__"), std::string::npos) << populated;

  auto r = test::run_cli({"run", wf(workflow(wildcard_node(kWildcardText), "wild"), "a.json").string(), "--output-dir",
                          out().string(), "--wildcards-dir", wc().string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string plain = R"({"class_type": "CLIPTextEncode", "inputs": {"text": ")" + populated + R"(", "clip": ["4", 1]}})";
  r = test::run_cli({"run", wf(workflow(plain, "plain"), "b.json").string(), "--output-dir", out().string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  auto a = io::SafeTensors::open(out() / "wild_00001_.latent")->get("latent_tensor");
  auto b = io::SafeTensors::open(out() / "plain_00001_.latent")->get("latent_tensor");
  EXPECT_TRUE(a.equal(b)) << "populated: " << populated;
}

TEST_F(WildcardCli, MissingWildcardsDirFailsNamingTheNodeAndWritesNothing) {
  auto r = test::run_cli({"run", wf(workflow(wildcard_node(kWildcardText), "wild"), "a.json").string(), "--output-dir",
                          out().string(), "--wildcards-dir", (td.path / "absent").string()});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("ImpactWildcardEncode"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("absent"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out() / "wild_00001_.latent"));
}

TEST_F(WildcardCli, EmptyWildcardFileFailsNamingNodeAndInput) {
  write(wc() / "shape.txt", "");
  auto r = test::run_cli({"run", wf(workflow(wildcard_node(kWildcardText), "wild"), "a.json").string(), "--output-dir",
                          out().string(), "--wildcards-dir", wc().string()});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("ImpactWildcardEncode"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("wildcard_text"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("__shape__"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out() / "wild_00001_.latent"));
}
