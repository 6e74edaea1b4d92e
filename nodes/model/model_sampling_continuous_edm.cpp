// ModelSamplingContinuousEDM (comfy_extras/nodes_model_advanced.py): a copy of the model sampled on the
// continuous EDM schedule between sigma_min and sigma_max, with the chosen prediction type (v_prediction,
// edm and edm_playground_v2.5 with sigma_data 0.5 — the last also with Playground 2.5's latent format —
// or eps). cosmos_rflow samples another schedule and is refused.
#include "comfy/core/node.hpp"
#include "comfy/models/model.hpp"

namespace comfy {

void register_model_sampling_continuous_edm(Registry& r) {
  NodeSchema s("ModelSamplingContinuousEDM");
  s.display("ModelSamplingContinuousEDM").cat("advanced/model").module("comfy_extras.nodes_model_advanced")
      .input("model", "MODEL")
      .combo("sampling", {"v_prediction", "edm", "edm_playground_v2.5", "eps", "cosmos_rflow"})
      .float_("sigma_max", 120.0, 0.0, 1000.0, 0.001, false)
      .float_("sigma_min", 0.002, 0.0, 1000.0, 0.001, false)
      .output("MODEL");
  r.add({s, [](const NodeInputs& in, ExecContext&) {
           auto model = in.obj<Model>("model");
           const std::string& sampling = in.str("sampling");
           const double sigma_max = in.f64("sigma_max"), sigma_min = in.f64("sigma_min");
           if (sampling == "cosmos_rflow")
             fail("sampling", "cosmos_rflow (ModelSamplingCosmosRFlow) is not supported; use v_prediction, edm, "
                              "edm_playground_v2.5 or eps");
           // set_parameters takes the log of both ends
           if (!(sigma_min > 0)) fail("sigma_min", "must be greater than 0 (got " + std::to_string(sigma_min) + ")");
           if (!(sigma_max > 0)) fail("sigma_max", "must be greater than 0 (got " + std::to_string(sigma_max) + ")");
           Prediction pred = Prediction::V_PREDICTION;
           double sigma_data = 1.0;
           if (sampling == "eps") {
             pred = Prediction::EPS;
           } else if (sampling == "edm" || sampling == "edm_playground_v2.5") {
             pred = Prediction::EDM;
             sigma_data = 0.5;
           }
           auto m = std::make_shared<Model>(*model);
           m->sampling = std::make_shared<ModelSampling>(
               ModelSampling::continuous_edm(sigma_min, sigma_max, sigma_data, pred));
           if (sampling == "edm_playground_v2.5") m->latent_format = LatentFormat::sdxl_playground_2_5();
           return NodeOutput{{Value(m)}};
         }});
}

}  // namespace comfy
