// `comfy-native validate FILE [--json]`: ComfyUI's validation result; exit 2 when invalid.
#include <cxxopts.hpp>

#include <iostream>

#include "cli/cli_util.hpp"
#include "cli/commands.hpp"
#include "comfy/graph/validate.hpp"

namespace comfy::cli {

namespace {
struct ValidateOptions {
  std::string file;
  std::string input_dir = "input";
  std::vector<std::string> models_dirs;
  std::string extra_model_paths;
  bool json = false;
};
}  // namespace

int cmd_validate(int argc, char** argv) {
  ValidateOptions o;
  cxxopts::Options opts("comfy-native validate", "Check a workflow the way ComfyUI validates a prompt.");
  opts.custom_help("FILE [--json]");
  opts.positional_help("");
  opts.add_options()
      ("file", "workflow file", cxxopts::value(o.file))
      ("json", "print ComfyUI's {\"error\", \"node_errors\"} response JSON", cxxopts::value(o.json))
      ("input-dir", "input folder (LoadImage / LoadLatent file checks)", cxxopts::value(o.input_dir)->default_value(o.input_dir))
      ("models-dir", "a folder laid out like ComfyUI's models/; repeatable", cxxopts::value(o.models_dirs))
      ("extra-model-paths", "ComfyUI's extra_model_paths.yaml", cxxopts::value(o.extra_model_paths))
      ("h,help", "show this help");
  opts.parse_positional({"file"});
  try {
    auto res = opts.parse(argc, argv);
    if (res.count("help")) {
      std::cout << opts.help() << "\nExit codes: 0 valid, 2 invalid.\n";
      return kExitOk;
    }
    if (!res.unmatched().empty()) throw std::runtime_error("unexpected argument '" + res.unmatched()[0] + "'");
    if (o.file.empty()) throw std::runtime_error("missing FILE (see comfy-native validate --help)");
  } catch (const std::exception& e) {
    std::cerr << "validate: " << e.what() << "\n";
    return kExitInvalid;
  }
  auto wf = load_or_report(o.file, o.json);
  if (!wf) return kExitInvalid;
  RuntimeConfig cfg;
  cfg.input_dir = o.input_dir;
  for (auto& m : o.models_dirs) cfg.models_dirs.push_back(m);
  if (!o.extra_model_paths.empty()) cfg.extra_model_paths = o.extra_model_paths;
  ValidationResult vr = validate_prompt(wf->prompt, Registry::global(), cfg, wf->partial_execution_targets);
  if (o.json) {
    std::cout << vr.to_json().dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    for (auto& w : wf->warnings) std::cerr << "warning: " << w << "\n";
    for (auto& w : vr.warnings) std::cerr << "warning: " << w << "\n";
    if (vr.all_ok()) {
      std::cout << o.file << ": valid (" << wf->format << ", " << wf->prompt.size() << " nodes, outputs:";
      for (auto& id : vr.outputs) std::cout << " " << id;
      std::cout << ")\n";
    } else {
      std::cout << vr.describe();
    }
  }
  return vr.all_ok() ? kExitOk : kExitInvalid;
}

}  // namespace comfy::cli
