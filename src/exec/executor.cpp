// The executor (workflow-execution.md section 8): which nodes run, in what order, with which inputs,
// what is reused from earlier runs, and the events a client sees. Every walk over the graph is
// iterative so that arbitrarily long chains cannot overflow the stack.
#include "comfy/exec/executor.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <random>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "comfy/io/hash.hpp"

namespace comfy {

namespace {

using ojson = nlohmann::ordered_json;
using json = nlohmann::json;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string new_prompt_id() {  // a UUID4-shaped random id
  thread_local std::mt19937_64 rng{std::random_device{}()};  // per thread: two runs never share it
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) s.push_back('-');
    int v = int(rng() & 15);
    if (i == 12) v = 4;
    if (i == 16) v = 8 | (v & 3);
    s.push_back(hex[v]);
  }
  return s;
}

const ojson& inputs_of(const ojson& node) {
  static const ojson kEmpty = ojson::object();
  auto it = node.find("inputs");
  return it != node.end() && it->is_object() ? *it : kEmpty;
}

// A link's source id as a string (numeric first elements are accepted as their decimal text).
std::string link_source(const ojson& v) { return v[0].is_string() ? v[0].get<std::string>() : v[0].dump(); }
int64_t link_slot(const ojson& v) { return v[1].get<int64_t>(); }

// JSON constant -> Value, guided by the declared type (validation has already coerced INT/FLOAT/...).
Value constant_value(const ojson& v, const InputSpec* spec) {
  const std::string type = spec ? spec->type : std::string();
  switch (v.type()) {
    case ojson::value_t::null: return Value();
    case ojson::value_t::boolean: return Value(v.get<bool>());
    case ojson::value_t::number_integer:
      if (type == "FLOAT") return Value(double(v.get<int64_t>()));
      return Value(Int(v.get<int64_t>()));
    case ojson::value_t::number_unsigned:
      if (type == "FLOAT") return Value(double(v.get<uint64_t>()));
      return Value(Int(v.get<uint64_t>()));
    case ojson::value_t::number_float: {
      double d = v.get<double>();
      if (type == "INT" && std::isfinite(d) && d == std::trunc(d) && std::fabs(d) < 1.8e19) return Value(Int(d));
      return Value(d);
    }
    case ojson::value_t::string: return Value(v.get<std::string>());
    default: return Value(v.dump());  // arrays / objects (a "__value__" payload) travel as JSON text
  }
}

bool contains_nan(const ojson& v) {
  if (v.is_number_float()) return std::isnan(v.get<double>());
  if (v.is_structured())
    for (auto& c : v) if (contains_nan(c)) return true;
  return false;
}

// How a value looks in execution_error's current_inputs.
json format_value(const Value& v) {
  if (v.is_none()) return nullptr;
  if (v.is_bool()) return v.as_bool();
  if (v.is_int()) {
    Int i = v.as_int();
    if (i >= 0 && i <= Int(UINT64_MAX)) return uint64_t(i);
    if (i >= Int(INT64_MIN) && i < 0) return int64_t(i);
    return int_to_string(i);
  }
  if (v.is_float()) return v.as_float();
  if (v.is_string()) return v.as_string();
  if (v.is_tensor()) {
    auto& t = v.as_tensor();
    std::string s = "tensor(shape=[";
    for (int64_t d = 0; d < t.dim(); ++d) s += (d ? ", " : "") + std::to_string(t.size(d));
    return s + "])";
  }
  return "<" + v.kind() + ">";
}

struct CacheEntry {
  std::vector<std::vector<Value>> outputs;  // per output slot, the list of values (8.4)
  json ui;                                  // merged UI payload, null when none
};
using EntryPtr = std::shared_ptr<const CacheEntry>;

struct NodeRec {
  std::string id;
  const ojson* node = nullptr;
  const NodeDef* def = nullptr;
  std::vector<std::pair<std::string, int>> links;  // (input name, source index) for links in prompt order
  std::string key;                                 // cache key, "" = never reused
};

}  // namespace

struct Executor::Impl {
  const Registry& reg;
  RuntimeConfig cfg;
  EventSink events;
  std::unordered_map<std::string, EntryPtr> cache;  // cache key -> result
  ExecutionStats lifetime;

