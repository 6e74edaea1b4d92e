#include "comfy/models/checkpoint.hpp"

#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

#include "comfy/core/error.hpp"
#include "comfy/io/safetensors.hpp"
#include "comfy/models/unet.hpp"
#include "comfy/models/weights.hpp"
#include "comfy/models/checkpoint_clip.hpp"

namespace comfy {

namespace {
std::string shape_str(at::IntArrayRef s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}
}  // namespace

DetectedCheckpoint detect_checkpoint(const io::SafeTensors& st) {
  DetectedCheckpoint d;
  const std::string p = "model.diffusion_model.";
  auto has = [&](const std::string& k) { return st.contains(k); };
  auto no = [&](std::string fam, std::string why) {
    d.family = std::move(fam);
    d.reason = std::move(why);
    return d;
  };
  if (has(p + "joint_blocks.0.x_block.attn.qkv.weight")) return no("SD3", "keys model.diffusion_model.joint_blocks.* (MMDiT)");
  if (has(p + "double_blocks.0.img_attn.qkv.weight")) return no("Flux", "keys model.diffusion_model.double_blocks.*");
  if (!has(p + "input_blocks.0.0.weight"))
    return no("unknown", "no UNet found (no key model.diffusion_model.input_blocks.0.0.weight); is this a "
                         "checkpoint, or a LoRA / VAE / text-encoder file?");
  d.unet_prefix = p;
  const auto in_shape = st.info(p + "input_blocks.0.0.weight").shape;
  if (has(p + "label_emb.0.0.weight")) {
    const int64_t adm = st.info(p + "label_emb.0.0.weight").shape.at(1);
    std::string fam = adm == 2816 ? "SDXL" : adm == 2560 ? "SDXL refiner" : adm == 1536 ? "SD2.x unCLIP" : "SDXL-style";
    if (has("conditioner.embedders.1.model.transformer.resblocks.0.attn.in_proj_weight")) fam = "SDXL";
    return no(fam, "model.diffusion_model.label_emb.0.0.weight takes a " + std::to_string(adm) +
                       "-wide ADM vector (SD1.x has no label_emb)");
  }
  // First cross-attention of the UNet: its context width and the transformer projection kind.
  std::string t;
  for (int n = 1; n < 12 && t.empty(); ++n) {
    std::string k = p + "input_blocks." + std::to_string(n) + ".1.";
    if (has(k + "transformer_blocks.0.attn2.to_k.weight")) t = k;
  }
  if (t.empty()) return no("unknown", "no cross-attention transformer in the UNet input blocks");
  const int64_t ctx = st.info(t + "transformer_blocks.0.attn2.to_k.weight").shape.at(1);
  const bool linear = st.info(t + "proj_in.weight").shape.size() == 2;
  if (linear || ctx == 1024 || has("cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight"))
    return no("SD2.x", "context_dim " + std::to_string(ctx) + (linear ? ", linear transformer projections" : "") +
                           " (SD1.x: 768, 1x1 conv projections)");
  if (in_shape.size() != 4) return no("unknown", "model.diffusion_model.input_blocks.0.0.weight has shape " + shape_str(in_shape));
  if (in_shape[1] == 9) return no("SD1.x inpainting", "the UNet takes 9 input channels (inpainting models are not supported)");
  if (in_shape[1] == 8) return no("SD1.x instruct-pix2pix", "the UNet takes 8 input channels");
  if (in_shape[1] != 4) return no("unknown", "the UNet takes " + std::to_string(in_shape[1]) + " input channels");
  d.family = "SD15";
  d.supported = true;
  return d;
}

LoadedCheckpoint load_checkpoint(const std::filesystem::path& path, const RuntimeConfig& cfg, bool want_clip,
                                 bool want_vae) {
  const std::string fname = path.filename().string();
  auto ext = path.extension().string();
  for (auto& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  if (ext != ".safetensors" && ext != ".sft")
    throw Error("execution_error", "cannot load " + fname + ": only .safetensors checkpoints are supported (pickled " +
                                       ext + " files can run code when loaded; convert the file to safetensors)");
  auto st = io::SafeTensors::open(path);
  auto det = detect_checkpoint(*st);
  if (!det.supported)
    throw Error("execution_error", "checkpoint " + fname + " is " +
                                       (det.family == "unknown" ? std::string("not a model comfy-native knows")
                                                                : "a " + det.family + " model") +
                                       "; only SD1.x checkpoints are supported (found: " + det.reason + ")");
  LoadedCheckpoint out;
  const auto dtype = compute_dtype(cfg);
  auto unet = UNetModel::load(tensors_under(*st, det.unet_prefix), cfg.device, dtype, "UNet of " + fname);
  auto model = std::make_shared<Model>();
  model->net = unet;
  model->sampling = std::make_shared<ModelSampling>(ModelSampling::discrete());
  model->latent_format = LatentFormat::sd15();
  model->family = "SD15";
  model->dtype = dtype;
  model->device = cfg.device;
  model->info["file"] = path.string();
  model->info["unet_config"] = unet->config().describe();
  out.model = model;

  if (want_clip) out.clip = load_checkpoint_clip(tensors_under(*st, ""), ClipKind::SD1, cfg, fname);
  if (want_vae && has_prefix(*st, "first_stage_model.")) out.vae = load_vae(st, "first_stage_model.", cfg);
  spdlog::info("loaded {}: {}", fname, unet->config().describe());
  return out;
}

}  // namespace comfy
