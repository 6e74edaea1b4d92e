// The program carries its own CLIP vocabulary: a copy of the CLI binary in a fresh temp folder (no
// ../shared, no tokenizer files, no build tree nearby) runs workflows that encode prompts, for SD1.5 (a
// checkpoint) and SDXL (DualCLIPLoader on split text-encoder files). A different prompt must give a
// different result, so the text really went through the tokenizer and encoder.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "comfy/io/safetensors.hpp"
#include "test_util.hpp"
#include "tiny_text_encoders.hpp"

using namespace comfy;
namespace fs = std::filesystem;

namespace {

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

struct Portable : ::testing::Test {
  test::TempDir td;
  fs::path app() const { return td.path / "app"; }
  fs::path bin() const { return app() / "comfy-native"; }
  void SetUp() override {
    fs::create_directories(app() / "models" / "checkpoints");
    fs::create_directories(app() / "models" / "text_encoders");
    fs::copy_file(test::cli_path(), bin());
    ASSERT_FALSE(fs::exists(td.path / "shared")) << "the temp folder must have no shared/ beside it";
    ASSERT_FALSE(fs::exists(app().parent_path().parent_path() / "shared"));
  }
  // Runs the copied binary from its own folder; returns the exit code, output in `out`.
  int run(const std::string& workflow, const std::string& prompt, std::string& out) {
    std::ofstream(app() / "wf.json") << workflow;
    const std::string cmd = "cd " + quote(app().string()) + " && ./comfy-native run wf.json --models-dir models --output-dir out " +
                            "--quiet --set " + quote("2.text=" + prompt) + " >log.txt 2>&1 </dev/null";
    int st = std::system(cmd.c_str());
    std::ifstream f(app() / "log.txt");
    std::ostringstream s;
    s << f.rdbuf();
    out = s.str();
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
  }
  // The latent of the n-th run (SaveLatent counts up, never overwrites).
  at::Tensor latent(int n) const {
    char name[64];
    std::snprintf(name, sizeof(name), "enc_%05d_.latent", n);
    return io::SafeTensors::open(app() / "out" / name)->get("latent_tensor").clone();
  }
};

// Sampler graph around node 2 (the prompt). `loader` provides node "1" and the model / clip links.
std::string workflow(const std::string& loader, const std::string& model, const std::string& clip, const std::string& encode) {
  return R"({
  "1": )" + loader + R"(,
  "2": {"class_type": ")" + encode + R"(", "inputs": {"text": "x", "clip": )" + clip + R"(}},
  "3": {"class_type": "ConditioningZeroOut", "inputs": {"conditioning": ["2", 0]}},
  "4": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
  "5": {"class_type": "KSampler", "inputs": {"model": )" + model + R"(, "seed": 1, "steps": 2, "cfg": 5.0,
        "sampler_name": "euler", "scheduler": "normal", "positive": ["2", 0], "negative": ["3", 0],
        "latent_image": ["4", 0], "denoise": 1.0}},
  "6": {"class_type": "SaveLatent", "inputs": {"samples": ["5", 0], "filename_prefix": "enc"}}})";
}

}  // namespace

TEST_F(Portable, Sd15CheckpointEncodesPromptsWithTheBuiltInVocabulary) {
  fs::copy_file(test::golden_root() / "nets" / "tiny-sd15.safetensors", app() / "models" / "checkpoints" / "tiny.safetensors");
  const auto wf = workflow(R"({"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "tiny.safetensors"}})",
                           R"(["1", 0])", R"(["1", 1])", "CLIPTextEncode");
  std::string out;
  ASSERT_EQ(run(wf, "a red cube", out), 0) << out;
  ASSERT_EQ(run(wf, "a blue sphere, (dark:1.3)", out), 0) << out;
  EXPECT_FALSE(at::equal(latent(1), latent(2))) << "the prompt did not reach the sampler";
}

TEST_F(Portable, SdxlSplitTextEncodersEncodePromptsWithTheBuiltInVocabulary) {
  // CLIP-L (HF layout) and bigG (OpenCLIP layout, made deep enough to be told apart) from tiny-sdxl
  io::save_safetensors(app() / "models" / "text_encoders" / "clip_l.safetensors",
                       test::golden_checkpoint_tensors("tiny-sdxl.safetensors", "conditioner.embedders.0.transformer."));
  io::save_safetensors(app() / "models" / "text_encoders" / "clip_g.safetensors",
                       test::deepen_openclip(test::golden_checkpoint_tensors("tiny-sdxl.safetensors", "conditioner.embedders.1.model."), 32));
  // the toy model's output depends on the mean of the conditioning, so the prompt shows in the latent
  const auto wf = workflow(R"({"class_type": "DualCLIPLoader", "inputs": {"clip_name1": "clip_l.safetensors",
                               "clip_name2": "clip_g.safetensors", "type": "sdxl"}},
                              "7": {"class_type": "ToyGaussianModel", "inputs": {}})",
                           R"(["7", 0])", R"(["1", 0])", "CLIPTextEncode");
  std::string out;
  ASSERT_EQ(run(wf, "a castle on a hill", out), 0) << out;
  ASSERT_EQ(run(wf, "a (red:1.4) boat at sea", out), 0) << out;
  EXPECT_FALSE(at::equal(latent(1), latent(2))) << "the prompt did not reach the sampler";
}
