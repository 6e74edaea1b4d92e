// ModelSamplingDiscrete (comfy_extras/nodes_model_advanced.py): a copy of the model sampled with another
// prediction type (eps, v_prediction, lcm, x0) over the discrete schedule, optionally rescaled to zero
// terminal SNR.
#include "comfy/core/node.hpp"
#include "comfy/models/model.hpp"

namespace comfy {

void register_model_sampling_discrete(Registry& r) {
  NodeSchema s("ModelSamplingDiscrete");
  s.display("ModelSamplingDiscrete").cat("advanced/model").module("comfy_extras.nodes_model_advanced")
      .input("model", "MODEL")
      .combo("sampling", {"eps", "v_prediction", "lcm", "x0"})
      .bool_("zsnr", false)
      .output("MODEL");
  r.add({s, [](const NodeInputs& in, ExecContext&) {
           auto model = in.obj<Model>("model");
           const std::string& sampling = in.str("sampling");
           const bool zsnr = in.boolean("zsnr");
           if (model->sampling->kind == ModelSampling::Kind::DiscreteFlow)
             fail("model", "ModelSamplingDiscrete needs a discrete-schedule model (this one uses a flow schedule)");
           Prediction pred = Prediction::EPS;
           if (sampling == "v_prediction") pred = Prediction::V_PREDICTION;
           else if (sampling == "lcm") pred = Prediction::LCM;
           else if (sampling == "x0") pred = Prediction::X0;
           // ModelSamplingAdvanced(model_config, zsnr): the schedule from the model's sampling settings
           // (every family here: scaled-linear betas 0.00085..0.012, 1000 steps).
           auto ms = ModelSampling::discrete("linear", 0.00085, 0.012, 1000, zsnr, pred);
           if (pred == Prediction::LCM) ms = ms.distilled(50);
           auto m = std::make_shared<Model>(*model);
           m->sampling = std::make_shared<ModelSampling>(std::move(ms));
           return NodeOutput{{Value(m)}};
         }});
}

}  // namespace comfy
