// validate_prompt (workflow-execution.md 7.1-7.6). Differences from ComfyUI, on purpose:
//  * every unknown class type is reported at once (ComfyUI stops at the first one);
//  * dependency cycles are detected explicitly (ComfyUI overflows Python's recursion limit);
//  * a link to a missing node / output is reported on the node that holds the link, with a clear text
//    (ComfyUI raises a bare KeyError / IndexError);
//  * the graph walk is iterative and memoised, so 100k-node chains validate without deep recursion.
#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include "comfy/graph/validate.hpp"

namespace comfy {

namespace {

using ojson = nlohmann::ordered_json;
using json = nlohmann::json;

json make_error(const std::string& type, const std::string& message, const std::string& details,
                json extra = json::object()) {
  return json{{"type", type}, {"message", message}, {"details", details}, {"extra_info", std::move(extra)}};
}

ValidationResult fail_prompt(ValidationResult r, json error) {
  r.ok = false;
  r.error = std::move(error);
  r.node_errors = json::object();
  return r;
}

bool is_scalar_type(const std::string& t) { return t == "INT" || t == "FLOAT" || t == "STRING" || t == "BOOLEAN"; }

std::string int_text(Int v) { return int_to_string(v); }

Value to_value(const ojson& v) {
  switch (v.type()) {
    case ojson::value_t::boolean: return Value(v.get<bool>());
    case ojson::value_t::number_integer: return Value(Int(v.get<int64_t>()));
    case ojson::value_t::number_unsigned: return Value(Int(v.get<uint64_t>()));
    case ojson::value_t::number_float: return Value(v.get<double>());
    case ojson::value_t::string: return Value(v.get<std::string>());
    default: return Value();
  }
}

struct NodeState {
  std::string id;
  ojson* node = nullptr;  // into the prompt (ordered_json lookups by key are linear)
  const NodeDef* def = nullptr;
  bool computed = false;
  json errors = json::array();
  std::vector<size_t> deps;
  int state = 0;  // 0 unvisited, 1 on the DFS stack, 2 done
  bool ok = false;
  bool in_cycle = false;
  bool listed = false;  // in failed_with_errors
};

class Validator {
 public:
  Validator(Prompt& prompt, const Registry& reg, const RuntimeConfig& cfg) : prompt_(prompt), reg_(reg), cfg_(cfg) {}

  ValidationResult run(const std::vector<std::string>& partial) {
    ValidationResult res;
    if (!prompt_.is_object())
      return fail_prompt(res, make_error("invalid_prompt", "Cannot execute because the prompt is not an object.", ""));
    // Pass 1: class types (every node, even those no output needs).
    std::vector<std::pair<std::string, std::string>> unknown;
    std::vector<std::string> outputs;
    const std::set<std::string> partial_set(partial.begin(), partial.end());
    nodes_.reserve(prompt_.size());
    for (auto& [id, node] : prompt_.items()) {
      ++steps_;
      if (!node.is_object() || !node.contains("class_type") || !node["class_type"].is_string())
        return fail_prompt(res, make_error("invalid_prompt",
                                           "Cannot execute because a node is missing the class_type property.",
                                           "Node ID '#" + id + "'"));
      std::string ct = node["class_type"].get<std::string>();
      const NodeDef* def = reg_.find(ct);
      index_.emplace(id, nodes_.size());
      nodes_.push_back(NodeState{id, &node, def});
      if (!def) {
        unknown.emplace_back(id, ct);
        continue;
      }
      if (def->schema.output_node && (partial.empty() || partial_set.count(id)))
        outputs.push_back(id);
    }
    if (!unknown.empty()) return fail_prompt(res, unknown_types_error(unknown));
    if (outputs.empty()) return fail_prompt(res, make_error("prompt_no_outputs", "Prompt has no outputs", ""));
    for (auto& o : outputs) targets_.emplace(o);

    std::vector<std::pair<std::string, json>> failed;
    for (auto& o : outputs) {
      size_t oi = index_.at(o);
      std::vector<std::string> cycle = visit(oi);
      NodeState& on = nodes_[oi];
      if (!cycle.empty()) {
        std::string text = "Dependency cycle detected: ";
        for (size_t i = 0; i < cycle.size(); ++i) text += (i ? " -> " : "") + cycle[i];
        on.errors.push_back(make_error("exception_during_validation", "Exception when validating node", text,
                                       json{{"exception_type", "graph.DependencyCycleError"},
                                            {"exception_message", text},
                                            {"cycle", cycle},
                                            {"traceback", json::array()}}));
        on.ok = false;
        if (!on.listed) {
          on.listed = true;
          failed_with_errors_.push_back(oi);
        }
      }
      if (on.ok) {
        res.outputs.push_back(o);
        continue;
      }
      failed.emplace_back(o, on.errors);
      // As ComfyUI: every failed node with errors validated so far lists this output as dependent
      // (work proportional to the size of the node_errors it writes).
      for (size_t fi : failed_with_errors_) {
        ++steps_;
        NodeState& f = nodes_[fi];
        if (!res.node_errors.contains(f.id))
          res.node_errors[f.id] = json{{"errors", f.errors},
                                       {"dependent_outputs", json::array()},
                                       {"class_type", (*f.node)["class_type"]}};
        res.node_errors[f.id]["dependent_outputs"].push_back(o);
      }
    }
    res.warnings = std::move(warnings_);
    res.work_steps = steps_;
    if (res.outputs.empty()) {
      std::string details;
      for (auto& [o, errs] : failed)
        for (auto& e : errs) {
          if (!details.empty()) details += "\n";
          details += e["message"].get<std::string>() + ": " + e["details"].get<std::string>();
        }
      res.ok = false;
      res.error = make_error("prompt_outputs_failed_validation", "Prompt outputs failed validation", details);
      return res;
    }
    res.ok = true;
    return res;
  }

