// UI workflow -> API prompt, the way the frontend's graphToPrompt does it (workflow.md section 3):
// subgraph and legacy group instances are flattened, virtual nodes (Reroute, PrimitiveNode, notes)
// resolved through, muted nodes dropped, bypassed nodes spliced out.
#include <algorithm>
#include <deque>
#include <functional>
#include <set>
#include <unordered_set>

#include "comfy/graph/workflow.hpp"
#include "serialize_value.hpp"
#include "ui_graph.hpp"

namespace comfy {

namespace {

using ojson = nlohmann::ordered_json;
using namespace ui;

constexpr int kMaxSubgraphNesting = 16;
constexpr size_t kMaxFlatNodes = 1000000;
// Flattening visits at most this many nodes per node or link of the file (plus a constant): nested
// subgraphs / group nodes may repeat a definition, but a small file never expands into a huge graph.
constexpr size_t kExpansionPerInputElement = 64;
constexpr size_t kExpansionConstant = 4096;

bool is_frontend_only(const std::string& t) {
  return t == "Note" || t == "MarkdownNote" || t == "Reroute" || t == "PrimitiveNode";
}

std::vector<std::string> split_types(const std::string& s) {
  std::vector<std::string> out;
  size_t b = 0;
  while (true) {
    size_t e = s.find(',', b);
    std::string t = s.substr(b, e == std::string::npos ? std::string::npos : e - b);
    t.erase(0, t.find_first_not_of(" \t"));
    t.erase(t.find_last_not_of(" \t") + 1);
    std::transform(t.begin(), t.end(), t.begin(), ::tolower);
    out.push_back(t);
    if (e == std::string::npos) break;
    b = e + 1;
  }
  return out;
}

// The editor's connection test (case-insensitive, comma-separated unions).
bool compatible(const std::string& a, const std::string& b) {
  if (a.empty() || b.empty() || a == "*" || b == "*" || a == b) return true;
  auto A = split_types(a), B = split_types(b);
  for (auto& x : A)
    for (auto& y : B)
      if (x == y) return true;
  return false;
}

struct Scope {
  const Scope* parent = nullptr;
  const Graph* graph = nullptr;
  std::string prefix;            // "" at the root, "83:" inside instance 83
  const Node* instance = nullptr;  // the instance node, in the parent scope
  int depth = 0;
  std::string definition;        // the subgraph / group type this scope expands ("" at the root)
};

struct Resolved {
  enum Kind { Nothing, Link, Value } kind = Nothing;
  std::string id;
  int64_t slot = 0;
  ojson value;
};

bool integer_like_key(const std::string& k) {
  if (k.empty() || k.size() > 10 || (k.size() > 1 && k[0] == '0')) return false;
  for (char c : k)
    if (c < '0' || c > '9') return false;
  return std::stoull(k) < 4294967295ull;
}

class Converter {
 public:
  Converter(const ojson& ui, const Registry& reg, const ConvertOptions& opt, std::vector<std::string>* warnings)
      : ui_(ui), reg_(reg), opt_(opt), warnings_(warnings) {}

  Prompt run() {
    if (!ui_.is_object()) shape_error("top level", "expected an object, found " + json_kind(ui_));
    collect_definitions(ui_, 0);
    if (ui_.contains("extra") && ui_["extra"].is_object() && ui_["extra"].contains("groupNodes") &&
        ui_["extra"]["groupNodes"].is_object()) {
      group_defs_ = &ui_["extra"]["groupNodes"];
      for (auto& d : *group_defs_) input_size_ += element_count(d);
    }
    input_size_ += element_count(ui_);
    expansion_budget_ = std::min(kMaxFlatNodes, kExpansionPerInputElement * input_size_ + kExpansionConstant);
    root_ = parse_graph(ui_, false, "root graph", warnings_);
    scopes_.push_back(Scope{nullptr, &root_, "", nullptr, 0, ""});
    flatten(scopes_.back());

    std::vector<std::pair<std::string, ojson>> entries;
    for (auto& e : order_) entries.emplace_back(e.exec_id, emit(*e.scope, *e.node));
    Prompt out = ojson::object();
    // JavaScript object key order: integer-like keys ascending, then the rest in insertion order.
    std::vector<size_t> ints, rest;
    for (size_t i = 0; i < entries.size(); ++i) (integer_like_key(entries[i].first) ? ints : rest).push_back(i);
    std::stable_sort(ints.begin(), ints.end(),
                     [&](size_t a, size_t b) { return std::stoull(entries[a].first) < std::stoull(entries[b].first); });
    // Appended to the ordered_map's vector directly: its keyed insert is a linear search.
    auto& vec = static_cast<std::vector<std::pair<const std::string, ojson>>&>(*out.get_ptr<ojson::object_t*>());
    std::set<std::string> ids;
    for (auto v : {&ints, &rest})
      for (size_t i : *v)
        if (ids.insert(entries[i].first).second) vec.emplace_back(entries[i].first, std::move(entries[i].second));
        else warn("duplicate node id " + entries[i].first + " ignored");
    apply_prefix_patterns(out);
    // Step 5 of 3.1: links to nodes that were not emitted (muted sources) are removed.
    for (auto& [id, node] : out.items()) {
      auto& inputs = node["inputs"];
      std::vector<std::string> drop;
      for (auto& [name, v] : inputs.items()) {
        step();
        if (is_link(v) && v[0].is_string() && !ids.count(v[0].get<std::string>())) drop.push_back(name);
      }
      for (auto& n : drop) inputs.erase(n);
    }
    return out;
  }

