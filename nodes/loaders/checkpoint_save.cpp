// CheckpointSave — "Save Checkpoint" (nodes-companions.md 8; comfy_extras/nodes_model_merging.py
// save_checkpoint + comfy.sd.save_checkpoint): the patched weights in the checkpoint key layout, in
// their stored dtypes, with ComfyUI's metadata; written atomically under a fresh counter.
#include <ATen/ATen.h>

#include <map>

#include "comfy/core/node.hpp"
#include "comfy/io/output_names.hpp"
#include "comfy/io/python_json.hpp"
#include "comfy/io/safetensors.hpp"
#include "comfy/models/clip.hpp"
#include "comfy/models/clip_save_layout.hpp"
#include "comfy/models/model_patcher.hpp"
#include "comfy/models/unet.hpp"
#include "comfy/models/vae.hpp"

namespace comfy {

namespace {

// model.diffusion_model.* / the text encoders in their family's layout (clip_save_layout.hpp) /
// first_stage_model.*. CLIP weights go out in ComfyUI's text_encoder_dtype (fp16; our encoder holds
// fp16-rounded values in fp32 for compute) unless --fp32-text-enc kept the file's values.
std::map<std::string, at::Tensor> checkpoint_tensors(const Model& model, const Clip* clip, const Vae* vae,
                                                     bool clip_fp32) {
  std::map<std::string, at::Tensor> sd;
  auto unet = resolve_unet(model.net);  // merges and other pending patches applied (load_models_gpu)
  if (!unet) fail("model", "only UNet models can be saved (this MODEL is " + model.family + ")");
  for (const auto& [k, t] : unet->weights()) sd["model.diffusion_model." + k] = t;
  if (clip) {
    const auto* w = clip->encoder ? clip->encoder->lora_weights() : nullptr;
    if (!w) fail("clip", "this CLIP cannot be saved (no checkpoint weights)");
    try {
      for (auto& [k, t] : clip_checkpoint_tensors(*w, clip_fp32)) sd[k] = std::move(t);
    } catch (const Error& e) {
      fail("clip", e.what());
    }
  }
  if (vae) {
    auto net = std::dynamic_pointer_cast<const AutoencoderKL>(vae->net);
    if (!net) fail("vae", "this VAE cannot be saved (not an AutoencoderKL)");
    for (const auto& [k, t] : net->weights()) sd["first_stage_model." + k] = t;
  }
  return sd;
}

// A v-prediction model on the continuous EDM schedule (CosXL, or ModelSamplingContinuousEDM): its
// sigma range goes out as edm_vpred.sigma_max / sigma_min.
bool continuous_vpred(const Model& model) {
  return model.sampling && model.sampling->kind == ModelSampling::Kind::ContinuousEDM &&
         model.sampling->prediction == Prediction::V_PREDICTION;
}

std::map<std::string, std::string> checkpoint_metadata(const Model& model, const std::string& name, int64_t counter,
                                                       const ExecContext& ctx) {
  std::map<std::string, std::string> md;
  if (model.family == "SDXL" || model.family == "SDXL_instructpix2pix") {
    md["modelspec.architecture"] =
        model.family == "SDXL" ? "stable-diffusion-xl-v1-base" : "stable-diffusion-xl-v1-edit";
    md["modelspec.sai_model_spec"] = "1.0.0";
    md["modelspec.implementation"] = "sgm";
    md["modelspec.title"] = name + " " + std::to_string(counter);
  }
  // from the loaded model's type, not its (maybe patched) sampling
  if (model.model_type == ModelType::EPS) md["modelspec.predict_key"] = "epsilon";
  else if (model.model_type == ModelType::V_PREDICTION) md["modelspec.predict_key"] = "v";
  md["prompt"] = ctx.prompt && !ctx.prompt->is_null() ? io::python_json_dumps(*ctx.prompt) : "";
  if (ctx.extra_pnginfo && ctx.extra_pnginfo->is_object())
    for (auto it = ctx.extra_pnginfo->begin(); it != ctx.extra_pnginfo->end(); ++it)
      md[it.key()] = io::python_json_dumps(it.value());
  return md;
}

}  // namespace

void register_checkpoint_save(Registry& r) {
  NodeSchema s("CheckpointSave");
  s.display("Save Checkpoint").cat("advanced/model_merging").output_node_()
      .input("model", "MODEL")
      .input("clip", "CLIP")
      .input("vae", "VAE")
      .string_("filename_prefix", "checkpoints/ComfyUI")
      .hidden().hidden_input("prompt", "PROMPT").hidden_input("extra_pnginfo", "EXTRA_PNGINFO");
  r.add({s, [](const NodeInputs& in, ExecContext& ctx) {
           auto model = in.obj<Model>("model");
           auto clip = in.obj<Clip>("clip");
           auto vae = in.obj<Vae>("vae");
           auto sd = checkpoint_tensors(*model, clip.get(), vae.get(), ctx.cfg().text_encoder_fp32);
           if (continuous_vpred(*model)) {
             sd["edm_vpred.sigma_max"] = at::scalar_tensor(model->sampling->sigma_max(), at::kFloat);
             sd["edm_vpred.sigma_min"] = at::scalar_tensor(model->sampling->sigma_min(), at::kFloat);
           }
           if (model->model_type == ModelType::V_PREDICTION) sd["v_pred"] = at::empty({0});
           auto target = io::resolve_output_target(ctx.cfg().output_dir, in.str("filename_prefix"));
           std::map<std::string, io::TensorDecl> decls;
           for (const auto& [k, t] : sd) decls[k] = io::TensorDecl{t.scalar_type(), t.sizes().vec()};
           // the next free counter (never overwrite)
           io::OutputPath out = io::output_path_for(target, "safetensors", target.counter);
           while (std::filesystem::exists(out.path)) out = io::output_path_for(target, "safetensors", out.counter + 1);
           const auto md = checkpoint_metadata(*model, target.name, out.counter, ctx);
           io::save_safetensors_streamed(out.path, decls,
                                         [&](const std::string& k) { return sd.at(k).to(at::kCPU).contiguous(); }, md);
           ctx.emit("output_written", {{"path", out.path.string()}});
           return NodeOutput{};
         }});
}

}  // namespace comfy
