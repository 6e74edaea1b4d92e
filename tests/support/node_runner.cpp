#include "node_runner.hpp"

#include <stdexcept>

namespace comfy::test {

NodeOutput run_node(const std::string& cls, std::map<std::string, Value> values, const RuntimeConfig& cfg) {
  const NodeDef* def = Registry::global().find(cls);
  if (!def) throw std::runtime_error("no node " + cls);
  NodeInputs in;
  in.values = std::move(values);
  ExecContext ctx;
  ctx.node_id = "1";
  ctx.class_type = cls;
  ctx.config = &cfg;
  return def->execute(in, ctx);
}

NodeOutput run_node(const std::string& cls, std::map<std::string, Value> values) {
  static const RuntimeConfig cfg;
  return run_node(cls, std::move(values), cfg);
}

}  // namespace comfy::test
