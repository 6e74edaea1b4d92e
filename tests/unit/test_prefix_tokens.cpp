// filename_prefix step A (workflow-nodes-files.md 11.1) at run time: %Node.widget% from the API prompt
// being run, %date:FMT% with the editor's dot rule, and the editor's text form of widget values.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <ctime>

#include "comfy/core/node.hpp"
#include "comfy/core/types.hpp"
#include "comfy/graph/workflow.hpp"
#include "comfy/io/output_names.hpp"
#include "graph/serialize_value.hpp"
#include "test_util.hpp"

using namespace comfy;
using ojson = nlohmann::ordered_json;
namespace fs = std::filesystem;

namespace {

ojson api_prompt() {
  return ojson::parse(R"({
    "12": {"class_type": "KSampler", "_meta": {"title": "KSampler"},
           "inputs": {"seed": 99, "cfg": 3.0, "positive": ["6", 0]}},
    "3":  {"class_type": "KSampler", "_meta": {"title": "Base pass"},
           "inputs": {"seed": 123456, "steps": 20, "cfg": 7.5, "sampler_name": "euler", "denoise": 1.0,
                      "positive": ["6", 0]}},
    "5":  {"class_type": "EmptyLatentImage", "_meta": {"title": "Empty Latent Image"},
           "inputs": {"width": 512, "height": 768, "batch_size": 1}},
    "6":  {"class_type": "CLIPTextEncode", "_meta": {"title": "KSampler"},
           "inputs": {"text": "a/b\\c:d*e?f\"g<h>i|j\tk"}},
    "7":  {"class_type": "CLIPTextEncode", "_meta": {"title": "Positive"}, "inputs": {"text": "red cat"}},
    "8":  {"class_type": "Note", "_meta": {"title": "numbers"},
           "inputs": {"a": 0.1, "b": 1e-7, "c": 1.8446744073709552e19, "d": 1e21, "e": 2.5e-6, "f": 123.456,
                      "g": -0.5, "h": true, "i": 18446744073709551615, "j": null}}
  })");
}

std::string replace(const std::string& text) {
  static const ojson prompt = api_prompt();
  return ui::replace_prefix_patterns(text, &prompt);
}

}  // namespace

TEST(FilenamePrefix, NodeWidgetTokensTakeLiteralValuesFromTheRunningPrompt) {
  // class_type first (the editor's "Node name for S&R"), the lowest node id wins ("3" before "12")
  EXPECT_EQ(replace("%KSampler.seed%_%KSampler.steps%"), "123456_20");
  // else the title; the class-type match wins over a title match of another node
  EXPECT_EQ(replace("%Empty Latent Image.width%x%Empty Latent Image.height%"), "512x768");
  EXPECT_EQ(replace("%EmptyLatentImage.width%"), "512");
  EXPECT_EQ(replace("%Base pass.seed%"), "123456");
  EXPECT_EQ(replace("%Positive.text%"), "red cat");
  // floats as JavaScript writes them
  EXPECT_EQ(replace("%KSampler.cfg%-%KSampler.denoise%"), "7.5-1");
  EXPECT_EQ(replace("%numbers.a% %numbers.b% %numbers.c% %numbers.d% %numbers.e% %numbers.f% %numbers.g% %numbers.h%"),
            "0.1 1e-7 18446744073709552000 1e+21 0.0000025 123.456 -0.5 true");
  EXPECT_EQ(replace("%numbers.i%|%numbers.j%"), "18446744073709551615|");
}

TEST(FilenamePrefix, UnresolvableTokensStayAsWrittenAndPathCharactersAreReplaced) {
  // the first class-type match decides even when it lacks the widget; linked widgets do not resolve
  EXPECT_EQ(replace("%Nope.seed%_%KSampler.nope%_%KSampler.positive%"), "%Nope.seed%_%KSampler.nope%_%KSampler.positive%");
  // not exactly one dot: not a node reference (and %width% is left for the server step)
  EXPECT_EQ(replace("%KSampler.seed.x%_%width%_%%_50%"), "%KSampler.seed.x%_%width%_%%_50%");
  // / ? < > \ : * | " and control characters become "_"
  auto prompt = api_prompt();
  prompt.erase("3");
  prompt.erase("12");
  EXPECT_EQ(ui::replace_prefix_patterns("%KSampler.text%", &prompt), "a_b_c_d_e_f_g_h_i_j_k");
  // without a prompt only dates are replaced
  EXPECT_EQ(ui::replace_prefix_patterns("%KSampler.seed%", nullptr), "%KSampler.seed%");
}