 private:
  struct Emit {
    std::string exec_id;
    const Node* node;
    const Scope* scope;
  };

  void warn(std::string s) {
    if (warnings_) warnings_->push_back(std::move(s));
  }

  // One unit of work (ConvertOptions::work_steps: tests bound the total by the input size).
  void step(uint64_t n = 1) {
    if (opt_.work_steps) *opt_.work_steps += n;
  }

  // Nodes + links of a graph-shaped object (root, subgraph definition, group node definition).
  static size_t element_count(const ojson& g) {
    size_t n = 1;
    if (!g.is_object()) return n;
    for (const char* k : {"nodes", "links"})
      if (g.contains(k) && g[k].is_array()) n += g[k].size();
    return n;
  }

  void collect_definitions(const ojson& holder, int depth) {
    if (depth > kMaxSubgraphNesting || !holder.contains("definitions")) return;
    const auto& defs = holder["definitions"];
    if (!defs.is_object() || !defs.contains("subgraphs")) return;
    const auto& sgs = defs["subgraphs"];
    if (!sgs.is_array()) shape_error("definitions", "'subgraphs' must be a list, found " + json_kind(sgs));
    for (auto& d : sgs) {
      if (!d.is_object() || !d.contains("id") || !d["id"].is_string()) continue;
      def_json_.emplace(d["id"].get<std::string>(), &d);
      input_size_ += element_count(d);
      collect_definitions(d, depth + 1);
    }
  }

  const Graph* subgraph_def(const std::string& type) {
    auto it = def_json_.find(type);
    if (it == def_json_.end()) return nullptr;
    auto p = parsed_defs_.find(type);
    if (p != parsed_defs_.end()) return p->second.get();
    const ojson& d = *it->second;
    std::string name = d.contains("name") && d["name"].is_string() ? d["name"].get<std::string>() : type;
    auto g = std::make_unique<Graph>(parse_subgraph_definition(d, "subgraph '" + name + "'", warnings_));
    return (parsed_defs_[type] = std::move(g)).get();
  }

  const ojson* group_def(const std::string& type) {
    if (!group_defs_) return nullptr;
    for (const char* pre : {"workflow>", "workflow/"}) {
      if (type.rfind(pre, 0) == 0) {
        std::string name = type.substr(std::string(pre).size());
        if (group_defs_->contains(name)) return &(*group_defs_)[name];
      }
    }
    return nullptr;
  }

  // Order of the frontend's computeExecutionOrder (3.10): Kahn's algorithm over the node list.
  std::vector<const Node*> execution_order(const Graph& g) {
    std::unordered_map<std::string, int> pending;
    std::unordered_map<std::string, std::vector<std::string>> out_targets;
    for (auto& n : g.nodes) {
      int c = 0;
      step();
      for (auto& in : n.inputs) {
        step();
        if (!in.link) continue;
        auto it = g.links.find(*in.link);
        if (it == g.links.end() || !g.node(it->second.origin_id)) continue;
        ++c;
        out_targets[it->second.origin_id].push_back(n.id);
      }
      pending[n.id] += c;
    }
    std::deque<const Node*> ready;
    for (auto& n : g.nodes)
      if (pending[n.id] == 0) ready.push_back(&n);
    std::vector<const Node*> order;
    std::set<std::string> done;
    while (!ready.empty()) {
      const Node* n = ready.front();
      ready.pop_front();
      if (!done.insert(n->id).second) continue;
      order.push_back(n);
      for (auto& t : out_targets[n->id])
        if (step(), --pending[t] == 0)
          if (const Node* tn = g.node(t)) ready.push_back(tn);
    }
    for (auto& n : g.nodes)
      if (!done.count(n.id)) order.push_back(&n);  // cycles: appended at the end
    return order;
  }

