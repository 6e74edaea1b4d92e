// /object_info entries -> NodeSchema (ComfyUI's node_info(): input types with their option objects,
// input_order, output / output_name / output_is_list).
#include "comfy/graph/object_info.hpp"

#include <cmath>
#include <set>

namespace comfy {

namespace {

using ojson = nlohmann::ordered_json;

[[noreturn]] void bad(const std::string& cls, const std::string& what) {
  throw Error("invalid_prompt", "object_info for " + cls + ": " + what);
}

std::optional<Int> json_int(const ojson& v) {
  if (v.is_number_unsigned()) return Int(v.get<uint64_t>());
  if (v.is_number_integer()) return Int(v.get<int64_t>());
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (std::isfinite(d) && std::fabs(d) < 1.7e38) return Int(d);
  }
  return std::nullopt;
}

std::optional<double> json_double(const ojson& v) {
  if (v.is_number()) return v.get<double>();
  return std::nullopt;
}

std::string json_string(const ojson& v) { return v.is_string() ? v.get<std::string>() : std::string(); }

// The options every input type shares, and the rest verbatim into `extra`.
void read_options(InputSpec& s, const ojson& opt) {
  static const std::set<std::string> known = {"default", "min", "max", "step", "round", "control_after_generate",
                                              "forceInput", "multiline", "dynamicPrompts", "image_upload",
                                              "label_on", "label_off", "tooltip", "options"};
  for (auto it = opt.begin(); it != opt.end(); ++it) {
    const std::string& k = it.key();
    const ojson& v = it.value();
    if (k == "default") s.default_value = nlohmann::json(v);
    else if (k == "step") s.step = json_double(v);
    else if (k == "round") s.round = nlohmann::json(v);
    else if (k == "control_after_generate") s.control_after_generate = v.is_boolean() ? v.get<bool>() : !v.is_null();
    else if (k == "forceInput") s.force_input = v.is_boolean() && v.get<bool>();
    else if (k == "multiline") s.multiline = v.is_boolean() && v.get<bool>();
    else if (k == "dynamicPrompts") s.dynamic_prompts = v.is_boolean() && v.get<bool>();
    else if (k == "image_upload") s.image_upload = v.is_boolean() && v.get<bool>();
    else if (k == "label_on") s.label_on = json_string(v);
    else if (k == "label_off") s.label_off = json_string(v);
    else if (k == "tooltip") s.tooltip = json_string(v);
    if (!known.count(k)) s.extra[k] = nlohmann::json(v);
    if (k == "min" || k == "max") {
      if (s.type == "INT") (k == "min" ? s.int_min : s.int_max) = json_int(v);
      else if (s.type == "FLOAT") (k == "min" ? s.float_min : s.float_max) = json_double(v);
    }
  }
}

std::vector<std::string> choice_list(const std::string& cls, const std::string& name, const ojson& list) {
  std::vector<std::string> out;
  for (auto& c : list) {
    if (c.is_string()) out.push_back(c.get<std::string>());
    else if (c.is_number() || c.is_boolean()) out.push_back(c.dump());
    else bad(cls, "input '" + name + "': combo choices must be strings or numbers");
  }
  return out;
}

InputSpec read_input(const std::string& cls, const std::string& name, const ojson& decl, InputGroup group) {
  InputSpec s;
  s.name = name;
  s.group = group;
  if (group == InputGroup::Hidden) {
    const ojson& t = decl.is_array() && !decl.empty() ? decl[0] : decl;
    if (!t.is_string()) bad(cls, "hidden input '" + name + "' must name its kind (PROMPT, EXTRA_PNGINFO, ...)");
    s.type = s.hidden_kind = t.get<std::string>();
    return s;
  }
  if (!decl.is_array() || decl.empty() || decl.size() > 2)
    bad(cls, "input '" + name + "' must be [TYPE] or [TYPE, {options}]");
  const ojson& type = decl[0];
  const ojson opt = decl.size() > 1 ? decl[1] : ojson::object();
  if (!opt.is_object()) bad(cls, "input '" + name + "': options must be an object");
  if (type.is_array()) {  // old-style combo: the list of choices
    s.type = "COMBO";
    s.options = choice_list(cls, name, type);
  } else if (type.is_string()) {
    s.type = type.get<std::string>();
    if (s.type == "COMBO") {
      s.combo_new_style = true;
      if (opt.contains("options")) {
        if (!opt["options"].is_array()) bad(cls, "input '" + name + "': 'options' must be a list");
        s.options = choice_list(cls, name, opt["options"]);
      }
    }
  } else {
    bad(cls, "input '" + name + "': the type must be a string or a list of choices");
  }
  read_options(s, opt);
  return s;
}

// Input names of one group, in input_order when the entry has it (and it names them all), else as listed.
std::vector<std::string> group_order(const ojson& info, const ojson& group, const char* key) {
  std::vector<std::string> names;
  for (auto it = group.begin(); it != group.end(); ++it) names.push_back(it.key());
  if (info.contains("input_order") && info["input_order"].is_object() && info["input_order"].contains(key)) {
    const ojson& ord = info["input_order"][key];
    std::vector<std::string> o;
    std::set<std::string> seen;
    if (ord.is_array())
      for (auto& n : ord)
        if (n.is_string() && group.contains(n.get<std::string>()) && seen.insert(n.get<std::string>()).second)
          o.push_back(n.get<std::string>());
    if (o.size() == names.size()) return o;
  }
  return names;
}

}  // namespace

