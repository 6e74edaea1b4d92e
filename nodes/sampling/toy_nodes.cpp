// ToyGaussianModel / ToyConditioning: the golden data's toy model and fixed conditioning as nodes,
// so golden cases can run end to end through a workflow (golden/sampling/README.md).
#include "comfy/models/toy_gaussian.hpp"
#include "sampling_node_util.hpp"

namespace comfy {

void register_toy_nodes(Registry& r) {
  {
    NodeSchema s("ToyGaussianModel");
    s.display("Toy Gaussian Model").cat("_for_testing").output("MODEL");
    r.add({s, [](const NodeInputs&, ExecContext& ctx) {
             return NodeOutput{{Value(make_toy_gaussian_model(ctx.cfg().device))}};
           }});
  }
  {
    NodeSchema s("ToyConditioning");
    s.display("Toy Conditioning").cat("_for_testing")
        .output("CONDITIONING", "positive")
        .output("CONDITIONING", "negative");
    r.add({s, [](const NodeInputs&, ExecContext&) {
             return NodeOutput{{Value(toy_conditioning(true)), Value(toy_conditioning(false))}};
           }});
  }
}

}  // namespace comfy
