// UNETLoader — "Load Diffusion Model" (ComfyUI nodes.py, comfy.sd.load_diffusion_model): a bare UNet
// file from models/diffusion_models (or the legacy models/unet), family detected from its keys.
#include <ATen/ATen.h>

#include "comfy/core/node.hpp"
#include "comfy/models/model_family.hpp"
#include "comfy/models/state_dict.hpp"
#include "loaders/model_file_input.hpp"

namespace comfy {

namespace {
// The value an fp8 weight holds (round to nearest even, saturating): ComfyUI stores the weights in
// fp8 and casts them up for each layer, so the network computes with these values.
at::Tensor round_fp8(const at::Tensor& w, int mantissa_bits, int min_exponent, double max_value) {
  auto x = w.to(at::kFloat);
  auto fe = at::frexp(x);                                        // x = m * 2^e, |m| in [0.5, 1)
  auto e = (std::get<1>(fe) - 1).clamp_min(min_exponent);        // floor(log2|x|), subnormals share the last
  auto q = at::pow(2.0, (e - mantissa_bits).to(at::kFloat));     // spacing of representable values
  return (at::round(x / q) * q).clamp(-max_value, max_value).to(w.scalar_type());
}

TensorMap to_weight_dtype(const TensorMap& sd, const std::string& weight_dtype) {
  if (weight_dtype == "default") return sd;
  const bool e5m2 = weight_dtype == "fp8_e5m2";
  TensorMap out;
  for (const auto& [k, v] : sd)
    out[k] = v.is_floating_point() ? (e5m2 ? round_fp8(v, 2, -14, 57344.0) : round_fp8(v, 3, -6, 448.0)) : v;
  return out;
}
}  // namespace

void register_unet_loader(Registry& r) {
  NodeSchema s("UNETLoader");
  s.display("Load Diffusion Model").cat("advanced/loaders")
      .combo_fn("unet_name", loaders::list_folder("diffusion_models"))
      .combo("weight_dtype", {"default", "fp8_e4m3fn", "fp8_e4m3fn_fast", "fp8_e5m2"})
      .output("MODEL");
  r.add({s, [](const NodeInputs& in, ExecContext& ctx) {
           const auto& cfg = ctx.cfg();
           const auto& name = in.str("unet_name");
           auto path = io::resolve_model_file(cfg, "diffusion_models", name, "unet_name");
           try {
             const TensorMap sd = load_state_dict(path);
             const DetectedModel det = detect_model(sd);
             if (!det.family)
               fail("unet_name", "ERROR: Could not detect model type of: " + path.string() + " (found: " + det.found + ")");
             TensorMap unet;
             for (auto it = sd.lower_bound(det.unet_prefix);
                  it != sd.end() && it->first.compare(0, det.unet_prefix.size(), det.unet_prefix) == 0; ++it)
               unet.emplace(it->first.substr(det.unet_prefix.size()), it->second);
             auto model = build_model(det, to_weight_dtype(unet, in.str("weight_dtype")), cfg, name);
             model->info["file"] = path.string();
             return NodeOutput{{Value(model)}};
           } catch (Error& e) {
             if (e.input_name.empty()) e.at_input("unet_name");
             throw;
           } catch (const c10::Error& e) {
             fail("unet_name", "cannot load " + name + ": " + e.what_without_backtrace());
           }
         }});
}

}  // namespace comfy
