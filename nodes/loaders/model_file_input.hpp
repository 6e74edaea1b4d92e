#pragma once
// Combo inputs backed by a model folder: the schema lists the files of the folders the run's
// configuration names (validation passes its RuntimeConfig down), so the generic combo check reports
// a missing file as ComfyUI's value_not_in_list.
#include <string>

#include "comfy/core/node.hpp"
#include "comfy/io/model_folders.hpp"

namespace comfy::loaders {

inline ComboListFn list_folder(std::string folder) {
  return [folder](const RuntimeConfig& cfg) { return io::ModelFolders::from_config(cfg).list(folder); };
}

}  // namespace comfy::loaders