  Impl(const Registry& r, RuntimeConfig c, EventSink e) : reg(r), cfg(std::move(c)), events(std::move(e)) {}

  void emit(const std::string& type, json data) const {
    if (events) events(Event{type, std::move(data)});
  }

  struct Run;
};

// One execute() call, in the phases of section 8: collect the needed nodes, order them, key them for
// the cache, announce, schedule, run node by node, then report success or the failure.
struct Executor::Impl::Run {
  Impl& im;
  Prompt prompt;  // working copy: gets "is_changed" members like ComfyUI's (8.8)
  const std::vector<std::string>& outputs;
  std::string prompt_id;
  const json* pnginfo = nullptr;
  bool progress_state = false;

  std::unordered_map<std::string, ojson*> by_id;  // ordered_json lookups are linear: index once
  std::vector<NodeRec> nodes;
  std::unordered_map<std::string, int> index;
  std::vector<int> topo;

  // scheduling state (8.2)
  std::vector<int> pending;                   // insertion order
  std::vector<int> block_count;
  std::vector<std::vector<int>> blocking;     // producer -> consumers waiting for it
  std::vector<char> in_pending, is_output;
  int64_t schedule_steps = 0;                  // ordering work, for the bounded-work tests
  std::vector<EntryPtr> results;
  json executed_ids = json::array();
  json node_states = json::object();          // progress_state "nodes", in start order

  int current = -1;
  NodeInputs current_inputs;

  Run(Impl& i, const Prompt& p, const std::vector<std::string>& outs, const ExecuteOptions& opt)
      : im(i), prompt(p), outputs(outs), prompt_id(opt.prompt_id.empty() ? new_prompt_id() : opt.prompt_id),
        pnginfo(opt.extra_pnginfo.is_null() ? nullptr : &opt.extra_pnginfo), progress_state(opt.progress_state) {
    by_id.reserve(prompt.size());
    for (auto it = prompt.begin(); it != prompt.end(); ++it) by_id.emplace(it.key(), &it.value());
  }

  EntryPtr cached_entry(const NodeRec& n) const {
    if (n.key.empty()) return nullptr;
    auto it = im.cache.find(n.key);
    return it == im.cache.end() ? nullptr : it->second;
  }
  EntryPtr entry_of(int i) const { return results[size_t(i)] ? results[size_t(i)] : cached_entry(nodes[size_t(i)]); }

  // ---- phase 1: the nodes the outputs need (8.1), found iteratively
  int node_index(const std::string& id, const std::string& from, const std::string& input) {
    auto it = index.find(id);
    if (it != index.end()) return it->second;
    auto found = by_id.find(id);
    if (found == by_id.end() || !found->second->is_object()) {
      Error e("invalid_prompt", from.empty() ? "output node '" + id + "' does not exist in the prompt"
                                             : "linked node '" + id + "' (input '" + input + "') does not exist in the prompt");
      if (!from.empty()) e.at_node(from, nodes[size_t(index.at(from))].def->schema.class_type).at_input(input);
      throw e;
    }
    const ojson& n = *found->second;
    std::string cls = n.value("class_type", std::string());
    const NodeDef* def = im.reg.find(cls);
    if (!def) throw Error("invalid_prompt", "Cannot execute because node " + cls + " does not exist.", "Node ID '#" + id + "'").at_node(id, cls);
    int i = int(nodes.size());
    nodes.push_back(NodeRec{id, &n, def, {}, {}});
    index.emplace(id, i);
    return i;
  }

  void collect_nodes() {
    std::vector<int> stack;
    for (auto& o : outputs) stack.push_back(node_index(o, "", ""));
    std::vector<char> expanded;
    while (!stack.empty()) {
      int u = stack.back();
      stack.pop_back();
      expanded.resize(nodes.size(), 0);
      if (expanded[size_t(u)]) continue;
      expanded[size_t(u)] = 1;
      const ojson& ins = inputs_of(*nodes[size_t(u)].node);
      std::vector<std::pair<std::string, int>> links;
      for (auto it = ins.begin(); it != ins.end(); ++it) {
        if (!is_link(it.value())) continue;
        int src = node_index(link_source(it.value()), nodes[size_t(u)].id, it.key());
        links.emplace_back(it.key(), src);
        stack.push_back(src);
      }
      nodes[size_t(u)].links = std::move(links);
    }
  }

