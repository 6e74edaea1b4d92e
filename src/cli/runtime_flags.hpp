#pragma once
// The model / input / output / device flags `run` and `serve` share, bound to one struct.
#ifndef CXXOPTS_VECTOR_DELIMITER  // set for the whole library by CMakeLists.txt (unity build)
#define CXXOPTS_VECTOR_DELIMITER char(0)  // repeated options keep commas
#endif
#include <cxxopts.hpp>

#include <stdexcept>
#include <string>
#include <vector>

#include "comfy/core/runtime.hpp"

namespace comfy::cli {

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct RuntimeFlags {
  std::string output_dir = "output";
  std::vector<std::string> models_dirs;
  std::string extra_model_paths;
  std::string input_dir = "input";
  std::string device = "cpu";
  std::string dtype;  // fp32 | fp16 | bf16; "" = per-device default
  bool fp32_text_enc = false;
  std::string tokenizer_dir;                 // "" = the vocabulary built into the program
  std::vector<std::string> wildcards_dirs;   // Impact wildcard folders (after Impact's own)

  void add_to(cxxopts::Options& opts);
  // Throws UsageError for a bad --device / --dtype.
  RuntimeConfig to_config() const;
};

}  // namespace comfy::cli
