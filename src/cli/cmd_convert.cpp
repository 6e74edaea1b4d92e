// `comfy-native convert IN [-o OUT]`: the API form of a workflow (stdout, or a new file written atomically).
#include <cxxopts.hpp>

#include <iostream>

#include "cli/cli_util.hpp"
#include "cli/commands.hpp"
#include "comfy/graph/object_info.hpp"
#include "comfy/io/files.hpp"

namespace comfy::cli {

namespace {
struct ConvertOptions {
  std::string input;
  std::string output;  // "" = stdout
  std::string object_info;  // custom nodes' schemas (ComfyUI's /object_info document)
};
}  // namespace

int cmd_convert(int argc, char** argv) {
  ConvertOptions o;
  cxxopts::Options opts("comfy-native convert", "Write the API (prompt) form of a UI workflow, envelope or PNG.");
  opts.custom_help("IN [-o OUT]");
  opts.positional_help("");
  opts.add_options()
      ("input", "workflow file", cxxopts::value(o.input))
      ("o,output", "output file (never overwritten; default: stdout)", cxxopts::value(o.output))
      ("object-info", "ComfyUI's /object_info JSON: node types comfy-native lacks (custom nodes) are mapped with "
                      "these schemas (widget order, defaults)", cxxopts::value(o.object_info))
      ("h,help", "show this help");
  opts.parse_positional({"input"});
  try {
    auto res = opts.parse(argc, argv);
    if (res.count("help")) {
      std::cout << opts.help() << "\nExit codes: 0 success, 1 cannot write OUT (e.g. it exists), 2 invalid input.\n";
      return kExitOk;
    }
    if (!res.unmatched().empty()) throw std::runtime_error("unexpected argument '" + res.unmatched()[0] + "'");
    if (o.input.empty()) throw std::runtime_error("missing IN (see comfy-native convert --help)");
  } catch (const std::exception& e) {
    std::cerr << "convert: " << e.what() << "\n";
    return kExitInvalid;
  }
  Registry reg = Registry::global();
  if (!o.object_info.empty()) {
    try {
      add_object_info_nodes(reg, parse_json_text(io::read_file(o.object_info), o.object_info));
    } catch (const std::exception& e) {
      std::cerr << "convert: --object-info " << o.object_info << ": " << error_text(e) << "\n";
      return kExitInvalid;
    }
  }
  auto wf = load_or_report(o.input, false, reg);
  if (!wf) return kExitInvalid;
  for (auto& w : wf->warnings) std::cerr << "warning: " << w << "\n";
  std::string text = to_api_json(*wf).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  if (o.output.empty() || o.output == "-") {
    std::cout << text;
    return kExitOk;
  }
  try {
    io::write_file_atomic(o.output, text, /*overwrite=*/false);
  } catch (const Error& e) {
    std::cerr << "convert: " << e.what() << "\n";
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace comfy::cli