  // ---- phase 2: dependency order (sources first) for the cache keys; a cycle is an error (7.1)
  [[noreturn]] void throw_cycle(const std::vector<std::pair<int, size_t>>& st, int s) const {
    std::string cycle;
    bool in = false;
    for (auto& [w, _] : st) {
      if (w == s) in = true;
      if (in) cycle += (cycle.empty() ? "" : " -> ") + nodes[size_t(w)].id;
    }
    Error e("exception_during_validation", "Dependency cycle detected", "nodes " + cycle + " -> " + nodes[size_t(s)].id);
    e.at_node(nodes[size_t(s)].id, nodes[size_t(s)].def->schema.class_type);
    e.extra_info = {{"exception_type", "graph.DependencyCycleError"}, {"traceback", json::array()}};
    throw e;
  }

  void order_dependencies() {
    const size_t N = nodes.size();
    std::vector<int> state(N, 0);  // 0 new, 1 on stack, 2 done
    std::vector<std::pair<int, size_t>> st;
    for (size_t r = 0; r < N; ++r) {
      if (state[r]) continue;
      st.emplace_back(int(r), 0);
      state[r] = 1;
      while (!st.empty()) {
        auto& [u, k] = st.back();
        auto& links = nodes[size_t(u)].links;
        if (k < links.size()) {
          int s = links[k++].second;
          if (state[size_t(s)] == 1) throw_cycle(st, s);
          if (state[size_t(s)] == 0) {
            state[size_t(s)] = 1;
            st.emplace_back(s, 0);
          }
        } else {
          state[size_t(u)] = 2;
          topo.push_back(u);
          st.pop_back();
        }
      }
    }
  }

  // ---- phase 3: cache keys, a Merkle hash of class, is_changed, [id], sorted (input, constant | (key(src), slot)) (8.8)
  void compute_cache_key(NodeRec& n) {
    const NodeSchema& schema = n.def->schema;
    const ojson& ins = inputs_of(*n.node);
    bool cacheable = true;
    std::string changed = "false";
    ojson changed_json;  // stored into the prompt node after the key is built (inserting moves `ins`)
    if (n.def->is_changed) {
      NodeInputs cin;
      for (auto& spec : schema.inputs)
        if (spec.group != InputGroup::Hidden && ins.contains(spec.name) && !is_link(ins[spec.name]))
          cin.values[spec.name] = constant_value(ins[spec.name], &spec);
      try {
        std::string c = n.def->is_changed(cin, im.cfg);
        changed = ojson(c).dump();
        changed_json = ojson::array({c});
      } catch (const std::exception&) {
        cacheable = false;  // ComfyUI: NaN, never equal to anything
        changed_json = ojson::array({std::nan("")});
      }
    }
    std::string text = schema.class_type;
    text += '\x1f' + changed;
    bool with_id = schema.not_idempotent;
    for (auto& spec : schema.inputs) with_id = with_id || (spec.group == InputGroup::Hidden && spec.hidden_kind == "UNIQUE_ID");
    if (with_id) text += "\x1fid=" + n.id;
    std::vector<std::string> names;
    for (auto it = ins.begin(); it != ins.end(); ++it) names.push_back(it.key());
    std::sort(names.begin(), names.end());
    for (auto& name : names) {
      const ojson& v = ins[name];
      text += '\x1e' + name + '\x1f';
      if (is_link(v)) {
        const NodeRec& src = nodes[size_t(index.at(link_source(v)))];
        if (src.key.empty()) cacheable = false;
        text += "LINK:" + src.key + ":" + std::to_string(link_slot(v));
      } else {
        if (contains_nan(v)) cacheable = false;
        text += v.dump();
      }
    }
    n.key = cacheable ? io::sha256_hex(text) : std::string();
    if (!changed_json.is_null()) (*by_id.at(n.id))["is_changed"] = std::move(changed_json);
  }

