#pragma once
// Input-file names as LoadImage / LoadLatent receive them (workflow-nodes-files.md 11.6): relative to
// the input folder, or to the output / temp folder when annotated " [output]" / " [temp]"
// (" [input]" names the input folder explicitly). Subfolders are allowed; escaping the folder is not.
#include <filesystem>
#include <string>
#include <vector>

#include "comfy/core/runtime.hpp"

namespace comfy::io {

// Throws comfy::Error (input `input_name`) for names that leave their folder.
std::filesystem::path annotated_input_path(const RuntimeConfig& cfg, const std::string& name,
                                           const std::string& input_name);
// The temp folder: cfg.temp_dir, or output_dir/../temp when unset.
std::filesystem::path temp_dir_of(const RuntimeConfig& cfg);
// Files directly in `dir` (not recursive) whose name ends with one of `exts` (any file when empty), sorted.
std::vector<std::string> list_files(const std::filesystem::path& dir, const std::vector<std::string>& exts);

}  // namespace comfy::io
