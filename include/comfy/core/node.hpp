#pragma once
// A node = schema + one execute function. Adding a node is one file in nodes/ plus one line in
// nodes/node_list.inc.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "comfy/core/error.hpp"
#include "comfy/core/runtime.hpp"
#include "comfy/core/schema.hpp"
#include "comfy/core/value.hpp"

namespace comfy {

// A list travelling on a link (workflow-execution.md 8.4). A node whose output slot is declared
// is_list returns its items as one Value holding a ValueList; a node declared input_is_list receives
// every input as a ValueList (read it with NodeInputs::list). Anything else is a single value.
struct ValueList : Object {
  std::vector<Value> items;
  ValueList() = default;
  explicit ValueList(std::vector<Value> v) : items(std::move(v)) {}
  std::string type_name() const override { return "LIST"; }
};

// The resolved inputs of one node call: constants already coerced to their schema type,
// links replaced by the upstream output value. Optional inputs that are absent are not present.
class NodeInputs {
 public:
  std::map<std::string, Value> values;

  bool has(const std::string& name) const { return values.count(name) && !values.at(name).is_none(); }
  const Value& get(const std::string& name) const;  // throws Error naming the input when missing
  Int int_(const std::string& n) const { return wrap(n, [&] { return get(n).as_int(); }); }
  int64_t i64(const std::string& n) const { return wrap(n, [&] { return get(n).as_i64(); }); }
  uint64_t u64(const std::string& n) const { return wrap(n, [&] { return get(n).as_u64(); }); }
  double f64(const std::string& n) const { return wrap(n, [&] { return get(n).as_float(); }); }
  const std::string& str(const std::string& n) const { return wrap_ref(n, [&]() -> const std::string& { return get(n).as_string(); }); }
  bool boolean(const std::string& n) const { return wrap(n, [&] { return get(n).as_bool(); }); }
  const at::Tensor& tensor(const std::string& n) const { return wrap_ref(n, [&]() -> const at::Tensor& { return get(n).as_tensor(); }); }
  template <class T>
  std::shared_ptr<const T> obj(const std::string& n) const {
    return wrap(n, [&] { return get(n).template as<T>(); });
  }
  template <class T>
  std::shared_ptr<const T> obj_opt(const std::string& n) const {
    return has(n) ? obj<T>(n) : nullptr;
  }
  // INPUT_IS_LIST nodes: the items of a list input (a single value gives a list of one).
  std::vector<Value> list(const std::string& n) const;

 private:
  template <class F>
  static auto wrap(const std::string& n, F f) -> decltype(f()) {
    try { return f(); } catch (Error& e) { if (e.input_name.empty()) e.at_input(n); throw; }
  }
  template <class F>
  static auto wrap_ref(const std::string& n, F f) -> decltype(f()) {
    try { return f(); } catch (Error& e) { if (e.input_name.empty()) e.at_input(n); throw; }
  }
};

// Per-call context: who we are, where files go, how to report progress.
struct ExecContext {
  std::string node_id;
  std::string class_type;
  const RuntimeConfig* config = nullptr;
  const nlohmann::ordered_json* prompt = nullptr; // hidden PROMPT: the validated API prompt (key order kept)
  const nlohmann::json* extra_pnginfo = nullptr;  // hidden EXTRA_PNGINFO: {"workflow": ...} or null
  EventSink events;                                // may be empty

  void emit(const std::string& type, nlohmann::json data) const {
    if (events) {
      data["node"] = node_id;
      events(Event{type, std::move(data)});
    }
  }
  // ComfyUI's "progress" message: value of max, for this node.
  void progress(int64_t value, int64_t max) const { emit("progress", {{"value", value}, {"max", max}}); }
  bool interrupted() const { return config && config->interrupt && config->interrupt->load(); }
  const RuntimeConfig& cfg() const;
};

// What execute returns: one value per output slot, plus an optional UI payload (output nodes).
struct NodeOutput {
  std::vector<Value> values;
  nlohmann::json ui;  // e.g. {"images": [{"filename","subfolder","type"}]}; null when none
};

using ExecuteFn = std::function<NodeOutput(const NodeInputs&, ExecContext&)>;
// Returns a string: the result is re-used only while this string is unchanged (ComfyUI IS_CHANGED).
using IsChangedFn = std::function<std::string(const NodeInputs&, const RuntimeConfig&)>;
// VALIDATE_INPUTS: given constant inputs, return "" when fine or an error text.
using ValidateFn = std::function<std::string(const std::string& input, const Value& v, const RuntimeConfig&)>;

struct NodeDef {
  NodeSchema schema;
  ExecuteFn execute;
  IsChangedFn is_changed;  // optional
  ValidateFn validate;     // optional: replaces the combo-list check for the inputs it covers
  std::vector<std::string> validate_inputs;  // names handled by `validate`
};

class Registry {
 public:
  static Registry& global();  // filled with every built-in node on first use
  void add(NodeDef def);
  const NodeDef* find(const std::string& class_type) const;
  std::vector<std::string> names() const;  // sorted
  const std::map<std::string, NodeDef>& all() const { return defs_; }

 private:
  std::map<std::string, NodeDef> defs_;
};

}  // namespace comfy