  // Classic cache policy: keep only what this prompt can reuse.
  void prune_cache() {
    std::unordered_set<std::string> used;
    for (auto& n : nodes) if (!n.key.empty()) used.insert(n.key);
    for (auto it = im.cache.begin(); it != im.cache.end();) it = used.count(it->first) ? std::next(it) : im.cache.erase(it);
  }

  // ---- phase 4: execution_start, execution_cached (cached node ids in prompt key order)
  void announce_start() {
    im.emit("execution_start", {{"prompt_id", prompt_id}, {"timestamp", now_ms()}});
    json cached_ids = json::array();
    for (auto it = prompt.begin(); it != prompt.end(); ++it) {
      auto f = index.find(it.key());
      if (f != index.end() && cached_entry(nodes[size_t(f->second)])) cached_ids.push_back(it.key());
    }
    im.emit("execution_cached", {{"nodes", cached_ids}, {"prompt_id", prompt_id}, {"timestamp", now_ms()}});
  }

  // ---- phase 5: scheduling (8.2): pending nodes in insertion order, block counts, consumers
  void add_node(int start) {
    std::vector<int> stack{start};
    std::vector<std::pair<int, int>> links;  // (src, consumer)
    while (!stack.empty()) {
      int u = stack.back();
      stack.pop_back();
      if (in_pending[size_t(u)]) continue;
      in_pending[size_t(u)] = 1;
      pending.push_back(u);
      const size_t first = links.size();
      for (auto& [name, src] : nodes[size_t(u)].links) {
        if (!cached_entry(nodes[size_t(src)])) {
          stack.push_back(src);
          links.emplace_back(src, u);
        }
      }
      // a producer feeding several inputs of u blocks it once (u's own links only: linear overall)
      std::sort(links.begin() + std::ptrdiff_t(first), links.end());
      links.erase(std::unique(links.begin() + std::ptrdiff_t(first), links.end()), links.end());
      schedule_steps += links.size() - first + 1;
    }
    for (auto& [src, u] : links) {
      blocking[size_t(src)].push_back(u);
      block_count[size_t(u)]++;
    }
  }

  void schedule() {
    const size_t N = nodes.size();
    block_count.assign(N, 0);
    blocking.assign(N, {});
    in_pending.assign(N, 0);
    is_output.assign(N, 0);
    results.assign(N, nullptr);
    for (size_t i = 0; i < N; ++i) is_output[i] = nodes[i].def->schema.output_node;
    for (auto& o : outputs) add_node(index.at(o));
  }

  // 8.2 pick(): an output node first, then a node feeding one, then two steps away, else the first.
  // Which of those a node is depends on the (fixed) consumer lists only, so it is worked out once per
  // node: pick() is then the first ready node of the best class, O(log n) instead of a scan.
  enum PickClass { kOutput = 0, kFeedsOutput = 1, kTwoFromOutput = 2, kOther = 3 };
  std::vector<int> pick_classes() {
    std::vector<int> cls(nodes.size(), kOther);
    std::vector<char> feeds(nodes.size(), 0);
    for (int u : pending)
      for (int c : blocking[size_t(u)]) { feeds[size_t(u)] |= is_output[size_t(c)]; ++schedule_steps; }
    for (int u : pending) {
      bool two = false;
      for (int c : blocking[size_t(u)]) { two |= bool(feeds[size_t(c)]); ++schedule_steps; }
      cls[size_t(u)] = is_output[size_t(u)] ? kOutput : feeds[size_t(u)] ? kFeedsOutput : two ? kTwoFromOutput : kOther;
    }
    return cls;
  }

  // ---- progress_state (ComfyUI's progress registry), only when asked for
  void set_node_state(const std::string& id, double value, double max, bool finished) {
    if (!progress_state) return;
    node_states[id] = {{"value", value}, {"max", max}, {"state", finished ? "finished" : "running"}, {"node_id", id},
                       {"prompt_id", prompt_id}, {"display_node_id", id}, {"parent_node_id", nullptr}, {"real_node_id", id}};
    im.emit("progress_state", {{"prompt_id", prompt_id}, {"nodes", node_states}});
  }