  // Counts a node or instance that flattening visits against the expansion budget.
  void expand(const Scope& s, const Node& n) {
    step();
    if (++expanded_ > expansion_budget_)
      shape_error("node " + s.prefix + n.id, "the graph expands to more than " + std::to_string(expansion_budget_) +
                                                 " nodes through nested subgraphs / group nodes (file: " +
                                                 std::to_string(input_size_) + " nodes and links)");
  }

  void flatten(const Scope& s) {
    for (const Node* n : execution_order(*s.graph)) {
      expand(s, *n);
      if (n->mode == 2 || n->mode == 4) continue;
      const Graph* child = nullptr;
      const ojson* gdef = nullptr;
      if ((child = subgraph_def(n->type)) || (gdef = group_def(n->type))) {
        // A definition inside itself (directly or through others) is a cycle, not a deep nesting.
        for (const Scope* p = &s; p; p = p->parent)
          if (p->definition == n->type)
            shape_error("node " + s.prefix + n->id, "circular reference: subgraph / group node '" + n->type +
                                                        "' contains itself");
        if (s.depth >= kMaxSubgraphNesting)
          shape_error("node " + s.prefix + n->id, "subgraphs nested deeper than " +
                                                      std::to_string(kMaxSubgraphNesting) + " levels (recursive definition?)");
        if (gdef) {
          group_graphs_.push_back(build_group_graph(*gdef, *n, reg_, "group node " + s.prefix + n->id + " (" + n->type + ")",
                                                    warnings_));
          child = &group_graphs_.back();
        }
        scopes_.push_back(Scope{&s, child, s.prefix + n->id + ":", n, s.depth + 1, n->type});
        child_scope_[s.prefix + n->id] = &scopes_.back();
        flatten(scopes_.back());
        continue;
      }
      if (is_frontend_only(n->type)) continue;
      if (order_.size() >= kMaxFlatNodes) shape_error("graph", "more than " + std::to_string(kMaxFlatNodes) + " nodes");
      order_.push_back(Emit{s.prefix + n->id, n, &s});
    }
  }

  const Link* find_link(const Graph& g, std::optional<int64_t> id) {
    if (!id) return nullptr;
    auto it = g.links.find(*id);
    return it == g.links.end() ? nullptr : &it->second;
  }

  // 3.5: which input of a bypassed node stands in for output `slot`.
  static int bypass_choice(const Node& src, int64_t slot, const std::string& wanted) {
    const auto& ins = src.inputs;
    if (ins.empty()) return -1;
    std::string out_type = (slot >= 0 && size_t(slot) < src.outputs.size()) ? src.outputs[size_t(slot)].type : "";
    bool in_range = slot >= 0 && size_t(slot) < ins.size();
    if (wanted.empty() || wanted == "*") return in_range ? int(slot) : 0;
    if (in_range && compatible(ins[size_t(slot)].type, out_type) && compatible(ins[size_t(slot)].type, wanted))
      return int(slot);
    for (size_t i = 0; i < ins.size(); ++i)
      if (ins[i].type == wanted) return int(i);
    for (size_t i = 0; i < ins.size(); ++i)
      if (compatible(ins[i].type, out_type) && compatible(ins[i].type, wanted)) return int(i);
    return -1;
  }

  // What resolving one (scope, origin, slot, wanted) state gave: the result and the warnings to repeat
  // for every consumer that reaches it.
  struct Memo {
    Resolved result;
    std::string missing_node;      // "link from missing node" (named per consumer)
    std::string promoted_warning;  // "no promoted widget value"
  };

  static std::string state_key(const Scope* s, const std::string& origin, int64_t slot, const std::string& wanted) {
    return std::to_string(reinterpret_cast<uintptr_t>(s)) + '\x1f' + origin + '\x1f' + std::to_string(slot) +
           '\x1f' + wanted;
  }

