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