  EventSink node_events() {
    return [this](const Event& e) {
      if (!im.events) return;
      Event e2 = e;
      e2.data["prompt_id"] = prompt_id;
      if (e2.data.contains("node") && !e2.data.contains("display_node")) e2.data["display_node"] = e2.data["node"];
      if (e2.type == "progress" && progress_state && e2.data.contains("node") && e2.data["node"].is_string() &&
          e2.data.contains("value") && e2.data.contains("max"))
        set_node_state(e2.data["node"], e2.data["value"].get<double>(), e2.data["max"].get<double>(), false);
      im.events(e2);
    };
  }

  // ---- phase 6: one node, from the cache (8.3) or by calling it with its input lists (8.4)
  void replay_cached(int u, EntryPtr hit, ExecutionResult& result) {
    const NodeRec& n = nodes[size_t(u)];
    results[size_t(u)] = hit;
    if (n.def->schema.output_node || !hit->ui.is_null())
      im.emit("executed", {{"node", n.id}, {"display_node", n.id}, {"output", hit->ui}, {"prompt_id", prompt_id}});
    set_node_state(n.id, 1.0, 1.0, true);
    result.stats.cached++;
    im.lifetime.cached++;
  }

  // Inputs, each a list (8.4): links give the producer's list, constants a list of one.
  std::vector<std::pair<std::string, std::vector<Value>>> input_lists(const NodeRec& n) const {
    const ojson& ins = inputs_of(*n.node);
    std::vector<std::pair<std::string, std::vector<Value>>> lists;
    for (auto& spec : n.def->schema.inputs) {
      if (spec.group == InputGroup::Hidden) {
        if (spec.hidden_kind == "UNIQUE_ID") lists.push_back({spec.name, {Value(n.id)}});
        continue;  // PROMPT / EXTRA_PNGINFO travel in the ExecContext
      }
      if (!ins.contains(spec.name)) continue;
      const ojson& v = ins[spec.name];
      if (is_link(v)) {
        EntryPtr src = entry_of(index.at(link_source(v)));
        int64_t slot = link_slot(v);
        if (!src || slot < 0 || size_t(slot) >= src->outputs.size()) continue;  // "missing"
        if (src->outputs[size_t(slot)].empty())
          throw Error("execution_error", "input '" + spec.name + "' received an empty list", spec.name).at_input(spec.name);
        lists.push_back({spec.name, src->outputs[size_t(slot)]});
      } else {
        lists.push_back({spec.name, {constant_value(v, &spec)}});
      }
    }
    if (n.def->schema.accepts_undeclared_inputs)  // VHS: per-format widgets the schema does not list
      for (auto it = ins.begin(); it != ins.end(); ++it)
        if (!n.def->schema.find_input(it.key()) && !is_link(it.value()))
          lists.push_back({it.key(), {constant_value(it.value(), nullptr)}});
    return lists;
  }

  static void merge_call_output(const NodeSchema& schema, NodeOutput& out, CacheEntry& entry) {
    if (out.values.size() < schema.outputs.size())
      throw Error("execution_error", "node returned " + std::to_string(out.values.size()) + " values, its schema declares " +
                                         std::to_string(schema.outputs.size()));
    for (size_t s = 0; s < schema.outputs.size(); ++s) {
      Value& v = out.values[s];
      std::shared_ptr<const ValueList> lv;
      if (schema.outputs[s].is_list && v.is_object()) lv = std::dynamic_pointer_cast<const ValueList>(v.as_object());
      if (lv) entry.outputs[s].insert(entry.outputs[s].end(), lv->items.begin(), lv->items.end());
      else entry.outputs[s].push_back(std::move(v));
    }
    if (!out.ui.is_object()) return;
    if (entry.ui.is_null()) entry.ui = json::object();
    for (auto it = out.ui.begin(); it != out.ui.end(); ++it) {
      json& dst = entry.ui[it.key()];
      if (it.value().is_array()) {
        if (!dst.is_array()) dst = json::array();
        for (auto& x : it.value()) dst.push_back(x);
      } else {
        dst = it.value();
      }
    }
  }

