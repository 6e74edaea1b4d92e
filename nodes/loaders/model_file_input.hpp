#pragma once
// Combo inputs backed by a model folder: the schema lists the files of the folders the run's
// configuration names (validate_prompt and the loaders call io::set_active_model_folders), so the
// generic combo check reports a missing file as ComfyUI's value_not_in_list.
#include <string>

#include "comfy/core/node.hpp"
#include "comfy/io/model_folders.hpp"

namespace comfy::loaders {

inline std::function<std::vector<std::string>()> list_folder(std::string folder) {
  return [folder] { return io::active_model_folders().list(folder); };
}

}  // namespace comfy::loaders
