#include "comfy/core/node.hpp"

namespace comfy {

const Value& NodeInputs::get(const std::string& name) const {
  auto it = values.find(name);
  if (it == values.end() || it->second.is_none())
    throw Error("required_input_missing", "Required input is missing", name).at_input(name);
  return it->second;
}

std::vector<Value> NodeInputs::list(const std::string& name) const {
  auto it = values.find(name);
  if (it == values.end()) return {};
  if (it->second.is_object())
    if (auto l = std::dynamic_pointer_cast<const ValueList>(it->second.as_object())) return l->items;
  return {it->second};
}

const RuntimeConfig& ExecContext::cfg() const {
  static const RuntimeConfig defaults;
  return config ? *config : defaults;
}

void Registry::add(NodeDef def) {
  auto name = def.schema.class_type;
  if (defs_.count(name)) throw std::logic_error("node registered twice: " + name);
  defs_.emplace(name, std::move(def));
}

const NodeDef* Registry::find(const std::string& class_type) const {
  auto it = defs_.find(class_type);
  return it == defs_.end() ? nullptr : &it->second;
}

std::vector<std::string> Registry::names() const {
  std::vector<std::string> v;
  for (auto& [k, _] : defs_) v.push_back(k);
  return v;
}

}  // namespace comfy
