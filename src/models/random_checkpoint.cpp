#include "comfy/models/random_checkpoint.hpp"

#include <ATen/ATen.h>

#include <stdexcept>

#include "comfy/io/safetensors.hpp"
#include "comfy/models/unet.hpp"
#include "comfy/models/vae.hpp"
#include "comfy/models/weights.hpp"

namespace comfy {

namespace {
// Records what a network asks for and hands out storage-free meta tensors.
class ShapeRecorder : public WeightSource {
 public:
  explicit ShapeRecorder(std::string prefix, c10::ScalarType dtype) : prefix_(std::move(prefix)), dtype_(dtype) {}
  at::Tensor get(const std::string& name, std::vector<int64_t> shape) override {
    decls[prefix_ + name] = {dtype_, shape};
    return taken_[name] = at::empty(shape, at::TensorOptions().device(at::kMeta));
  }
  bool has(const std::string&) const override { return false; }
  std::map<std::string, io::TensorDecl> decls;

 private:
  std::string prefix_;
  c10::ScalarType dtype_;
};

// CLIP-L text model keys (HF layout) under `prefix` + "text_model.".
void clip_decls(std::map<std::string, io::TensorDecl>& d, bool tiny, c10::ScalarType dt,
                const std::string& prefix = "cond_stage_model.transformer.") {
  const int64_t hidden = tiny ? 32 : 768, inter = tiny ? 64 : 3072, layers = tiny ? 3 : 12;
  const std::string p = prefix + "text_model.";
  d[p + "embeddings.token_embedding.weight"] = {dt, {49408, hidden}};
  d[p + "embeddings.position_embedding.weight"] = {dt, {77, hidden}};
  d[p + "embeddings.position_ids"] = {at::kLong, {1, 77}};
  for (int64_t l = 0; l < layers; ++l) {
    const std::string q = p + "encoder.layers." + std::to_string(l) + ".";
    for (const char* proj : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
      d[q + "self_attn." + proj + ".weight"] = {dt, {hidden, hidden}};
      d[q + "self_attn." + proj + ".bias"] = {dt, {hidden}};
    }
    for (const char* ln : {"layer_norm1", "layer_norm2"}) {
      d[q + ln + ".weight"] = {dt, {hidden}};
      d[q + ln + ".bias"] = {dt, {hidden}};
    }
    d[q + "mlp.fc1.weight"] = {dt, {inter, hidden}};
    d[q + "mlp.fc1.bias"] = {dt, {inter}};
    d[q + "mlp.fc2.weight"] = {dt, {hidden, inter}};
    d[q + "mlp.fc2.bias"] = {dt, {hidden}};
  }
  d[p + "final_layer_norm.weight"] = {dt, {hidden}};
  d[p + "final_layer_norm.bias"] = {dt, {hidden}};
}

// An OpenCLIP text tower (spec M1.1) under `p`: ViT-H (SD2) or ViT-bigG (SDXL).
void open_clip_decls(std::map<std::string, io::TensorDecl>& d, const std::string& p, int64_t width, int64_t layers,
                     c10::ScalarType dt) {
  d[p + "token_embedding.weight"] = {dt, {49408, width}};
  d[p + "positional_embedding"] = {dt, {77, width}};
  for (int64_t l = 0; l < layers; ++l) {
    const std::string q = p + "transformer.resblocks." + std::to_string(l) + ".";
    d[q + "ln_1.weight"] = {dt, {width}};
    d[q + "ln_1.bias"] = {dt, {width}};
    d[q + "attn.in_proj_weight"] = {dt, {3 * width, width}};
    d[q + "attn.in_proj_bias"] = {dt, {3 * width}};
    d[q + "attn.out_proj.weight"] = {dt, {width, width}};
    d[q + "attn.out_proj.bias"] = {dt, {width}};
    d[q + "ln_2.weight"] = {dt, {width}};
    d[q + "ln_2.bias"] = {dt, {width}};
    d[q + "mlp.c_fc.weight"] = {dt, {4 * width, width}};
    d[q + "mlp.c_fc.bias"] = {dt, {4 * width}};
    d[q + "mlp.c_proj.weight"] = {dt, {width, 4 * width}};
    d[q + "mlp.c_proj.bias"] = {dt, {width}};
  }
  d[p + "ln_final.weight"] = {dt, {width}};
  d[p + "ln_final.bias"] = {dt, {width}};
  d[p + "text_projection"] = {dt, {width, width}};
  d[p + "logit_scale"] = {dt, {}};
}

// The full-size UNet of each family (ComfyUI supported_models.py unet_config).
}  // namespace

UNetConfig family_unet_config(const std::string& family) {
  UNetConfig c = UNetConfig::sd15();
  if (family == "sd15") return c;
  if (family == "inpaint") {
    c.in_channels = 9;
    return c;
  }
  c.use_linear_in_transformer = true;
  c.num_heads = -1;
  c.num_head_channels = 64;
  if (family == "sd2v") {
    c.context_dim = 1024;
    return c;
  }
  if (family == "sdxl") {
    c.channel_mult = {1, 2, 4};
    c.num_res_blocks = {2, 2, 2};
    c.transformer_depth = {0, 0, 2, 2, 10, 10};
    c.transformer_depth_middle = 10;
    c.transformer_depth_output = {0, 0, 0, 2, 2, 2, 10, 10, 10};
    c.context_dim = 2048;
    c.adm_in_channels = 2816;
    return c;
  }
  throw std::invalid_argument("unknown checkpoint family '" + family + "' (sd15, sdxl, sd2v, inpaint)");
}

size_t write_random_checkpoint(const std::filesystem::path& out, const RandomCheckpointOptions& opt) {
  UNetConfig ucfg = family_unet_config(opt.family);
  VaeConfig vcfg = VaeConfig::sd();
  if (opt.tiny) {
    ucfg.model_channels = 32;
    ucfg.channel_mult = {1, 2};
    ucfg.num_res_blocks = {1, 1};
    ucfg.transformer_depth = {1, 1};
    ucfg.transformer_depth_output = {1, 1, 1, 1};
    ucfg.context_dim = 32;
    vcfg.ch = 32;
    vcfg.ch_mult = {1, 2};
    vcfg.num_res_blocks = 1;
  }
  ShapeRecorder unet("model.diffusion_model.", opt.dtype), vae("first_stage_model.", opt.dtype);
  UNetModel u(ucfg, unet);
  AutoencoderKL v(vcfg, vae);
  std::map<std::string, io::TensorDecl> decls = unet.decls;
  decls.insert(vae.decls.begin(), vae.decls.end());
  if (opt.family == "sdxl") {
    clip_decls(decls, false, opt.dtype, "conditioner.embedders.0.transformer.");
    open_clip_decls(decls, "conditioner.embedders.1.model.", 1280, 32, opt.dtype);
  } else if (opt.family == "sd2v") {
    open_clip_decls(decls, "cond_stage_model.model.", 1024, 24, opt.dtype);
  } else {
    clip_decls(decls, opt.tiny, opt.dtype);
  }

  RandomWeights rnd(opt.seed, opt.dtype);
  io::save_safetensors_streamed(
      out, decls,
      [&](const std::string& name) -> at::Tensor {
        const auto& d = decls.at(name);
        if (d.dtype == at::kLong) return at::arange(d.shape.back(), at::kLong).reshape(d.shape);  // position_ids
        // ComfyUI reads SD2 v-prediction from this bias's spread alone (std > 0.09; biases here are 0.05n).
        if (opt.family == "sd2v" && name == "model.diffusion_model.output_blocks.11.1.transformer_blocks.0.norm1.bias")
          return rnd.get(name, d.shape) * 4;
        return rnd.get(name, d.shape);
      },
      {{"format", "pt"}, {"comfy_native", std::string(opt.tiny ? "random tiny " : "random ") + opt.family + " layout"}});
  return decls.size();
}

}  // namespace comfy
