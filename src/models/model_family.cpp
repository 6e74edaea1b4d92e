// The model family table and detection (ComfyUI supported_models.py, model_detection.py; spec M2).
#include "comfy/models/model_family.hpp"

#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>
#include <sstream>

#include "comfy/core/error.hpp"

namespace comfy {

namespace {
bool any_transformer_at_level(const UNetConfig& c, size_t level) {
  size_t pos = 0;
  for (size_t l = 0; l < c.num_res_blocks.size(); ++l)
    for (int64_t r = 0; r < c.num_res_blocks[l]; ++r, ++pos)
      if (l == level && pos < c.transformer_depth.size() && c.transformer_depth[pos] > 0) return true;
  return false;
}
size_t levels(const UNetConfig& c) { return c.channel_mult.size(); }
}  // namespace

const std::vector<ModelFamily>& model_families() {
  static const std::vector<ModelFamily> table = [] {
    std::vector<ModelFamily> t;
    // SD1.x: 1x1-conv transformer projections, CLIP-L context (768), no adm.
    auto sd15 = [](const UNetConfig& c) { return !c.adm_in_channels && !c.use_linear_in_transformer && c.context_dim <= 768; };
    // SDXL base: 3 levels, none at the first, CLIP-L + bigG context (768 + 1280 = 2048).
    auto sdxl = [](const UNetConfig& c) {
      return c.adm_in_channels && c.use_linear_in_transformer && levels(c) == 3 && !any_transformer_at_level(c, 0) &&
             c.context_dim <= 2048;
    };
    // instruct-pix2pix: the SD1.x and SDXL layouts with 8 input channels (noisy latent + image latent).
    t.push_back({"SD15_instructpix2pix", "SD1.x instruct-pix2pix", true, sd15, LatentFormat::sd15(), ClipKind::SD1,
                 AdmKind::None, "", true});
    t.push_back({"SD15", "SD1.x", true, sd15, LatentFormat::sd15(), ClipKind::SD1, AdmKind::None, ""});
    // SD2.x: linear projections, OpenCLIP ViT-H context (1024), no adm.
    t.push_back({"SD20", "SD2.x", true,
                 [](const UNetConfig& c) { return !c.adm_in_channels && c.use_linear_in_transformer && c.context_dim <= 1024; },
                 LatentFormat::sd15(), ClipKind::SD2, AdmKind::None, ""});
    // SD2.1 unCLIP: an adm (image embedding) and a transformer at the first level.
    t.push_back({"SD21UnclipH", "SD2.x unCLIP", false,
                 [](const UNetConfig& c) {
                   return c.adm_in_channels && c.use_linear_in_transformer && any_transformer_at_level(c, 0) &&
                          c.context_dim <= 1024;
                 },
                 LatentFormat::sd15(), ClipKind::SD2, AdmKind::None, "SD2.x unCLIP models are not supported"});
    t.push_back({"SDXL_instructpix2pix", "SDXL instruct-pix2pix", true, sdxl, LatentFormat::sdxl(), ClipKind::SDXL,
                 AdmKind::SDXL, "", true});
    // SDXL refiner: 4 levels, no transformer at the first and last level, bigG context (1280).
    t.push_back({"SDXLRefiner", "SDXL refiner", true,
                 [](const UNetConfig& c) {
                   return c.adm_in_channels && c.use_linear_in_transformer && levels(c) == 4 &&
                          !any_transformer_at_level(c, 0) && !any_transformer_at_level(c, 3) && c.context_dim <= 1280;
                 },
                 LatentFormat::sdxl(), ClipKind::SDXLRefiner, AdmKind::SDXLRefiner, ""});
    t.push_back({"SDXL", "SDXL base", true, sdxl, LatentFormat::sdxl(), ClipKind::SDXL, AdmKind::SDXL, ""});
    return t;
  }();
  return table;
}

namespace {
bool has(const TensorMap& m, const std::string& k) { return m.count(k) != 0; }

std::string describe_found(const UNetConfig& c) {
  std::ostringstream o;
  o << "UNet context_dim " << c.context_dim << ", "
    << (c.adm_in_channels ? "adm " + std::to_string(*c.adm_in_channels) : std::string("no adm")) << ", "
    << (c.use_linear_in_transformer ? "linear" : "conv") << " projections, " << c.channel_mult.size() << " levels, "
    << c.in_channels << " input channels";
  return o.str();
}

// ComfyUI unet_prefix_from_state_dict: the most frequent of the known prefixes with > 5 keys.
std::string unet_prefix(const TensorMap& sd) {
  if (has(sd, "input_blocks.0.0.weight")) return "";
  std::string best;
  size_t best_n = 5;
  for (const char* p : {"model.diffusion_model.", "model.model.", "net."}) {
    const std::string ps = p;
    size_t n = 0;
    for (auto it = sd.lower_bound(ps); it != sd.end() && it->first.compare(0, ps.size(), ps) == 0; ++it) ++n;
    if (n > best_n) best_n = n, best = ps;
  }
  return best.empty() ? "model.diffusion_model." : best;
}

// SD2.x: ComfyUI's only v-prediction signal is the spread of one norm bias (population std > 0.09).
Prediction sd2_prediction(const TensorMap& sd, const std::string& p, int64_t in_channels) {
  auto it = sd.find(p + "output_blocks.11.1.transformer_blocks.0.norm1.bias");
  if (in_channels != 4 || it == sd.end()) return Prediction::EPS;
  const double std = it->second.to(at::kFloat).std(/*unbiased=*/false).item<double>();
  return std > 0.09 ? Prediction::V_PREDICTION : Prediction::EPS;
}
// supported_models.SDXL.model_type: Playground 2.5 (EDM, refused), V_PREDICTION_EDM (CosXL: the sigma
// range from edm_vpred.sigma_max / sigma_min), V_PREDICTION (v_pred, optionally ztsnr) or EPS. Returns
// why the file is refused, if it is.
std::optional<std::string> sdxl_model_type(const TensorMap& sd, DetectedModel& d) {
  if (has(sd, "edm_mean") && has(sd, "edm_std")) return "an SDXL EDM model (Playground 2.5 keys edm_mean, edm_std)";
  auto scalar = [&](const char* k) -> std::optional<double> {
    const at::Tensor& t = sd.at(k);
    if (t.numel() != 1) return std::nullopt;
    return t.to(at::kDouble).item<double>();
  };
  if (has(sd, "edm_vpred.sigma_max")) {
    auto mx = scalar("edm_vpred.sigma_max");
    auto mn = has(sd, "edm_vpred.sigma_min") ? scalar("edm_vpred.sigma_min") : std::optional<double>(d.sigma_min);
    if (!mx || !mn || !(*mx > 0) || !(*mn > 0))
      return std::string("an SDXL v-prediction EDM model whose edm_vpred.sigma_max / sigma_min are not positive "
                         "one-element tensors");
    d.continuous_edm = true;
    d.sigma_max = *mx;
    d.sigma_min = *mn;
    d.prediction = Prediction::V_PREDICTION;
  } else if (has(sd, "v_pred")) {
    d.prediction = Prediction::V_PREDICTION;
    d.zsnr = has(sd, "ztsnr");
  }
  return std::nullopt;
}
}  // namespace

DetectedModel detect_model(const TensorMap& sd) {
  DetectedModel d;
  const std::string p = unet_prefix(sd);
  d.unet_prefix = p;
  auto refuse = [&](std::string found) {
    d.family = nullptr;
    d.found = std::move(found);
    return d;
  };
  if (has(sd, p + "joint_blocks.0.x_block.attn.qkv.weight")) return refuse("SD3 (MMDiT keys joint_blocks.*)");
  if (has(sd, p + "double_blocks.0.img_attn.qkv.weight")) return refuse("Flux (keys double_blocks.*)");
  if (has(sd, "down_blocks.0.resnets.0.conv1.weight") || has(sd, "conv_in.weight"))
    return refuse("a diffusers-layout UNet (keys down_blocks.*); only the original (ldm) layout is read");
  if (!has(sd, p + "input_blocks.0.0.weight"))
    return refuse("no UNet (no key " + p + "input_blocks.0.0.weight); is this a LoRA, VAE or text-encoder file?");
  try {
    d.unet = UNetConfig::detect(sd, p);
  } catch (const Error& e) {
    return refuse(e.what());
  }
  const auto& c = d.unet;
  if (c.out_channels != 4) return refuse(describe_found(c) + ", " + std::to_string(c.out_channels) + " output channels");
  if (c.in_channels != 4 && c.in_channels != 8 && c.in_channels != 9) return refuse(describe_found(c));
  d.inpaint = c.in_channels == 9;
  const bool ip2p = c.in_channels == 8;
  for (const auto& f : model_families())
    if (f.ip2p == ip2p && f.match(c)) {
      if (!f.supported) return refuse(describe_found(c) + ": " + f.why_not);
      d.family = &f;
      break;
    }
  if (!d.family)
    return refuse(describe_found(c) + (ip2p ? ": not a supported instruct-pix2pix model family (SD1.x and SDXL are)"
                                            : ": not a supported model family"));

  if (d.family->name == "SD20") d.prediction = sd2_prediction(sd, p, c.in_channels);
  if (d.family->clip == ClipKind::SDXL) {
    if (auto why = sdxl_model_type(sd, d)) return refuse(*why);
  }
  d.found = d.family->display + (d.inpaint ? " inpainting" : "") +
            (d.prediction == Prediction::V_PREDICTION ? (d.continuous_edm ? " v-prediction EDM" : " v-prediction") : "") +
            " (" + describe_found(c) + ")";
  return d;
}

std::shared_ptr<Model> build_model(const DetectedModel& d, const TensorMap& unet_weights, const RuntimeConfig& cfg,
                                   const std::string& what) {
  if (!d.family) throw Error("invalid_checkpoint", what + " is not a model comfy-native can run (found: " + d.found + ")");
  const auto dtype = compute_dtype(cfg);
  auto unet = UNetModel::load(unet_weights, cfg.device, dtype, "UNet of " + what);
  auto model = std::make_shared<Model>();
  model->net = unet;
  model->sampling = std::make_shared<ModelSampling>(
      d.continuous_edm ? ModelSampling::continuous_edm(d.sigma_min, d.sigma_max, 1.0, d.prediction)
                       : ModelSampling::discrete("linear", 0.00085, 0.012, 1000, d.zsnr, d.prediction));
  model->latent_format = d.family->latent_format;
  model->family = d.family->name;
  model->adm = d.family->adm;
  model->inpaint = d.inpaint;
  model->model_type = d.continuous_edm                          ? ModelType::V_PREDICTION_EDM
                      : d.prediction == Prediction::V_PREDICTION ? ModelType::V_PREDICTION
                                                                 : ModelType::EPS;
  model->ip2p = d.family->ip2p;
  // SDXL_instructpix2pix: CosXL edit (V_PREDICTION_EDM) takes the image latent through process_in,
  // diffusers-style SDXL and SD1.5 pix2pix raw.
  model->ip2p_process_in = d.family->ip2p && d.family->clip == ClipKind::SDXL && d.continuous_edm;
  model->dtype = dtype;
  model->device = cfg.device;
  model->info["unet_config"] = unet->config().describe();
  model->info["detected"] = d.found;
  return model;
}

}  // namespace comfy
