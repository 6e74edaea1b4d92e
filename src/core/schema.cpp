#include "comfy/core/schema.hpp"

#include <cmath>

#include "comfy/core/runtime.hpp"

namespace comfy {

namespace {
nlohmann::json int_json(Int v) {
  if (v >= 0 && v <= Int(~uint64_t(0))) return uint64_t(v);
  return int64_t(v);
}
const char* group_key(InputGroup g) {
  switch (g) {
    case InputGroup::Required: return "required";
    case InputGroup::Optional: return "optional";
    default: return "hidden";
  }
}
}  // namespace

std::vector<std::string> InputSpec::choices(const RuntimeConfig& cfg) const {
  return options_fn ? options_fn(cfg) : options;
}

std::vector<std::string> InputSpec::choices() const { return choices(RuntimeConfig{}); }

nlohmann::json InputSpec::to_object_info() const { return to_object_info(RuntimeConfig{}); }

nlohmann::json NodeSchema::to_object_info() const { return to_object_info(RuntimeConfig{}); }

bool InputSpec::is_widget() const {
  if (group == InputGroup::Hidden || force_input) return false;
  if (is_combo()) return true;
  return type == "INT" || type == "FLOAT" || type == "STRING" || type == "BOOLEAN";
}

nlohmann::json InputSpec::to_object_info(const RuntimeConfig& cfg) const {
  using nlohmann::json;
  if (group == InputGroup::Hidden) return hidden_kind;
  json opt = extra.is_object() ? extra : json::object();
  if (!default_value.is_null()) opt["default"] = default_value;
  if (int_min) opt["min"] = int_json(*int_min);
  if (int_max) opt["max"] = int_json(*int_max);
  if (float_min) opt["min"] = *float_min;
  if (float_max) opt["max"] = *float_max;
  if (step) {
    if (type == "INT" && *step == std::floor(*step)) opt["step"] = int64_t(*step);
    else opt["step"] = *step;
  }
  if (!round.is_null()) opt["round"] = round;
  if (control_after_generate) opt["control_after_generate"] = true;
  if (force_input) opt["forceInput"] = true;
  if (multiline) opt["multiline"] = true;
  if (dynamic_prompts) opt["dynamicPrompts"] = true;
  if (image_upload) opt["image_upload"] = true;
  if (!label_on.empty()) opt["label_on"] = label_on;
  if (!label_off.empty()) opt["label_off"] = label_off;
  if (!tooltip.empty()) opt["tooltip"] = tooltip;
  if (is_combo()) {
    auto ch = choices(cfg);
    if (combo_new_style) {
      opt["options"] = ch;
      return json::array({"COMBO", opt});
    }
    return opt.empty() ? json::array({ch}) : json::array({ch, opt});
  }
  return opt.empty() ? json::array({type}) : json::array({type, opt});
}

const InputSpec* NodeSchema::find_input(const std::string& name) const {
  for (auto& i : inputs)
    if (i.name == name) return &i;
  return nullptr;
}

nlohmann::json NodeSchema::to_object_info(const RuntimeConfig& cfg) const {
  using nlohmann::json;
  json input = json::object(), order = json::object();
  for (auto g : {InputGroup::Required, InputGroup::Optional, InputGroup::Hidden}) {
    json grp = json::object(), ord = json::array();
    for (auto& i : inputs)
      if (i.group == g) {
        grp[i.name] = i.to_object_info(cfg);
        ord.push_back(i.name);
      }
    if (!ord.empty() || g == InputGroup::Required) {
      input[group_key(g)] = grp;
      order[group_key(g)] = ord;
    }
  }
  json out = json::array(), is_list = json::array(), names = json::array(), tips = json::array();
  bool any_tip = false;
  for (auto& o : outputs) {
    out.push_back(o.type);
    is_list.push_back(o.is_list);
    names.push_back(o.name.empty() ? o.type : o.name);
    tips.push_back(o.tooltip);
    any_tip |= !o.tooltip.empty();
  }
  json j = {{"input", input},         {"input_order", order},
            {"output", out},          {"output_is_list", is_list},
            {"output_name", names},   {"name", class_type},
            {"display_name", display_name.empty() ? class_type : display_name},
            {"description", description}, {"python_module", python_module},
            {"category", category},   {"output_node", output_node}};
  if (any_tip) j["output_tooltips"] = tips;
  return j;
}

NodeSchema& NodeSchema::add(InputSpec s) {
  s.group = group_;
  inputs.push_back(std::move(s));
  return *this;
}

NodeSchema& NodeSchema::input(std::string name, std::string type) {
  InputSpec s;
  s.name = std::move(name);
  s.type = std::move(type);
  return add(std::move(s));
}

NodeSchema& NodeSchema::int_(std::string name, Int def, Int min, Int max, std::optional<double> step) {
  InputSpec s;
  s.name = std::move(name);
  s.type = "INT";
  s.default_value = int_json(def);
  s.int_min = min;
  s.int_max = max;
  s.step = step;
  return add(std::move(s));
}

NodeSchema& NodeSchema::seed(std::string name) {
  int_(std::move(name), 0, 0, kSeedMax);
  inputs.back().control_after_generate = true;
  return *this;
}

NodeSchema& NodeSchema::float_(std::string name, double def, double min, double max, std::optional<double> step,
                               nlohmann::json round) {
  InputSpec s;
  s.name = std::move(name);
  s.type = "FLOAT";
  s.default_value = def;
  s.float_min = min;
  s.float_max = max;
  s.step = step;
  s.round = std::move(round);
  return add(std::move(s));
}

NodeSchema& NodeSchema::string_(std::string name, std::string def, bool multiline, bool dynamic_prompts) {
  InputSpec s;
  s.name = std::move(name);
  s.type = "STRING";
  s.default_value = def;
  s.multiline = multiline;
  s.dynamic_prompts = dynamic_prompts;
  return add(std::move(s));
}

NodeSchema& NodeSchema::bool_(std::string name, bool def, std::string label_on, std::string label_off) {
  InputSpec s;
  s.name = std::move(name);
  s.type = "BOOLEAN";
  s.default_value = def;
  s.label_on = std::move(label_on);
  s.label_off = std::move(label_off);
  return add(std::move(s));
}

NodeSchema& NodeSchema::combo(std::string name, std::vector<std::string> options, std::optional<std::string> def) {
  InputSpec s;
  s.name = std::move(name);
  s.type = "COMBO";
  s.options = std::move(options);
  if (def) s.default_value = *def;
  return add(std::move(s));
}

NodeSchema& NodeSchema::combo_fn(std::string name, ComboListFn fn) {
  InputSpec s;
  s.name = std::move(name);
  s.type = "COMBO";
  s.options_fn = std::move(fn);
  return add(std::move(s));
}

NodeSchema& NodeSchema::combo_fn(std::string name, std::function<std::vector<std::string>()> fn) {
  return combo_fn(std::move(name), ComboListFn([fn = std::move(fn)](const RuntimeConfig&) { return fn(); }));
}

NodeSchema& NodeSchema::hidden_input(std::string name, std::string kind) {
  InputSpec s;
  s.name = std::move(name);
  s.type = kind;
  s.hidden_kind = std::move(kind);
  s.group = InputGroup::Hidden;
  inputs.push_back(std::move(s));
  return *this;
}

NodeSchema& NodeSchema::output(std::string type, std::string name, bool is_list) {
  outputs.push_back(OutputSpec{std::move(type), std::move(name), is_list, {}});
  return *this;
}

}  // namespace comfy
