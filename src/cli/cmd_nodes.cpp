// `comfy-native nodes [--json]`: the registered nodes; --json prints ComfyUI's /object_info document.
#include <cstring>
#include <iostream>

#include "cli/commands.hpp"
#include "comfy/core/node.hpp"

namespace comfy::cli {
int cmd_nodes(int argc, char** argv) {
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0) json = true;
    else if (std::strcmp(argv[i], "--help") == 0) {
      std::cout << "usage: comfy-native nodes [--json]\n";
      return 0;
    } else {
      std::cerr << "nodes: unknown option " << argv[i] << "\n";
      return 2;
    }
  }
  auto& reg = Registry::global();
  if (json) {
    nlohmann::json j = nlohmann::json::object();
    for (auto& [name, def] : reg.all()) j[name] = def.schema.to_object_info();
    std::cout << j.dump(2) << "\n";
  } else {
    for (auto& [name, def] : reg.all())
      std::cout << name << "\t" << (def.schema.display_name.empty() ? name : def.schema.display_name) << "\t"
                << def.schema.category << "\n";
  }
  return 0;
}
}  // namespace comfy::cli
