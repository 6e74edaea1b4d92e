#pragma once
// Shared test helpers: where the golden data lives, tolerance checks as the manifests define them,
// scratch folders, and running the comfy-native CLI.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>
#include <string>

#include "comfy/io/safetensors.hpp"

namespace comfy::test {

// $COMFY_NATIVE_GOLDEN_DIR or ../shared/golden (the golden root: sampling/, nets/).
std::filesystem::path golden_root();
std::filesystem::path shared_dir();   // ../shared
std::filesystem::path source_dir();   // the repository root
std::filesystem::path cli_path();     // the built comfy-native binary

// Cached open of a golden safetensors file (relative to the golden root, e.g. "sampling/noise.safetensors").
std::shared_ptr<io::SafeTensors> golden_file(const std::string& rel);
nlohmann::json load_json(const std::filesystem::path& p);

// |a - e| <= atol + rtol*|e| elementwise, NaN == NaN. `tolerance` is a manifest tolerance object
// ({"rtol", "atol"} or {"rtol", "atol_rel_to_max"}). Returns "" when fine, else a description of the
// worst element.
std::string check_close(const at::Tensor& actual, const at::Tensor& expected, const nlohmann::json& tolerance);
std::string check_close(const at::Tensor& actual, const at::Tensor& expected, double rtol, double atol);

// A fresh empty directory under the system temp folder, removed by the destructor.
struct TempDir {
  std::filesystem::path path;
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

struct CliResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};
// Runs the CLI with the given arguments (each shell-quoted) in `cwd` (default: current dir).
CliResult run_cli(const std::vector<std::string>& args, const std::filesystem::path& cwd = {});

// Path of Debian's python3 with torch, or "" when it is not installed.
std::string python_with_torch();

}  // namespace comfy::test
