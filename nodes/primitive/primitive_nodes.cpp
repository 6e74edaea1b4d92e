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
  constexpr Int kIntMax = Int(INT64_MAX), kIntMin = Int(INT64_MIN);
  r.add(passthrough(NodeSchema("PrimitiveInt").display("Int").cat("utils/primitive").module("comfy_extras.nodes_primitive")
                        .int_("value", 0, kIntMin, kIntMax).output("INT")));
  r.add(passthrough(NodeSchema("PrimitiveFloat").display("Float").cat("utils/primitive").module("comfy_extras.nodes_primitive")
                        .float_("value", 0.0, -1e300, 1e300).output("FLOAT")));
  r.add(passthrough(NodeSchema("PrimitiveString").display("String").cat("utils/primitive").module("comfy_extras.nodes_primitive")
                        .string_("value").output("STRING")));
  r.add(passthrough(NodeSchema("PrimitiveStringMultiline").display("String (Multiline)").cat("utils/primitive")
                        .module("comfy_extras.nodes_primitive").string_("value", "", true).output("STRING")));
  r.add(passthrough(NodeSchema("PrimitiveBoolean").display("Boolean").cat("utils/primitive").module("comfy_extras.nodes_primitive")
                        .bool_("value", false).output("BOOLEAN")));
}

}  // namespace comfy
