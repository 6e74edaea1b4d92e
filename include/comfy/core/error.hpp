#pragma once
// One error type for everything that can go wrong while loading, validating or running a workflow.
// It carries ComfyUI's error type name ("value_not_in_list", "invalid_prompt", ...) and, where known,
// the node id, class type and input name, so every message can say *where* the problem is.
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace comfy {

struct Error : std::runtime_error {
  std::string type;         // ComfyUI error type, e.g. "required_input_missing"; "execution_error" at run time
  std::string node_id;      // "" when not tied to a node
  std::string class_type;   // "" when unknown
  std::string input_name;   // "" when not tied to an input
  std::string details;      // ComfyUI's "details" text
  nlohmann::json extra_info = nlohmann::json::object();

  explicit Error(std::string type_, const std::string& message, std::string details_ = {})
      : std::runtime_error(message), type(std::move(type_)), details(std::move(details_)) {}

  Error& at_node(std::string id, std::string cls) { node_id = std::move(id); class_type = std::move(cls); return *this; }
  Error& at_input(std::string name) { input_name = std::move(name); return *this; }
  Error& with_extra(nlohmann::json e) { extra_info = std::move(e); return *this; }

  // "node 3 (KSampler), input 'seed': Value 5 bigger than max of 4"
  std::string describe() const;
  // ComfyUI's error object: {"type","message","details","extra_info"}
  nlohmann::json to_json() const;
};

// The message of any exception for users: libtorch's c10::Error without its C++ backtrace
// (what_without_backtrace()), everything else as what().
std::string error_text(const std::exception& e);

// Shorthand for failures inside a node's execute function; the executor fills node id / class.
[[noreturn]] void fail(const std::string& input_name, const std::string& message);
[[noreturn]] void fail_type(const std::string& type, const std::string& input_name, const std::string& message);

}  // namespace comfy