  void execute_node(int u, ExecutionResult& result) {
    NodeRec& n = nodes[size_t(u)];
    const NodeSchema& schema = n.def->schema;
    auto lists = input_lists(n);
    ExecContext ctx;
    ctx.node_id = n.id;
    ctx.class_type = schema.class_type;
    ctx.config = &im.cfg;
    ctx.prompt = &prompt;
    ctx.extra_pnginfo = pnginfo;
    ctx.events = node_events();

    auto check_interrupt = [&] {
      if (ctx.interrupted()) throw Error("interrupted", "Processing interrupted");
    };
    check_interrupt();
    set_node_state(n.id, 0.0, 1.0, false);
    im.emit("executing", {{"node", n.id}, {"display_node", n.id}, {"prompt_id", prompt_id}});

    size_t calls = 1;
    if (!schema.input_is_list)
      for (auto& [name, l] : lists) calls = std::max(calls, l.size());
    auto entry = std::make_shared<CacheEntry>();
    entry->outputs.resize(schema.outputs.size());
    for (size_t c = 0; c < calls; ++c) {
      check_interrupt();
      current_inputs = NodeInputs();
      for (auto& [name, l] : lists)  // INPUT_IS_LIST: every input as a whole list, even a constant
        current_inputs.values[name] = schema.input_is_list ? Value(std::make_shared<ValueList>(l)) : c < l.size() ? l[c] : l.back();
      NodeOutput out = n.def->execute(current_inputs, ctx);
      merge_call_output(schema, out, *entry);
    }
    results[size_t(u)] = entry;
    if (!n.key.empty()) im.cache[n.key] = entry;
    result.stats.executed++;
    im.lifetime.executed++;
    if (!entry->ui.is_null())
      im.emit("executed", {{"node", n.id}, {"display_node", n.id}, {"output", entry->ui}, {"prompt_id", prompt_id}});
    if (progress_state) {  // ComfyUI: after `executed`, the node's progress ends "finished" at its max
      double m = node_states.contains(n.id) ? node_states[n.id]["max"].get<double>() : 1.0;
      set_node_state(n.id, m, m, true);
    }
  }

  // ---- phase 7: the loop: ready nodes ordered by their position in `pending` (ComfyUI iterates its
  // pending dict in insertion order)
  void run_scheduled(ExecutionResult& result) {
    const size_t N = nodes.size();
    std::vector<int> pos(N, -1);
    for (size_t k = 0; k < pending.size(); ++k) pos[size_t(pending[k])] = int(k);
    const std::vector<int> cls = pick_classes();
    // Ready nodes by pick class, each set ordered by position in `pending`; a node of class k is also
    // in every set after k, so the first non-empty set's first node is ComfyUI's pick.
    std::array<std::set<int>, 4> ready;  // positions
    auto make_ready = [&](int u) {
      for (int k = cls[size_t(u)]; k <= kOther; ++k) { ready[size_t(k)].insert(pos[size_t(u)]); ++schedule_steps; }
    };
    auto pick_ready = [&]() -> int {
      for (auto& r : ready)
        if (!r.empty()) return pending[size_t(*r.begin())];
      throw Error("exception_during_validation", "Dependency cycle detected");  // unreachable after topo
    };
    for (int u : pending) if (block_count[size_t(u)] == 0) make_ready(u);
    for (size_t remaining = pending.size(); remaining > 0; --remaining) {
      const int u = pick_ready();
      for (int k = cls[size_t(u)]; k <= kOther; ++k) ready[size_t(k)].erase(pos[size_t(u)]);
      current = u;
      if (EntryPtr hit = cached_entry(nodes[size_t(u)])) replay_cached(u, hit, result);
      else execute_node(u, result);
      const NodeRec& n = nodes[size_t(u)];
      executed_ids.push_back(n.id);
      if (!results[size_t(u)]->ui.is_null()) result.ui_outputs[n.id] = results[size_t(u)]->ui;
      for (int c : blocking[size_t(u)]) {
        ++schedule_steps;
        if (--block_count[size_t(c)] == 0) make_ready(c);
      }
      current = -1;
    }
    result.stats.schedule_steps = schedule_steps;
  }

