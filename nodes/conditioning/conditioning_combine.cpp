// ConditioningCombine — "Conditioning (Combine)" (workflow-nodes-files.md 9.6)
#include "comfy/core/node.hpp"
#include "comfy/core/types.hpp"

namespace comfy {

void register_conditioning_combine(Registry& r) {
  NodeSchema s("ConditioningCombine");
  s.display("Conditioning (Combine)").cat("conditioning")
      .input("conditioning_1", "CONDITIONING")
      .input("conditioning_2", "CONDITIONING")
      .output("CONDITIONING");
  r.add({s, [](const NodeInputs& in, ExecContext&) {
           auto c = std::make_shared<Conditioning>();
           c->entries = in.obj<Conditioning>("conditioning_1")->entries;
           const auto& b = in.obj<Conditioning>("conditioning_2")->entries;
           c->entries.insert(c->entries.end(), b.begin(), b.end());
           return NodeOutput{{Value(c)}};
         }});
}

}  // namespace comfy
