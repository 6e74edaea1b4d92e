#pragma once
// validate_prompt (workflow-execution.md section 7): every problem at once, ComfyUI's error types and shape.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "comfy/core/node.hpp"
#include "comfy/graph/workflow.hpp"

namespace comfy {

struct ValidationResult {
  bool ok = false;                         // true when at least one output validated
  std::vector<std::string> outputs;        // output node ids that validated (execution targets)
  nlohmann::json error;                    // prompt-level error object, null when ok and nothing failed
  nlohmann::json node_errors = nlohmann::json::object();  // {id: {"errors", "dependent_outputs", "class_type"}}
  bool all_ok() const { return ok && node_errors.empty(); }
  // {"error": ..., "node_errors": ...} as ComfyUI's 400 response
  nlohmann::json to_json() const;
  // Human-readable, one line per error, naming node id, class type and input.
  std::string describe() const;
};

// Coerces constants in place (INT/FLOAT/STRING/BOOLEAN conversion, __value__ unwrapping).
ValidationResult validate_prompt(Prompt& prompt, const Registry& reg, const RuntimeConfig& cfg);

}  // namespace comfy
