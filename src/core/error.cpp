#include "comfy/core/error.hpp"

#include <c10/util/Exception.h>

namespace comfy {

std::string Error::describe() const {
  std::string s;
  if (!node_id.empty()) {
    s += "node " + node_id;
    if (!class_type.empty()) s += " (" + class_type + ")";
  }
  if (!input_name.empty()) s += (s.empty() ? "input '" : ", input '") + input_name + "'";
  if (!s.empty()) s += ": ";
  s += what();
  if (!details.empty() && details != input_name) s += " [" + details + "]";
  return s;
}

nlohmann::json Error::to_json() const {
  nlohmann::json j = {{"type", type}, {"message", what()}, {"details", details}, {"extra_info", extra_info}};
  if (!input_name.empty() && !j["extra_info"].contains("input_name")) j["extra_info"]["input_name"] = input_name;
  return j;
}

void fail(const std::string& input_name, const std::string& message) {
  throw Error("execution_error", message, input_name).at_input(input_name);
}

void fail_type(const std::string& type, const std::string& input_name, const std::string& message) {
  throw Error(type, message, input_name).at_input(input_name);
}

std::string error_text(const std::exception& e) {
  if (auto* c = dynamic_cast<const c10::Error*>(&e)) return c->what_without_backtrace();
  return e.what();
}

}  // namespace comfy
