// DualCFGGuider (comfy_extras/nodes_custom_sampler.py; nodes-control-upscale.md 3.5).
#include "comfy/sampling/ksampler.hpp"
#include "sampling_node_util.hpp"

namespace comfy {

using namespace sampling_nodes;

void register_dual_cfg_guider(Registry& r) {
  NodeSchema s("DualCFGGuider");
  s.display("DualCFGGuider").cat("sampling/custom_sampling/guiders").module("comfy_extras.nodes_custom_sampler")
      .input("model", "MODEL")
      .input("cond1", "CONDITIONING")
      .input("cond2", "CONDITIONING")
      .input("negative", "CONDITIONING")
      .float_("cfg_conds", 8.0, 0.0, 100.0, 0.1, 0.01)
      .float_("cfg_cond2_negative", 8.0, 0.0, 100.0, 0.1, 0.01)
      .combo("style", {"regular", "nested"})
      .output("GUIDER");
  r.add({s, [](const NodeInputs& in, ExecContext&) {
           auto g = std::make_shared<GuiderObject>();
           g->model = model_in(in);
           g->positive = cond_in(in, "cond1");
           g->negative = cond_in(in, "negative");
           DualCfg d;
           d.middle = cond_in(in, "cond2");
           d.cfg_conds = in.f64("cfg_conds");
           d.cfg_cond2_negative = in.f64("cfg_cond2_negative");
           d.nested = in.str("style") == "nested";
           g->cfg = d.cfg_conds;
           g->dual = d;
           return NodeOutput{{Value(g)}};
         }});
}

}  // namespace comfy
