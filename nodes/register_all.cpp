#include "comfy/core/node.hpp"

namespace comfy {

#define COMFY_NODE(fn) void fn(Registry&);
#include "node_list.inc"
#undef COMFY_NODE

Registry& Registry::global() {
  static Registry* r = [] {
    auto* reg = new Registry();
#define COMFY_NODE(fn) fn(*reg);
#include "node_list.inc"
#undef COMFY_NODE
    return reg;
  }();
  return *r;
}

}  // namespace comfy
