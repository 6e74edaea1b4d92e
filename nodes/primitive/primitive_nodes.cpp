// Backend primitive nodes (comfy_extras/nodes_primitive.py): PrimitiveInt, PrimitiveFloat,
// PrimitiveString, PrimitiveStringMultiline, PrimitiveBoolean. Each passes its widget value through.
#include "comfy/core/node.hpp"

namespace comfy {

namespace {
NodeDef passthrough(NodeSchema s) {
  return {std::move(s), [](const NodeInputs& in, ExecContext&) { return NodeOutput{{in.get("value")}}; }};
}
}  // namespace

void register_primitive_nodes(Registry& r) {
  // Bounds are Python's +-sys.maxsize; the Int widget has a control_after_generate companion.
  constexpr Int kIntMax = Int(INT64_MAX), kIntMin = -Int(INT64_MAX);
  NodeSchema i("PrimitiveInt");
  i.display("Int").cat("utils/primitive").module("comfy_extras.nodes_primitive").int_("value", 0, kIntMin, kIntMax);
  i.last().control_after_generate = true;
  r.add(passthrough(i.output("INT")));
  r.add(passthrough(NodeSchema("PrimitiveFloat").display("Float").cat("utils/primitive").module("comfy_extras.nodes_primitive")
                        .float_("value", 0.0, -double(INT64_MAX), double(INT64_MAX)).output("FLOAT")));
  r.add(passthrough(NodeSchema("PrimitiveString").display("String").cat("utils/primitive").module("comfy_extras.nodes_primitive")
                        .string_("value").output("STRING")));
  r.add(passthrough(NodeSchema("PrimitiveStringMultiline").display("String (Multiline)").cat("utils/primitive")
                        .module("comfy_extras.nodes_primitive").string_("value", "", true).output("STRING")));
  r.add(passthrough(NodeSchema("PrimitiveBoolean").display("Boolean").cat("utils/primitive").module("comfy_extras.nodes_primitive")
                        .bool_("value", false).output("BOOLEAN")));
}

}  // namespace comfy