 private:
  json unknown_types_error(const std::vector<std::pair<std::string, std::string>>& unknown) {
    std::vector<std::string> types;
    json nodes = json::object();
    for (auto& [id, ct] : unknown) {
      if (std::find(types.begin(), types.end(), ct) == types.end()) types.push_back(ct);
      nodes[id] = ct;
    }
    std::sort(types.begin(), types.end());
    std::string msg, details;
    if (types.size() == 1) {
      msg = "Cannot execute because node " + types[0] + " does not exist.";
    } else {
      msg = "Cannot execute because nodes ";
      for (size_t i = 0; i < types.size(); ++i) msg += (i ? ", " : "") + types[i];
      msg += " do not exist.";
    }
    details = unknown.size() == 1 ? "Node ID '#" + unknown[0].first + "'" : "Node IDs ";
    if (unknown.size() > 1)
      for (size_t i = 0; i < unknown.size(); ++i)
        details += (i ? ", '#" : "'#") + unknown[i].first + "' (" + unknown[i].second + ")";
    return make_error("invalid_prompt", msg, details, json{{"unknown_class_types", types}, {"nodes", nodes}});
  }

  const std::vector<std::string>& choices_of(const NodeDef* def, const InputSpec& spec) {
    auto key = def->schema.class_type + "\n" + spec.name;
    auto it = choices_.find(key);
    if (it == choices_.end()) it = choices_.emplace(key, spec.choices(cfg_)).first;
    return it->second;
  }

  // An input's object_info entry for error reports, made once per input (file combos list folders).
  const json& input_config(const InputSpec& spec) {
    auto it = input_configs_.find(&spec);
    if (it == input_configs_.end()) it = input_configs_.emplace(&spec, spec.to_object_info(cfg_)).first;
    return it->second;
  }

