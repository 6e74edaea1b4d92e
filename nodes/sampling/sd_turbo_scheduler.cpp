// SDTurboScheduler (comfy_extras/nodes_custom_sampler.py; spec M6): the 10 SD-Turbo timesteps
// 999, 899, ..., 99, `steps` of them from index 10 - int(10*denoise), as sigmas of the model, then 0.
#include <ATen/ATen.h>

#include "comfy/sampling/schedulers.hpp"
#include "sampling_node_util.hpp"

namespace comfy {

using namespace sampling_nodes;

void register_sd_turbo_scheduler(Registry& r) {
  NodeSchema s("SDTurboScheduler");
  s.display("SDTurboScheduler").cat("sampling/custom_sampling/schedulers").module("comfy_extras.nodes_custom_sampler")
      .input("model", "MODEL")
      .int_("steps", 1, 1, 10)
      .float_("denoise", 1.0, 0.0, 1.0, 0.01)
      .output("SIGMAS");
  r.add({s, [](const NodeInputs& in, ExecContext&) {
           return NodeOutput{{Value(sd_turbo_sigmas(*model_in(in)->sampling, in.i64("steps"), in.f64("denoise")))}};
         }});
}

}  // namespace comfy
