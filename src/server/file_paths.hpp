#pragma once
// The input / output / temp folders as /view and /upload see them (server spec 3.8).
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "comfy/core/runtime.hpp"

namespace comfy::server {

// "input" | "output" | "temp" -> the folder; nullopt for any other type.
std::optional<std::filesystem::path> dir_by_type(const RuntimeConfig& cfg, const std::string& type);
// ComfyUI's annotated_filepath: "a.png [output]" -> ("a.png", "output"); no annotation -> (name, "").
std::pair<std::string, std::string> split_annotation(const std::string& name);
// LoadImage's choice list: image files directly in the input folder, sorted.
std::vector<std::string> input_images(const RuntimeConfig& cfg);

}  // namespace comfy::server
