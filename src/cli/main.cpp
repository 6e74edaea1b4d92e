// comfy-native command line. Subcommands: nodes, (run, validate, convert: see src/cli/).
#include <iostream>

#include "comfy/core/node.hpp"

int main(int argc, char** argv) {
  using namespace comfy;
  std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "nodes") {
    bool json = argc > 2 && std::string(argv[2]) == "--json";
    auto& reg = Registry::global();
    if (json) {
      nlohmann::json j = nlohmann::json::object();
      for (auto& [name, def] : reg.all()) j[name] = def.schema.to_object_info();
      std::cout << j.dump(2) << "\n";
    } else {
      for (auto& name : reg.names()) std::cout << name << "\n";
    }
    return 0;
  }
  std::cerr << "usage: comfy-native nodes [--json]\n";
  return 2;
}
