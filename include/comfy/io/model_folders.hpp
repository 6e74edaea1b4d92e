#pragma once
// ComfyUI's model folders (folder_paths.py; workflow-nodes-files.md 11.4, 11.5): folder names such as
// "checkpoints" map to search paths (each RuntimeConfig::models_dirs entry laid out like ComfyUI's
// models/, plus extra_model_paths.yaml); combos list the files, names resolve to the first match.
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "comfy/core/runtime.hpp"

namespace comfy::io {

class ModelFolders {
 public:
  // The default folder table under every models dir, then the extra_model_paths.yaml entries.
  static ModelFolders from_config(const RuntimeConfig& cfg);

  // Adds a search path for a folder name (legacy aliases accepted: unet, clip); `front` = is_default.
  void add(const std::string& folder, const std::filesystem::path& path, bool front = false);
  // Reads one extra_model_paths.yaml (the subset ComfyUI's files use); throws comfy::Error on syntax.
  void load_yaml(const std::filesystem::path& yaml);
  void load_yaml_text(const std::string& text, const std::filesystem::path& yaml_dir);

  std::vector<std::filesystem::path> paths(const std::string& folder) const;
  // Accepted files under every path of the folder, relative, '/'-separated, de-duplicated, sorted.
  std::vector<std::string> list(const std::string& folder) const;
  // The file a combo value names, or nullopt. '\' is read as '/', and the name cannot leave the folder.
  std::optional<std::filesystem::path> resolve(const std::string& folder, const std::string& name) const;

  static std::string canonical_folder(const std::string& folder);  // unet -> diffusion_models, clip -> text_encoders

 private:
  std::map<std::string, std::vector<std::filesystem::path>> paths_;
};

// Resolves a model file for a node input, throwing ComfyUI's FileNotFoundError text
// ("Model in folder 'checkpoints' with filename 'x' not found.") naming the input when it is missing.
std::filesystem::path resolve_model_file(const RuntimeConfig& cfg, const std::string& folder, const std::string& name,
                                         const std::string& input_name);

}  // namespace comfy::io
