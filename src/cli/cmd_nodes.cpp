// `comfy-native nodes [--json]`: the registered nodes; --json prints ComfyUI's /object_info document,
// with file combos listed from the given folders.
#include <cstring>
#include <iostream>
#include <string>

#include "cli/commands.hpp"
#include "comfy/core/node.hpp"

namespace comfy::cli {
namespace {
void usage(std::ostream& os) {
  os << "usage: comfy-native nodes [--json] [--models-dir DIR]... [--extra-model-paths YAML] [--input-dir DIR]\n"
        "  --json                ComfyUI's /object_info document (file combos list the folders below)\n"
        "  --models-dir DIR      a folder laid out like ComfyUI's models/; repeatable\n"
        "  --extra-model-paths F ComfyUI's extra_model_paths.yaml\n"
        "  --input-dir DIR       input folder (LoadImage / LoadLatent choices; default: input)\n"
        "  -h, --help            this help\n";
}
}  // namespace

int cmd_nodes(int argc, char** argv) {
  bool json = false;
  RuntimeConfig cfg;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--json") {
      json = true;
    } else if (a == "--help" || a == "-h") {
      usage(std::cout);
      return 0;
    } else if (a == "--models-dir" || a == "--extra-model-paths" || a == "--input-dir") {
      if (i + 1 >= argc) {
        std::cerr << "nodes: " << a << " needs a value\n";
        return 2;
      }
      const std::string v = argv[++i];
      if (a == "--models-dir") cfg.models_dirs.push_back(v);
      else if (a == "--extra-model-paths") cfg.extra_model_paths = v;
      else cfg.input_dir = v;
    } else {
      std::cerr << "nodes: unknown option " << a << "\n";
      usage(std::cerr);
      return 2;
    }
  }
  auto& reg = Registry::global();
  if (json) {
    nlohmann::json j = nlohmann::json::object();
    for (auto& [name, def] : reg.all()) j[name] = def.schema.to_object_info(cfg);
    std::cout << j.dump(2) << "\n";
  } else {
    for (auto& [name, def] : reg.all())
      std::cout << name << "\t" << (def.schema.display_name.empty() ? name : def.schema.display_name) << "\t"
                << def.schema.category << "\n";
  }
  return 0;
}
}  // namespace comfy::cli
