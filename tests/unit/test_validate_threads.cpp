// Two prompts validated at once with different model folders: each sees its own files (issue 14 item 1).
// The file also builds on its own under ThreadSanitizer (tests/fuzz, COMFY_TSAN_STANDALONE), where the
// registry is a small local one using the loaders' real folder-backed combo.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "comfy/graph/validate.hpp"
#include "loaders/model_file_input.hpp"

namespace fs = std::filesystem;
using namespace comfy;

namespace {

struct Folders {
  fs::path root;
  RuntimeConfig cfg;
  Folders(const std::string& tag, const std::string& file) {
    root = fs::temp_directory_path() / ("comfy_threads_" + tag + "_" + std::to_string(::getpid()));
    fs::remove_all(root);
    fs::create_directories(root / "models" / "checkpoints");
    std::ofstream(root / "models" / "checkpoints" / file) << "x";
    cfg.models_dirs = {root / "models"};
    cfg.input_dir = root / "input";
    cfg.output_dir = root / "output";
  }
  ~Folders() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
};

// A loader with the real folder-backed combo (loaders::list_folder) and an output node that takes it.
Registry local_registry() {
  Registry r;
  auto stub = [](NodeSchema s) {
    return NodeDef{std::move(s), [](const NodeInputs&, ExecContext&) { return NodeOutput{}; }};
  };
  r.add(stub(NodeSchema("CheckpointLoaderSimple").combo_fn("ckpt_name", loaders::list_folder("checkpoints"))
                 .output("MODEL")));
  r.add(stub(NodeSchema("ModelSink").input("model", "MODEL").output_node_()));
  return r;
}

Prompt local_prompt(const std::string& ckpt) {
  return Prompt::parse(R"({"1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ")" + ckpt +
                       R"("}}, "2": {"class_type": "ModelSink", "inputs": {"model": ["1", 0]}}})");
}

// Validates `own` (must pass) and `other` (the other thread's file: must fail as value_not_in_list)
// under cfg, many times; returns a description of the first surprise, "" when none.
std::string validate_many(const Registry& reg, const RuntimeConfig& cfg, Prompt (*make)(const std::string&),
                          const std::string& own, const std::string& other, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    Prompt ok = make(own);
    auto r = validate_prompt(ok, reg, cfg);
    if (!r.all_ok()) return "own file " + own + " rejected: " + r.describe();
    Prompt bad = make(other);
    auto b = validate_prompt(bad, reg, cfg);
    if (b.all_ok()) return "other thread's file " + other + " accepted";
    if (b.to_json().dump().find("value_not_in_list") == std::string::npos)
      return "other thread's file " + other + " failed differently: " + b.describe();
  }
  return "";
}

void run_two_threads(const Registry& reg, Prompt (*make)(const std::string&), int rounds) {
  Folders a("a", "only_in_a.safetensors"), b("b", "only_in_b.safetensors");
  std::string err_a, err_b;
  std::thread ta([&] { err_a = validate_many(reg, a.cfg, make, "only_in_a.safetensors", "only_in_b.safetensors", rounds); });
  std::thread tb([&] { err_b = validate_many(reg, b.cfg, make, "only_in_b.safetensors", "only_in_a.safetensors", rounds); });
  ta.join();
  tb.join();
  EXPECT_EQ(err_a, "");
  EXPECT_EQ(err_b, "");
}

}  // namespace

TEST(ValidateThreads, TwoPromptsWithDifferentModelFoldersEachSeeTheirOwnFiles) {
  const Registry reg = local_registry();
  run_two_threads(reg, local_prompt, 50);
}

#ifndef COMFY_TSAN_STANDALONE
#include "comfy/core/node.hpp"

namespace {
Prompt real_prompt(const std::string& ckpt) {
  return Prompt::parse(R"({
    "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ")" + ckpt + R"("}},
    "2": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
    "3": {"class_type": "VAEDecode", "inputs": {"samples": ["2", 0], "vae": ["1", 2]}},
    "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "x"}}})");
}
}  // namespace

TEST(ValidateThreads, RealCheckpointLoaderSeesEachRunsFolders) {
  run_two_threads(Registry::global(), real_prompt, 20);
}
#endif