  void own(size_t ni) {
    NodeState& st = nodes_[ni];
    if (st.computed) return;
    st.computed = true;
    const NodeDef* def = st.def;
    ojson& node = *st.node;
    if (!node.contains("inputs")) node["inputs"] = ojson::object();
    ojson& inputs = node["inputs"];
    bool is_target = targets_.count(st.id) > 0;
    if (!inputs.is_object()) {
      st.errors.push_back(exception_error(is_target, "'inputs' of node '" + st.id + "' is not an object", "", nullptr,
                                          "TypeError"));
      return;
    }
    auto has_validate = [&](const std::string& n) {
      return def->validate && std::find(def->validate_inputs.begin(), def->validate_inputs.end(), n) !=
                                  def->validate_inputs.end();
    };
    steps_ += inputs.size();
    for (auto g : {InputGroup::Required, InputGroup::Optional}) {
      for (const InputSpec& spec : def->schema.inputs) {
        ++steps_;
        if (spec.group != g) continue;
        const std::string& name = spec.name;
        if (!inputs.contains(name)) {
          if (g == InputGroup::Required)
            st.errors.push_back(make_error("required_input_missing", "Required input is missing", name,
                                           json{{"input_name", name}}));
          continue;
        }
        ojson& val = inputs[name];
        if (val.is_array()) {
          check_link(st, spec, val, is_target, has_validate(name));
          continue;
        }
        if (val.is_object() && val.contains("__value__")) {
          ojson inner = val["__value__"];
          // An array stays wrapped: bare, the executor would read it as a link.
          if (!inner.is_array()) val = inner;
          if (inner.is_array()) continue;
        }
        Coerced c;
        if (is_scalar_type(spec.type)) {
          c = coerce_constant(val, spec.type, &spec);
          if (!c.ok) {
            std::string details = name + ", " + py_str(val) + ", " + c.error;
            st.errors.push_back(make_error("invalid_input_type",
                                           "Failed to convert an input value to a " + spec.type + " value", details,
                                           json{{"input_name", name},
                                                {"input_config", input_config(spec)},
                                                {"received_value", val},
                                                {"exception_message", c.error}}));
            continue;
          }
          if (!c.warning.empty()) warnings_.push_back("node " + st.id + " (" + def->schema.class_type + "), input '" +
                                                      name + "': " + c.warning);
          val = c.value;
        }
        if (has_validate(name)) continue;
        auto range_error = [&](const char* type, const std::string& v, const std::string& bound, bool smaller) {
          st.errors.push_back(make_error(type, "Value " + v + (smaller ? " smaller than min of " : " bigger than max of ") + bound,
                                         name,
                                         json{{"input_name", name},
                                              {"input_config", input_config(spec)},
                                              {"received_value", val}}));
        };
        if (spec.type == "INT") {
          if (c.big_sign > 0 && spec.int_max) { range_error("value_bigger_than_max", py_str(val), int_text(*spec.int_max), false); continue; }
          if (c.big_sign < 0 && spec.int_min) { range_error("value_smaller_than_min", py_str(val), int_text(*spec.int_min), true); continue; }
          if (c.int_value) {
            if (spec.int_min && *c.int_value < *spec.int_min) { range_error("value_smaller_than_min", int_text(*c.int_value), int_text(*spec.int_min), true); continue; }
            if (spec.int_max && *c.int_value > *spec.int_max) { range_error("value_bigger_than_max", int_text(*c.int_value), int_text(*spec.int_max), false); continue; }
          }
        } else if (spec.type == "FLOAT" && val.is_number()) {
          double d = val.get<double>();
          if (spec.float_min && d < *spec.float_min) { range_error("value_smaller_than_min", py_float_repr(d), py_float_repr(*spec.float_min), true); continue; }
          if (spec.float_max && d > *spec.float_max) { range_error("value_bigger_than_max", py_float_repr(d), py_float_repr(*spec.float_max), false); continue; }
        }
        if (spec.is_combo()) {
          const auto& ch = choices_of(def, spec);
          bool found = val.is_string() && std::find(ch.begin(), ch.end(), val.get<std::string>()) != ch.end();
          if (!found) {
            std::string list;
            if (ch.size() > 20) {
              list = "(list of length " + std::to_string(ch.size()) + ")";
            } else {
              list = "[";
              for (size_t i = 0; i < ch.size(); ++i) list += (i ? ", " : "") + py_repr(ojson(ch[i]));
              list += "]";
            }
            st.errors.push_back(make_error("value_not_in_list", "Value not in list",
                                           name + ": '" + py_str(val) + "' not in " + list,
                                           json{{"input_name", name},
                                                {"input_config", ch.size() > 20 ? json(nullptr) : input_config(spec)},
                                                {"received_value", val}}));
          }
        }
      }
    }
    // VALIDATE_INPUTS: constants only; linked inputs arrive as None.
    if (def->validate) {
      for (auto& name : def->validate_inputs) {
        if (!inputs.contains(name)) continue;
        const ojson& v = inputs[name];
        Value arg = v.is_array() ? Value() : to_value(v);
        std::string msg;
        try {
          msg = def->validate(name, arg, cfg_);
        } catch (const std::exception& e) {
          msg = error_text(e);
        }
        if (!msg.empty())
          st.errors.push_back(make_error("custom_validation_failed", "Custom validation failed for node",
                                         name + " - " + msg, json{{"input_name", name}}));
      }
    }
  }