  // 3.3: follow an output through bypasses, reroutes, instances and subgraph inputs (iteratively).
  // Every state a walk passes is memoised with the walk's result, so each is followed once per
  // conversion; a walk that meets its own state again is a cycle.
  Resolved resolve_output(const Scope* s, std::string origin, int64_t slot, const std::string& wanted,
                          const std::string& consumer) {
    std::vector<std::string> path;
    std::unordered_set<std::string> on_path;
    Memo m;
    while (true) {
      step();
      std::string key = state_key(s, origin, slot, wanted);
      if (auto hit = resolved_.find(key); hit != resolved_.end()) {
        m = hit->second;
        break;
      }
      if (!on_path.insert(key).second)
        shape_error("input of node " + consumer, "circular reference through reroute / bypassed nodes");
      path.push_back(std::move(key));
      if (!follow(s, origin, slot, wanted, m)) break;
    }
    for (auto& k : path) resolved_.emplace(std::move(k), m);
    if (!m.missing_node.empty()) warn("node " + consumer + ": link from missing node " + m.missing_node + " ignored");
    if (!m.promoted_warning.empty()) warn(m.promoted_warning);
    return m.result;
  }

  // One hop of 3.3: moves (s, origin, slot) to the next state and returns true, or stores the result
  // in `m` and returns false.
  bool follow(const Scope*& s, std::string& origin, int64_t& slot, const std::string& wanted, Memo& m) {
    const Graph& g = *s->graph;
    auto move_to = [&](const Link& l) {
      origin = l.origin_id;
      slot = l.origin_slot;
      return true;
    };
    if (origin == "-10" && s->instance) {
      const Node& inst = *s->instance;
      const Input* sock = nullptr;
      if (g.inputs_by_position) {
        if (slot >= 0 && size_t(slot) < inst.inputs.size()) sock = &inst.inputs[size_t(slot)];
      } else if (slot >= 0 && size_t(slot) < g.inputs.size()) {
        for (auto& in : inst.inputs) {
          step();
          if (in.name == g.inputs[size_t(slot)].name) sock = &in;
        }
      }
      if (sock && sock->link) {
        if (const Link* l = find_link(*s->parent->graph, sock->link)) {
          s = s->parent;
          return move_to(*l);
        }
      }
      auto pw = g.promoted_widget_index.find(slot);
      if (pw != g.promoted_widget_index.end()) {
        if (inst.widgets_values.is_array() && pw->second < inst.widgets_values.size()) {
          m.result = {Resolved::Value, "", 0, inst.widgets_values[pw->second]};
          return false;
        }
        m.promoted_warning = "subgraph instance " + s->prefix.substr(0, s->prefix.size() - 1) +
                             ": no promoted widget value for input " + std::to_string(slot) + "; the inner value is used";
      }
      return false;
    }
    const Node* src = g.node(origin);
    if (!src) {
      if (origin != "-10") m.missing_node = s->prefix + origin;
      return false;
    }
    if (src->mode == 4) {
      int i = bypass_choice(*src, slot, wanted);
      step(src->inputs.size());
      const Link* l = i < 0 ? nullptr : find_link(g, src->inputs[size_t(i)].link);
      return l && move_to(*l);
    }
    if (src->mode != 2) {
      auto cs = child_scope_.find(s->prefix + src->id);
      if (cs != child_scope_.end()) {
        auto om = cs->second->graph->output_map.find(slot);
        if (om == cs->second->graph->output_map.end()) return false;
        s = cs->second;
        origin = om->second.first;
        slot = om->second.second;
        return true;
      }
    }
    if (src->type == "Reroute") {
      const Link* l = src->inputs.empty() ? nullptr : find_link(g, src->inputs[0].link);
      return l && move_to(*l);
    }
    if (src->type == "PrimitiveNode") {
      if (!src->widgets_values.is_array() || src->widgets_values.empty()) return false;
      ojson v = src->widgets_values[0];
      if (v.is_string() && src->properties.contains("Run widget replace on values") &&
          src->properties["Run widget replace on values"] == true)
        v = replace_prefix_patterns(v.get<std::string>(), lookup_);
      m.result = {Resolved::Value, "", 0, std::move(v)};
      return false;
    }
    if (src->type == "Note" || src->type == "MarkdownNote") return false;
    m.result = {Resolved::Link, s->prefix + src->id, slot, nullptr};
    return false;
  }