NodeSchema schema_from_object_info(const std::string& cls, const ojson& info) {
  if (!info.is_object()) bad(cls, "the entry must be an object");
  NodeSchema s(cls);
  if (info.contains("display_name") && info["display_name"].is_string()) s.display_name = info["display_name"];
  if (info.contains("category") && info["category"].is_string()) s.category = info["category"];
  if (info.contains("description") && info["description"].is_string()) s.description = info["description"];
  if (info.contains("python_module") && info["python_module"].is_string()) s.python_module = info["python_module"];
  if (info.contains("output_node") && info["output_node"].is_boolean()) s.output_node = info["output_node"];
  if (info.contains("input") && !info["input"].is_null()) {
    const ojson& input = info["input"];
    if (!input.is_object()) bad(cls, "'input' must be an object");
    const std::pair<const char*, InputGroup> groups[] = {
        {"required", InputGroup::Required}, {"optional", InputGroup::Optional}, {"hidden", InputGroup::Hidden}};
    std::set<std::string> names;
    for (auto& [key, group] : groups) {
      if (!input.contains(key) || input[key].is_null()) continue;
      const ojson& g = input[key];
      if (!g.is_object()) bad(cls, std::string("'input.") + key + "' must be an object");
      for (auto& name : group_order(info, g, key)) {
        if (!names.insert(name).second) bad(cls, "input '" + name + "' is declared twice");
        s.inputs.push_back(read_input(cls, name, g[name], group));
      }
    }
  }
  if (info.contains("output") && !info["output"].is_null()) {
    const ojson& out = info["output"];
    if (!out.is_array()) bad(cls, "'output' must be a list");
    auto at = [&](const char* key, size_t i) -> const ojson* {
      if (!info.contains(key) || !info[key].is_array() || i >= info[key].size()) return nullptr;
      return &info[key][i];
    };
    for (size_t i = 0; i < out.size(); ++i) {
      OutputSpec o;
      // A combo output is listed as its list of choices.
      o.type = out[i].is_string() ? out[i].get<std::string>() : out[i].is_array() ? "COMBO" : "";
      if (o.type.empty()) bad(cls, "output " + std::to_string(i) + " must be a type name");
      if (auto* n = at("output_name", i); n && n->is_string()) o.name = n->get<std::string>();
      if (auto* l = at("output_is_list", i); l && l->is_boolean()) o.is_list = l->get<bool>();
      if (auto* t = at("output_tooltips", i); t && t->is_string()) o.tooltip = t->get<std::string>();
      s.outputs.push_back(std::move(o));
    }
  }
  return s;
}

size_t add_object_info_nodes(Registry& reg, const ojson& object_info) {
  if (!object_info.is_object()) throw Error("invalid_prompt", "object_info: expected an object of node entries");
  size_t added = 0;
  for (auto it = object_info.begin(); it != object_info.end(); ++it) {
    if (reg.find(it.key())) continue;
    NodeDef def{schema_from_object_info(it.key(), it.value()), [cls = it.key()](const NodeInputs&, ExecContext&) -> NodeOutput {
                  throw Error("execution_error", "node type " + cls + " is known from object_info only; comfy-native "
                                                 "does not implement it");
                }};
    reg.add(std::move(def));
    ++added;
  }
  return added;
}

}  // namespace comfy