  json exception_error(bool is_target, const std::string& text, const std::string& input, const ojson* link,
                       const std::string& exc_type, const InputSpec* spec = nullptr) {
    if (is_target)
      return make_error("exception_during_validation", "Exception when validating node", text,
                        json{{"exception_type", exc_type}, {"traceback", json::array()}});
    return make_error("exception_during_inner_validation", "Exception when validating inner node", text,
                      json{{"input_name", input},
                           {"input_config", spec ? input_config(*spec) : json(nullptr)},
                           {"exception_message", text},
                           {"exception_type", exc_type},
                           {"traceback", json::array()},
                           {"linked_node", link ? json(*link) : json(nullptr)}});
  }

  void check_link(NodeState& st, const InputSpec& spec, ojson& val, bool is_target, bool custom_types) {
    const std::string& name = spec.name;
    auto bad = [&]() {
      st.errors.push_back(make_error("bad_linked_input",
                                     "Bad linked input, must be a length-2 list of [node_id, slot_index]", name,
                                     json{{"input_name", name},
                                          {"input_config", input_config(spec)},
                                          {"received_value", val}}));
    };
    if (val.size() != 2) return bad();
    std::string src_id;
    if (val[0].is_string()) {
      src_id = val[0].get<std::string>();
    } else if (val[0].is_number_integer()) {
      src_id = val[0].dump();
      warnings_.push_back("node " + st.id + ", input '" + name + "': numeric node id " + src_id +
                          " in a link read as \"" + src_id + "\"");
    } else {
      return bad();
    }
    int64_t slot = 0;
    if (val[1].is_number_integer()) {
      slot = val[1].get<int64_t>();
    } else if (val[1].is_number_float() && val[1].get<double>() == double(int64_t(val[1].get<double>()))) {
      slot = int64_t(val[1].get<double>());
    } else {
      return bad();
    }
    val = ojson::array({src_id, slot});
    auto it = index_.find(src_id);
    if (it == index_.end()) {
      st.errors.push_back(exception_error(is_target,
                                          "linked node '" + src_id + "' (input '" + name + "') does not exist in the prompt",
                                          name, &val, "KeyError", &spec));
      return;
    }
    const NodeDef* src = nodes_[it->second].def;
    const auto& outs = src->schema.outputs;
    if (slot < 0 || size_t(slot) >= outs.size()) {
      st.errors.push_back(exception_error(
          is_target,
          "linked node '" + src_id + "' (" + src->schema.class_type + ", input '" + name + "') has no output " +
              std::to_string(slot) + "; it has " + std::to_string(outs.size()) + " output(s)",
          name, &val, "IndexError", &spec));
      return;
    }
    const std::string& rtype = outs[size_t(slot)].type;
    bool choice_list = spec.is_combo() && !spec.combo_new_style;
    std::string etype = spec.is_combo() && !spec.combo_new_style ? "COMBO" : spec.type;
    if (!custom_types && !types_match(rtype, etype, choice_list)) {
      std::string shown = etype;
      if (choice_list) {
        ojson ch = ojson::array();
        for (auto& c : choices_of(st.def, spec)) ch.push_back(c);
        shown = py_repr(ch);
      }
      st.errors.push_back(make_error("return_type_mismatch", "Return type mismatch between linked nodes",
                                     name + ", received_type(" + rtype + ") mismatch input_type(" + shown + ")",
                                     json{{"input_name", name},
                                          {"input_config", input_config(spec)},
                                          {"received_type", rtype},
                                          {"linked_node", val}}));
      return;
    }
    st.deps.push_back(it->second);
  }

