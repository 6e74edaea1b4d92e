// The example workflows in workflows/: each UI file converts to its API twin, and every example runs
// end to end on the embedded model (builtin:shapes) through the CLI, writing PNGs that carry the prompt.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <fstream>

#include "comfy/core/node.hpp"
#include "comfy/graph/workflow.hpp"
#include "comfy/io/files.hpp"
#include "comfy/io/png.hpp"
#include "test_util.hpp"

namespace fs = std::filesystem;
using namespace comfy;

namespace {

std::vector<std::string> example_names() {
  return {"txt2img", "seed-sweep", "variation-seeds", "two-pass", "progress", "img2img"};
}

fs::path examples_dir() { return test::source_dir() / "workflows"; }

// Drops "_meta" (titles are informative) so API files and converted UI files compare on what runs.
nlohmann::ordered_json without_meta(nlohmann::ordered_json p) {
  for (auto& [id, node] : p.items()) node.erase("_meta");
  return p;
}

}  // namespace

TEST(ExampleWorkflows, UiFilesConvertToTheirApiTwins) {
  for (const char* model : {"shapes", "sd15"})
    for (const auto& name : example_names()) {
      const auto dir = examples_dir() / model;
      auto api = load_workflow_file(dir / (name + ".api.json"));
      auto ui = load_workflow_file(dir / (name + ".ui.json"));
      EXPECT_EQ(api.format, "api");
      EXPECT_EQ(ui.format, "ui");
      // compared as unordered JSON: key order does not change what runs
      EXPECT_EQ(nlohmann::json::parse(without_meta(ui.prompt).dump()),
                nlohmann::json::parse(without_meta(api.prompt).dump()))
          << model << "/" << name;
    }
}

TEST(ExampleWorkflows, EveryEmbeddedExampleRunsAndSavesPngsWithThePrompt) {
  // every API form, and one UI form (the UI files' conversion is checked above)
  std::vector<std::pair<std::string, std::string>> runs;
  for (const auto& name : example_names()) runs.emplace_back(name, ".api.json");
  runs.emplace_back("txt2img", ".ui.json");
  for (const auto& [name, form] : runs) {
      test::TempDir tmp;
      const auto wf = examples_dir() / "shapes" / (name + form);
      auto r = test::run_cli({"run", wf.string(), "--output-dir", (tmp.path / "out").string(),
                              "--input-dir", (examples_dir() / "input").string(), "--dump-progress",
                              (tmp.path / "progress").string()});
      ASSERT_EQ(r.exit_code, 0) << name << form << "\n" << r.out << r.err;
      int pngs = 0;
      for (auto& e : fs::recursive_directory_iterator(tmp.path / "out")) {
        if (e.path().extension() != ".png") continue;
        ++pngs;
        auto text = io::read_png_text(io::read_file(e.path()));
        ASSERT_FALSE(text.empty()) << e.path();
        EXPECT_EQ(text[0].first, "prompt");
        if (form == ".ui.json") EXPECT_EQ(text.back().first, "workflow");
        if (name == "txt2img") {
          // "a red circle on a light background": red in the middle, light grey-ish corners
          auto img = io::decode_png(io::read_file(e.path())).rgb;
          const int64_t H = img.size(0), W = img.size(1);
          auto mid = img.narrow(0, H * 2 / 5, H / 5).narrow(1, W * 2 / 5, W / 5).mean(at::IntArrayRef{0, 1});
          auto corner = img.narrow(0, 0, H / 10).narrow(1, 0, W / 10).mean(at::IntArrayRef{0, 1});
          EXPECT_GT(mid[0].item<float>(), 0.7f) << mid;
          EXPECT_LT(mid[1].item<float>(), 0.3f) << mid;
          EXPECT_GT(corner.min().item<float>(), 0.6f) << corner;
        }
      }
      EXPECT_GE(pngs, 1) << name << form;
    }
}

// The SD1.5 twins run unchanged but for the checkpoint (the tiny golden SD1.5-layout net) and
// reduced sizes / steps given with --set. (img2img is left out: its 512x512 input makes it slow.)
TEST(ExampleWorkflows, Sd15ExamplesRunOnTheTinyCheckpoint) {
  const auto ckpt = test::golden_root() / "nets" / "tiny-sd15.safetensors";
  ASSERT_TRUE(fs::exists(ckpt)) << ckpt;
  test::TempDir tmp;
  fs::create_directories(tmp.path / "models" / "checkpoints");
  fs::create_symlink(fs::absolute(ckpt), tmp.path / "models" / "checkpoints" / "tiny-sd15.safetensors");
  for (std::string name : {"txt2img", "seed-sweep", "variation-seeds", "two-pass", "progress"}) {
    std::vector<std::string> args = {"run", (examples_dir() / "sd15" / (name + ".api.json")).string(),
                                     "--models-dir", (tmp.path / "models").string(),
                                     "--output-dir", (tmp.path / "out").string(),
                                     "--set", "4.ckpt_name=tiny-sd15.safetensors",
                                     "--set", "5.width=64", "--set", "5.height=64", "--quiet"};
    if (name == "two-pass") {
      for (const char* s : {"3.steps=4", "11.steps=4", "3.end_at_step=2", "11.start_at_step=2"}) {
        args.push_back("--set");
        args.push_back(s);
      }
    } else {
      args.push_back("--set");
      args.push_back("3.steps=3");
    }
    auto r = test::run_cli(args);
    EXPECT_EQ(r.exit_code, 0) << name << "\n" << r.out << r.err;
  }
  int pngs = 0;
  for (auto& e : fs::recursive_directory_iterator(tmp.path / "out")) pngs += e.path().extension() == ".png";
  // txt2img 1 + seed sweep 4 + variations 4 + two-pass 1 + progress (final 1, progress_latent: 3 steps
  // at interval 1 plus the final latent since omit_final_latent is false = 4)
  EXPECT_EQ(pngs, 1 + 4 + 4 + 1 + 1 + 4);
}

