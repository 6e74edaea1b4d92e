// comfy-native command line: dispatches to one function per subcommand (src/cli/cmd_*.cpp).
#include <cstring>
#include <iostream>
#include <string>

#include "cli/commands.hpp"
#include "comfy/build_config.hpp"
#include "comfy/core/error.hpp"
#include "comfy/core/host_memory.hpp"

namespace {
void usage(std::ostream& os) {
  os << "comfy-native " << comfy::build_config::kVersion << " — run ComfyUI workflows natively\n\n"
     << "usage: comfy-native <command> [options]\n\n"
     << "commands:\n"
     << "  run FILE              run a workflow (API JSON, UI JSON or PNG)\n"
     << "  validate FILE         check a workflow; exit 2 when invalid\n"
     << "  convert IN [-o OUT]   write the API form of a workflow\n"
     << "  nodes [--json]        list the registered nodes (--json: ComfyUI's /object_info)\n"
     << "  preview FILE -o PNG   contact sheet of a progress latent (.pt / .latent)\n"
     << "  make-checkpoint OUT   write a random-weight SD1.5-layout checkpoint (benchmarks)\n"
     << "  serve                 ComfyUI's HTTP + WebSocket API (POST /prompt, /ws, /history, /view)\n\n"
     << "Run `comfy-native <command> --help` for a command's options.\n";
}
}  // namespace

int main(int argc, char** argv) {
  using namespace comfy::cli;
  comfy::tune_host_memory();
  if (argc < 2) {
    usage(std::cerr);
    return 2;
  }
  std::string cmd = argv[1];
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    usage(std::cout);
    return 0;
  }
  if (cmd == "--version") {
    std::cout << comfy::build_config::kVersion << "\n";
    return 0;
  }
  try {
    if (cmd == "run") return cmd_run(argc - 1, argv + 1);
    if (cmd == "validate") return cmd_validate(argc - 1, argv + 1);
    if (cmd == "convert") return cmd_convert(argc - 1, argv + 1);
    if (cmd == "nodes") return cmd_nodes(argc - 1, argv + 1);
    if (cmd == "preview") return cmd_preview(argc - 1, argv + 1);
    if (cmd == "make-checkpoint") return cmd_make_checkpoint(argc - 1, argv + 1);
    if (cmd == "serve") return cmd_serve(argc - 1, argv + 1);
  } catch (const comfy::Error& e) {
    std::cerr << "error: " << e.describe() << "\n";
    return 1;
  } catch (const std::bad_alloc&) {
    std::cerr << "error: out of memory\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << comfy::error_text(e) << "\n";
    return 1;
  }
  std::cerr << "unknown command '" << cmd << "'\n\n";
  usage(std::cerr);
  return 2;
}