TEST(FilenamePrefix, DatesFollowTheEditorsDotRuleAndFormatTokens) {
  std::tm tm{};
  tm.tm_year = 2026 - 1900; tm.tm_mon = 2; tm.tm_mday = 4; tm.tm_hour = 7; tm.tm_min = 5; tm.tm_sec = 9;
  EXPECT_EQ(io::format_prefix_date("yyyy-MM-dd hh:mm:ss", tm), "2026-03-04 07:05:09");
  EXPECT_EQ(io::format_prefix_date("yy M d h m s", tm), "26 3 4 7 5 9");
  EXPECT_EQ(io::format_prefix_date("yyy|y|yyyyy|MMM|Q", tm), "yyy|y|2026y|033|Q");
  tm.tm_isdst = -1;
  const std::time_t t = std::mktime(&tm);
  // exactly one dot: a node reference named "date:yyyy" (none), left as is; more dots: the text before
  // the first dot is the format
  EXPECT_EQ(io::expand_prefix_tokens("%date:yyyy.MM%", 0, 0, t), "%date:yyyy.MM%");
  EXPECT_EQ(io::expand_prefix_tokens("%date:yyyy-MM-dd.x.y%/a", 0, 0, t), "2026-03-04/a");
  EXPECT_EQ(io::expand_prefix_tokens("%date:yyyy%%width%", 64, 0, t), "202664");
  const std::string now_year = std::to_string(1900 + [] {
    std::time_t n = std::time(nullptr);
    std::tm x{};
    localtime_r(&n, &x);
    return x.tm_year;
  }());
  EXPECT_EQ(replace("%date:yyyy%_%date:yyyy.MM%"), now_year + "_%date:yyyy.MM%");
}

TEST(SaveImage, FilenamePrefixNodeTokensComeFromThePromptBeingRun) {
  test::TempDir td;
  RuntimeConfig cfg;
  cfg.output_dir = td.path / "output";
  ojson prompt = api_prompt();
  prompt["9"] = ojson::parse(R"({"class_type": "SaveImage", "inputs": {"images": ["4", 0],
      "filename_prefix": "%KSampler.seed%/img_%Empty Latent Image.width%_%KSampler.cfg%"}})");
  const NodeDef* def = Registry::global().find("SaveImage");
  ASSERT_NE(def, nullptr);
  NodeInputs in;
  in.values["images"] = Value(at::zeros({2, 4, 4, 3}));
  in.values["filename_prefix"] = Value(prompt["9"]["inputs"]["filename_prefix"].get<std::string>());
  ExecContext ctx;
  ctx.node_id = "9";
  ctx.class_type = "SaveImage";
  ctx.config = &cfg;
  ctx.prompt = &prompt;
  auto out = def->execute(in, ctx);
  ASSERT_EQ(out.ui["images"].size(), 2u);
  EXPECT_EQ(out.ui["images"][0]["subfolder"], "123456");
  EXPECT_EQ(out.ui["images"][0]["filename"], "img_512_7.5_00001_.png");
  EXPECT_EQ(out.ui["images"][1]["filename"], "img_512_7.5_00002_.png");
  EXPECT_TRUE(fs::exists(cfg.output_dir / "123456" / "img_512_7.5_00002_.png"));

  // A sweep sets another seed in the prompt: the next file follows it.
  prompt["3"]["inputs"]["seed"] = 7;
  in.values["images"] = Value(at::zeros({1, 4, 4, 3}));
  out = def->execute(in, ctx);
  EXPECT_EQ(out.ui["images"][0]["subfolder"], "7");
  EXPECT_EQ(out.ui["images"][0]["filename"], "img_512_7.5_00001_.png");
}

TEST(SaveLatent, FilenamePrefixNodeTokensComeFromThePrompt) {
  test::TempDir td;
  RuntimeConfig cfg;
  cfg.output_dir = td.path / "output";
  const ojson prompt = api_prompt();
  const NodeDef* def = Registry::global().find("SaveLatent");
  ASSERT_NE(def, nullptr);
  NodeInputs in;
  auto latent = std::make_shared<Latent>();
  latent->samples = at::zeros({1, 4, 2, 2});
  in.values["samples"] = Value(latent);
  in.values["filename_prefix"] = Value("latents/s%KSampler.seed%");
  ExecContext ctx;
  ctx.class_type = "SaveLatent";
  ctx.config = &cfg;
  ctx.prompt = &prompt;
  auto out = def->execute(in, ctx);
  EXPECT_EQ(out.ui["latents"][0]["filename"], "s123456_00001_.latent");
  EXPECT_EQ(out.ui["latents"][0]["subfolder"], "latents");
}

TEST(FilenamePrefix, SeedSweepFromTheCliNamesEachFileWithItsSeed) {
  test::TempDir td;
  const auto wf = test::source_dir() / "workflows" / "shapes" / "txt2img.api.json";
  auto r = test::run_cli({"run", wf.string(), "--set", "9.filename_prefix=s%KSampler //Inspire.seed%/x_%Nope.seed%",
                          "--seeds", "3,17", "--output-dir", (td.path / "out").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(td.path / "out" / "s3" / "x_%Nope.seed%_00001_.png"));
  EXPECT_TRUE(fs::exists(td.path / "out" / "s17" / "x_%Nope.seed%_00001_.png"));
}