  // Iterative DFS from an output; returns the first dependency cycle met (ids, closed), else empty.
  std::vector<std::string> visit(size_t root) {
    std::vector<std::string> cycle;
    if (nodes_[root].state == 2) return cycle;
    std::vector<std::pair<size_t, size_t>> stack;
    std::unordered_map<size_t, size_t> pos;
    own(root);
    nodes_[root].state = 1;
    pos[root] = 0;
    stack.push_back({root, 0});
    while (!stack.empty()) {
      ++steps_;
      size_t n = stack.back().first;
      size_t k = stack.back().second;
      if (k < nodes_[n].deps.size()) {
        ++stack.back().second;
        size_t d = nodes_[n].deps[k];
        if (nodes_[d].state == 2) continue;
        if (nodes_[d].state == 1) {
          size_t p = pos.at(d);
          for (size_t q = p; q < stack.size(); ++q) nodes_[stack[q].first].in_cycle = true;
          if (cycle.empty()) {
            for (size_t q = p; q < stack.size(); ++q) cycle.push_back(nodes_[stack[q].first].id);
            cycle.push_back(nodes_[d].id);
          }
          continue;
        }
        own(d);
        nodes_[d].state = 1;
        pos[d] = stack.size();
        stack.push_back({d, 0});
        continue;
      }
      NodeState& st = nodes_[n];
      bool ok = st.errors.empty() && !st.in_cycle;
      steps_ += st.deps.size();
      for (size_t d : st.deps) ok = ok && nodes_[d].state == 2 && nodes_[d].ok;
      st.ok = ok;
      st.state = 2;
      if (!ok && !st.errors.empty() && !st.listed) {
        st.listed = true;
        failed_with_errors_.push_back(n);
      }
      pos.erase(n);
      stack.pop_back();
    }
    return cycle;
  }

  Prompt& prompt_;
  const Registry& reg_;
  const RuntimeConfig& cfg_;
  std::vector<NodeState> nodes_;
  std::unordered_map<std::string, size_t> index_;
  std::set<std::string> targets_;
  std::vector<size_t> failed_with_errors_;
  std::map<std::string, std::vector<std::string>> choices_;
  std::unordered_map<const InputSpec*, json> input_configs_;
  std::vector<std::string> warnings_;
  uint64_t steps_ = 0;
};

}  // namespace

ValidationResult validate_prompt(Prompt& prompt, const Registry& reg, const RuntimeConfig& cfg,
                                 const std::vector<std::string>& partial_targets) {
  // File combos (ckpt_name, lora_name, ...) list the folders of this run's configuration (cfg).
  return Validator(prompt, reg, cfg).run(partial_targets);
}

ValidationResult validate_prompt(Prompt& prompt, const Registry& reg, const RuntimeConfig& cfg) {
  return validate_prompt(prompt, reg, cfg, {});
}

json ValidationResult::to_json() const {
  return json{{"error", error}, {"node_errors", node_errors}};
}

std::string ValidationResult::describe() const {
  std::string out;
  auto line = [&](const std::string& s) { out += s + "\n"; };
  if (!error.is_null() && error.is_object()) {
    std::string type = error.value("type", "");
    if (type == "invalid_prompt" && error["extra_info"].contains("nodes")) {
      for (auto& [id, ct] : error["extra_info"]["nodes"].items())
        line("node " + id + " (" + ct.get<std::string>() + "): node type does not exist (not supported by comfy-native)");
    } else if (node_errors.empty() || type != "prompt_outputs_failed_validation") {
      std::string d = error.value("details", "");
      line(error.value("message", "") + (d.empty() ? "" : " [" + d + "]"));
    }
  }
  for (auto& [id, ne] : node_errors.items()) {
    std::string ct = ne.value("class_type", "");
    for (auto& e : ne["errors"]) {
      std::string s = "node " + id + " (" + ct + ")";
      const auto& ex = e["extra_info"];
      if (ex.is_object() && ex.contains("input_name") && ex["input_name"].is_string())
        s += ", input '" + ex["input_name"].get<std::string>() + "'";
      s += ": " + e.value("message", "");
      std::string d = e.value("details", "");
      if (!d.empty()) s += ": " + d;
      line(s);
    }
  }
  return out;
}

}  // namespace comfy
