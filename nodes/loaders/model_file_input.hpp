#pragma once
// Combo inputs backed by a model folder: the schema lists the files, validation checks the name against
// the folders of the run's configuration (ComfyUI's value_not_in_list), execution resolves the path.
#include <string>

#include "comfy/core/node.hpp"
#include "comfy/io/model_folders.hpp"

namespace comfy::loaders {

inline std::function<std::vector<std::string>()> list_folder(std::string folder) {
  return [folder] { return io::active_model_folders().list(folder); };
}

// Installs NodeDef::validate for `input` (and any inputs already handled) checking membership in `folder`.
inline void validate_model_file(NodeDef& def, const std::string& input, const std::string& folder,
                                std::vector<std::string> extra_choices = {}) {
  auto prev = def.validate;
  def.validate_inputs.push_back(input);
  def.validate = [prev, input, folder, extra_choices](const std::string& name, const Value& v,
                                                       const RuntimeConfig& cfg) -> std::string {
    if (name != input) return prev ? prev(name, v, cfg) : std::string();
    if (!v.is_string()) return "Value not in list: " + name + ": expected a file name, got " + v.kind();
    const auto& s = v.as_string();
    for (const auto& e : extra_choices)
      if (s == e) return "";
    io::set_active_model_folders(cfg);
    auto mf = io::ModelFolders::from_config(cfg);
    if (mf.resolve(folder, s)) return "";
    auto files = mf.list(folder);
    std::string list = "[";
    for (size_t i = 0; i < files.size() && i < 20; ++i) list += (i ? ", '" : "'") + files[i] + "'";
    if (files.size() > 20) list += ", ...";
    list += "]";
    return "Value not in list: " + name + ": '" + s + "' not in " + list;
  };
}

}  // namespace comfy::loaders
