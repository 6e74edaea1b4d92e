#include "comfy/models/random_checkpoint.hpp"

#include <ATen/ATen.h>

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

// CLIP-L text model keys of an SD1.5 file (cond_stage_model.transformer.text_model.*).
void clip_decls(std::map<std::string, io::TensorDecl>& d, bool tiny, c10::ScalarType dt) {
  const int64_t hidden = tiny ? 32 : 768, inter = tiny ? 64 : 3072, layers = tiny ? 3 : 12;
  const std::string p = "cond_stage_model.transformer.text_model.";
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
}  // namespace

size_t write_random_checkpoint(const std::filesystem::path& out, const RandomCheckpointOptions& opt) {
  UNetConfig ucfg = UNetConfig::sd15();
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
  clip_decls(decls, opt.tiny, opt.dtype);

  RandomWeights rnd(opt.seed, opt.dtype);
  io::save_safetensors_streamed(
      out, decls,
      [&](const std::string& name) -> at::Tensor {
        const auto& d = decls.at(name);
        if (d.dtype == at::kLong) return at::arange(d.shape.back(), at::kLong).reshape(d.shape);  // position_ids
        return rnd.get(name, d.shape);
      },
      {{"format", "pt"}, {"comfy_native", opt.tiny ? "random tiny SD1.5 layout" : "random SD1.5 layout"}});
  return decls.size();
}

}  // namespace comfy
