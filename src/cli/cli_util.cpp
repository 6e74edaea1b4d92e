#include "cli/cli_util.hpp"

#include <iostream>

namespace comfy::cli {

void print_error(const Error& e) { std::cerr << "error: " << e.describe() << "\n"; }

std::optional<LoadedWorkflow> load_or_report(const std::string& file, bool json, const Registry& reg) {
  try {
    return load_workflow_file(file, reg);
  } catch (const Error& e) {
    if (json) {
      nlohmann::json j = {{"error", e.to_json()}, {"node_errors", nlohmann::json::object()}};
      std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    } else {
      print_error(e);
    }
  } catch (const std::exception& e) {
    if (json) {
      nlohmann::json j = {{"error", {{"type", "invalid_prompt"}, {"message", e.what()}, {"details", ""}, {"extra_info", nlohmann::json::object()}}},
                          {"node_errors", nlohmann::json::object()}};
      std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    } else {
      std::cerr << "error: " << file << ": " << e.what() << "\n";
    }
  }
  return std::nullopt;
}

}  // namespace comfy::cli