  // Widget values by schema position (3.2).
  std::vector<ojson> widget_values(const Node& n, const NodeSchema& schema, const std::vector<WidgetSlot>& layout,
                                   const std::string& exec_id) {
    std::vector<ojson> out(layout.size());
    const ojson& wv = n.widgets_values;
    if (wv.is_object()) {
      for (size_t k = 0; k < layout.size(); ++k)
        if (layout[k].kind == WidgetSlot::Value)
          out[k] = wv.contains(layout[k].name) ? wv[layout[k].name] : widget_default(*layout[k].spec);
      return out;
    }
    std::vector<ojson> vals;
    if (wv.is_array()) vals.assign(wv.begin(), wv.end());
    else if (!wv.is_null()) warn("node " + exec_id + ": widgets_values is " + json_kind(wv) + "; defaults used");
    // forceInput migration: values saved by frontends that still had widgets for forceInput inputs.
    bool any_force = std::any_of(schema.inputs.begin(), schema.inputs.end(), [](const InputSpec& i) { return i.force_input; });
    if (any_force) {
      auto full = widget_layout(schema, n.widgets_values, true);
      if (vals.size() == full.size() && full.size() != layout.size()) {
        std::vector<ojson> kept;
        for (size_t k = 0; k < full.size(); ++k)
          if (!(full[k].spec && full[k].spec->force_input)) kept.push_back(vals[k]);
        vals = std::move(kept);
      }
    }
    for (size_t k = 0; k < layout.size(); ++k)
      out[k] = k < vals.size() ? vals[k] : (layout[k].kind == WidgetSlot::Value ? widget_default(*layout[k].spec) : ojson());
    if (vals.size() > layout.size())
      warn("node " + exec_id + " (" + n.type + "): " + std::to_string(vals.size() - layout.size()) +
           " surplus widget value(s) ignored");
    return out;
  }

  ojson serialize(const ojson& v, const InputSpec* spec, const std::string& exec_id) {
    if (spec && spec->dynamic_prompts && v.is_string()) {
      std::string in = v.get<std::string>();
      std::string out = apply_dynamic_prompts(in, opt_.dynamic_prompts,
                                              opt_.dynamic_prompt_seed ^ std::hash<std::string>()(exec_id));
      if (out != in && in.find('{') != std::string::npos)
        warn("node " + exec_id + ": dynamic prompt '" + spec->name + "' resolved to: " + out);
      return out;
    }
    if (v.is_array()) return ojson{{"__value__", v}};
    return v;
  }

  // A node's "inputs" object built in insertion order with an index (ordered_json's keyed insert is a
  // linear search, quadratic for a node with many sockets).
  struct InputsBuilder {
    std::vector<std::pair<std::string, ojson>> entries;
    std::unordered_map<std::string, size_t> pos;
    ojson& operator[](const std::string& name) {
      auto [it, fresh] = pos.emplace(name, entries.size());
      if (fresh) entries.emplace_back(name, ojson());
      return entries[it->second].second;
    }
    ojson build() {
      ojson out = ojson::object();
      auto& vec = static_cast<std::vector<std::pair<const std::string, ojson>>&>(*out.get_ptr<ojson::object_t*>());
      vec.reserve(entries.size());
      for (auto& [k, v] : entries) vec.emplace_back(std::move(k), std::move(v));
      return out;
    }
  };