// Issue 4's golden bullet: tiny-sd15 through txt2img and img2img from the CLI (CheckpointLoaderSimple ->
// CLIPTextEncode x2 -> KSampler //Inspire -> VAEDecode -> SaveImage), UI files, so the PNG carries the
// workflow. img2img reads a small 40x56 stand-in for its input under the same name.
TEST(ExampleWorkflows, Sd15UiTxt2ImgAndImg2ImgRunOnTheTinyCheckpointWithTheWorkflowInThePng) {
  const auto ckpt = test::golden_root() / "nets" / "tiny-sd15.safetensors";
  ASSERT_TRUE(fs::exists(ckpt)) << ckpt;
  test::TempDir tmp;
  fs::create_directories(tmp.path / "models" / "checkpoints");
  fs::create_symlink(fs::absolute(ckpt), tmp.path / "models" / "checkpoints" / "v1-5-pruned-emaonly.safetensors");
  fs::create_directories(tmp.path / "input");
  auto ramp = at::linspace(0, 1, 56).view({1, 56, 1}).expand({40, 56, 3}).contiguous();
  io::write_file_atomic(tmp.path / "input" / "example-shapes.png", io::encode_png(ramp));
  io::write_file_atomic(tmp.path / "input" / "flipped.png", io::encode_png(ramp.flip({1})));

  auto run = [&](const std::string& name, const std::string& out, std::vector<std::string> sets) {
    std::vector<std::string> args = {"run", (examples_dir() / "sd15" / (name + ".ui.json")).string(),
                                     "--models-dir", (tmp.path / "models").string(), "--input-dir",
                                     (tmp.path / "input").string(), "--output-dir", (tmp.path / out).string(),
                                     "--quiet", "--set", "3.steps=3"};
    for (auto& s : sets) {
      args.push_back("--set");
      args.push_back(s);
    }
    auto r = test::run_cli(args);
    EXPECT_EQ(r.exit_code, 0) << name << "\n" << r.out << r.err;
    std::vector<fs::path> pngs;
    if (fs::exists(tmp.path / out))
      for (auto& e : fs::recursive_directory_iterator(tmp.path / out))
        if (e.path().extension() == ".png") pngs.push_back(e.path());
    EXPECT_EQ(pngs.size(), 1u) << name;
    return pngs;
  };
  auto check_png = [&](const fs::path& png, const std::string& name, int64_t H, int64_t W) {
    const auto bytes = io::read_file(png);
    auto text = io::read_png_text(bytes);
    ASSERT_EQ(text.size(), 2u);
    EXPECT_EQ(text[0].first, "prompt");
    EXPECT_EQ(nlohmann::json::parse(text[0].second)["3"]["class_type"], "KSampler //Inspire");
    EXPECT_EQ(text[1].first, "workflow");
    // the workflow chunk is the UI file's workflow (as JSON; whitespace may differ)
    EXPECT_EQ(nlohmann::json::parse(text[1].second), test::load_json(examples_dir() / "sd15" / (name + ".ui.json")));
    auto img = io::decode_png(bytes).rgb;
    EXPECT_EQ(img.sizes(), (std::vector<int64_t>{H, W, 3}));
    EXPECT_GT(img.std().item<double>(), 0.01);
  };

  // txt2img at 64x64: latent 8x8, decoded by the factor-2 tiny VAE to 16x16
  auto t = run("txt2img", "t2i", {"5.width=64", "5.height=64"});
  ASSERT_EQ(t.size(), 1u);
  check_png(t[0], "txt2img", 16, 16);

  // img2img keeps the input's size (40x56 are whole VAE cells) and follows the input image
  auto a = run("img2img", "i2i", {});
  auto b = run("img2img", "i2i_flipped", {"10.image=flipped.png"});
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  check_png(a[0], "img2img", 40, 56);
  auto ia = io::decode_png(io::read_file(a[0])).rgb, ib = io::decode_png(io::read_file(b[0])).rgb;
  EXPECT_GT((ia - ib).abs().mean().item<double>(), 1e-3);
}
