// Placeholder until the owner of this subcommand lands it.
#include <iostream>

#include "cli/commands.hpp"

namespace comfy::cli {
int cmd_make_checkpoint(int, char**) {
  std::cerr << "comfy-native: this command is not implemented yet\n";
  return 1;
}
}  // namespace comfy::cli