  // ---- phase 8a: a failure: name the node, tell the client (8.10, 8.11); returns the comfy::Error to throw
  Error report_failure(std::exception_ptr ep) {
    Error err("execution_error", "unknown error");
    try {
      std::rethrow_exception(ep);
    } catch (const Error& e) {
      err = e;
      if (err.type == "execution_interrupted") err.type = "interrupted";  // the samplers' own check
      if (err.type != "interrupted" && current >= 0 && err.type != "execution_error") {
        err.extra_info["exception_type"] = err.type;
        err.type = "execution_error";
      }
    } catch (const std::exception& e) {
      err = Error("execution_error", error_text(e));  // libtorch errors without their C++ backtrace
      err.extra_info["exception_type"] = "RuntimeError";
    } catch (...) {
    }
    std::string node_id = current >= 0 ? nodes[size_t(current)].id : err.node_id;
    std::string node_type = current >= 0 ? nodes[size_t(current)].def->schema.class_type : err.class_type;
    if (current >= 0 && err.node_id.empty()) err.at_node(node_id, node_type);
    if (err.type == "interrupted") {
      im.emit("execution_interrupted", {{"prompt_id", prompt_id}, {"node_id", node_id}, {"node_type", node_type},
                                        {"executed", executed_ids}, {"timestamp", now_ms()}});
    } else {
      json ci = json::object();
      for (auto& [name, v] : current_inputs.values) ci[name] = json::array({format_value(v)});
      json current_outputs = json::array();
      for (auto& n : nodes) current_outputs.push_back(n.id);
      im.emit("execution_error",
              {{"prompt_id", prompt_id}, {"node_id", node_id}, {"node_type", node_type}, {"executed", executed_ids},
               {"exception_message", std::string(err.what()) + "\n"},
               {"exception_type", err.extra_info.value("exception_type", std::string("comfy.Error"))},
               {"input_name", err.input_name}, {"traceback", json::array()}, {"current_inputs", ci},
               {"current_outputs", current_outputs}, {"timestamp", now_ms()}});
    }
    im.emit("executing", {{"node", nullptr}, {"prompt_id", prompt_id}});
    return err;
  }

  // ---- phase 8b: success: every node's outputs, then the completion messages
  void finish(ExecutionResult& result) {
    for (size_t i = 0; i < nodes.size(); ++i) {
      EntryPtr e = entry_of(int(i));
      if (!e) continue;
      std::vector<Value> vals;
      for (auto& l : e->outputs) vals.push_back(l.size() == 1 ? l[0] : Value(std::make_shared<ValueList>(l)));
      result.outputs[nodes[i].id] = std::move(vals);
    }
    result.ok = true;
    im.emit("execution_success", {{"prompt_id", prompt_id}, {"timestamp", now_ms()}});
    im.emit("executing", {{"node", nullptr}, {"prompt_id", prompt_id}});
  }
};

Executor::Executor(const Registry& reg, RuntimeConfig cfg, EventSink events)
    : impl_(std::make_unique<Impl>(reg, std::move(cfg), std::move(events))) {}
Executor::~Executor() = default;
const ExecutionStats& Executor::lifetime_stats() const { return impl_->lifetime; }
const RuntimeConfig& Executor::config() const { return impl_->cfg; }
void Executor::clear_cache() { impl_->cache.clear(); }
size_t Executor::cache_size() const { return impl_->cache.size(); }

ExecutionResult Executor::execute(const Prompt& prompt, const std::vector<std::string>& outputs,
                                  const nlohmann::json& extra_pnginfo) {
  ExecuteOptions opt;
  opt.extra_pnginfo = extra_pnginfo;
  return execute(prompt, outputs, opt);
}

ExecutionResult Executor::execute(const Prompt& prompt, const std::vector<std::string>& outputs, const ExecuteOptions& opt) {
  Impl::Run run(*impl_, prompt, outputs, opt);
  run.collect_nodes();
  run.order_dependencies();
  for (int u : run.topo) run.compute_cache_key(run.nodes[size_t(u)]);
  run.prune_cache();
  run.announce_start();
  run.schedule();
  ExecutionResult result;
  try {
    run.run_scheduled(result);
  } catch (...) {
    throw run.report_failure(std::current_exception());
  }
  run.finish(result);
  return result;
}

}  // namespace comfy
