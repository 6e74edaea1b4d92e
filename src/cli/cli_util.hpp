#pragma once
// Helpers shared by the subcommands: loading a workflow with CLI-friendly errors, exit codes.
#include <optional>
#include <string>

#include "comfy/core/error.hpp"
#include "comfy/graph/workflow.hpp"

namespace comfy::cli {

// Exit codes of every subcommand.
constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;      // failure while running / writing
constexpr int kExitInvalid = 2;      // invalid workflow or bad command line
constexpr int kExitInterrupted = 130;

// Loads FILE (API JSON, UI JSON, POST envelope or PNG). On failure prints the error (as ComfyUI's
// {"error", "node_errors"} JSON when `json`) and returns nullopt.
std::optional<LoadedWorkflow> load_or_report(const std::string& file, bool json,
                                             const Registry& reg = Registry::global());

// "error: node 3 (KSampler), input 'seed': ..." on stderr.
void print_error(const Error& e);

}  // namespace comfy::cli
