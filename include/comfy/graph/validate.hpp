#pragma once
// validate_prompt (workflow-execution.md section 7): every problem at once, ComfyUI's error types and shape.
#include <nlohmann/json.hpp>

#include <optional>
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
  std::vector<std::string> warnings;       // coercions we accept but ComfyUI treats differently, ...
  uint64_t work_steps = 0;                 // units of work done (tests bound it by the prompt's size)
  bool all_ok() const { return ok && node_errors.empty(); }
  // {"error": ..., "node_errors": ...} as ComfyUI's 400 response ("error" is null when ok)
  nlohmann::json to_json() const;
  // Human-readable, one line per error, naming node id, class type and input.
  std::string describe() const;
};

// Coerces constants in place (INT/FLOAT/STRING/BOOLEAN conversion, __value__ unwrapping) and
// normalises links to ["id", slot].
ValidationResult validate_prompt(Prompt& prompt, const Registry& reg, const RuntimeConfig& cfg);
// partial_targets: restrict the execution targets (POST /prompt partial_execution_targets); empty = all.
ValidationResult validate_prompt(Prompt& prompt, const Registry& reg, const RuntimeConfig& cfg,
                                 const std::vector<std::string>& partial_targets);

// ---- building blocks (section 7.4 / 7.6), public for nodes and tests

// types_match(received, expected) of 7.6; `expected_is_choice_list` for old-style combos ([...] type).
bool types_match(const std::string& received, const std::string& expected, bool expected_is_choice_list = false);

// Result of converting one constant to its schema type (7.4).
struct Coerced {
  bool ok = true;
  nlohmann::ordered_json value;   // the converted value (JSON), when ok
  std::optional<Int> int_value;   // INT: exact value (may exceed 64 bits)
  int big_sign = 0;               // INT beyond 127 bits (kept as text): +1 / -1
  std::string error;              // Python's exception text, when !ok
  std::string warning;            // accepted, but ComfyUI would read it differently
};
// type: "INT", "FLOAT", "STRING", "BOOLEAN"; others are returned unchanged.
Coerced coerce_constant(const nlohmann::ordered_json& v, const std::string& type, const InputSpec* spec = nullptr);

// Python's str() / repr() of a JSON value, as ComfyUI's messages print them.
std::string py_str(const nlohmann::ordered_json& v);
std::string py_repr(const nlohmann::ordered_json& v);
std::string py_float_repr(double d);

}  // namespace comfy