  ojson emit(const Scope& s, const Node& n) {
    std::string exec_id = s.prefix + n.id;
    const NodeDef* def = reg_.find(n.type);
    InputsBuilder inputs;
    if (def) {
      auto layout = widget_layout(def->schema, n.widgets_values);
      auto vals = widget_values(n, def->schema, layout, exec_id);
      for (size_t k = 0; k < layout.size(); ++k)
        if (layout[k].kind == WidgetSlot::Value) inputs[layout[k].name] = serialize(vals[k], layout[k].spec, exec_id);
    } else if (n.widgets_values.is_object()) {
      for (auto& [k, v] : n.widgets_values.items()) {
        step();
        inputs[k] = serialize(v, nullptr, exec_id);
      }
    } else if (n.widgets_values.is_array() && !n.widgets_values.empty()) {
      warn("node " + exec_id + ": type '" + n.type + "' is unknown, its widget values cannot be mapped");
    }
    for (auto& in : n.inputs) {
      step();
      if (!in.link) continue;
      const Link* l = find_link(*s.graph, in.link);
      if (!l) {
        warn("node " + exec_id + ": input '" + in.name + "' refers to missing link " + std::to_string(*in.link));
        continue;
      }
      Resolved r = resolve_output(&s, l->origin_id, l->origin_slot, in.type, exec_id);
      if (r.kind == Resolved::Link) {
        inputs[in.name] = ojson::array({r.id, r.slot});
      } else if (r.kind == Resolved::Value) {
        std::string name = in.widget.empty() ? in.name : in.widget;
        const InputSpec* spec = def ? def->schema.find_input(name) : nullptr;
        inputs[name] = serialize(r.value, spec, exec_id);
      }
    }
    std::string title = !n.title.empty() ? n.title
                        : def && !def->schema.display_name.empty() ? def->schema.display_name
                                                                   : n.type;
    if (n.properties.contains("Node name for S&R") && n.properties["Node name for S&R"].is_string())
      sr_names_[exec_id] = n.properties["Node name for S&R"].get<std::string>();
    titles_[exec_id] = title;
    return ojson{{"inputs", inputs.build()}, {"class_type", n.type}, {"_meta", {{"title", title}}}};
  }

  // 11.1 step A for save nodes' filename_prefix.
  void apply_prefix_patterns(Prompt& out) {
    // The first node (in prompt order) carrying each S&R name, and each title: one pass, then lookups.
    std::unordered_map<std::string, ojson*> by_sr_name, by_title;
    for (auto& [id, node] : out.items()) {
      step();
      if (auto it = sr_names_.find(id); it != sr_names_.end()) by_sr_name.emplace(it->second, &node);
      if (auto it = titles_.find(id); it != titles_.end()) by_title.emplace(it->second, &node);
    }
    lookup_ = [&by_sr_name, &by_title](const std::string& name, const std::string& widget) -> std::optional<ojson> {
      for (auto* names : {&by_sr_name, &by_title}) {
        auto it = names->find(name);
        if (it == names->end()) continue;
        ojson& node = *it->second;
        const auto& v = node["inputs"].contains(widget) ? node["inputs"][widget] : ojson();
        if (v.is_null() || is_link(v)) return std::nullopt;
        return v;
      }
      return std::nullopt;
    };
    for (auto& [id, node] : out.items()) {
      if (!is_save_node_with_prefix(node["class_type"].get<std::string>())) continue;
      auto& inputs = node["inputs"];
      if (inputs.contains("filename_prefix") && inputs["filename_prefix"].is_string()) {
        std::string p = inputs["filename_prefix"].get<std::string>();
        if (p.find('%') != std::string::npos) inputs["filename_prefix"] = replace_prefix_patterns(p, lookup_);
      }
    }
    lookup_ = nullptr;  // refers to the maps above
  }

  const ojson& ui_;
  const Registry& reg_;
  ConvertOptions opt_;
  std::vector<std::string>* warnings_;
  std::map<std::string, const ojson*> def_json_;
  std::map<std::string, std::unique_ptr<Graph>> parsed_defs_;
  const ojson* group_defs_ = nullptr;
  Graph root_;
  std::deque<Graph> group_graphs_;
  std::deque<Scope> scopes_;
  std::map<std::string, const Scope*> child_scope_;
  std::vector<Emit> order_;
  std::map<std::string, std::string> sr_names_, titles_;
  WidgetLookup lookup_;
  std::unordered_map<std::string, Memo> resolved_;  // resolve_output states -> result
  size_t input_size_ = 0;                           // nodes + links of the file (all graphs)
  size_t expansion_budget_ = kMaxFlatNodes;
  size_t expanded_ = 0;                             // nodes and instances visited by flatten
};

}  // namespace

Prompt convert_ui_to_api(const nlohmann::ordered_json& ui, const Registry& reg, const ConvertOptions& opt,
                         std::vector<std::string>* warnings) {
  return Converter(ui, reg, opt, warnings).run();
}

Prompt convert_ui_to_api(const nlohmann::json& ui, const Registry& reg) {
  nlohmann::ordered_json o = ui;
  return convert_ui_to_api(o, reg, ConvertOptions{}, nullptr);
}

}  // namespace comfy
