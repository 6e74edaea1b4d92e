#pragma once
// Model families (ComfyUI supported_models.py + model_detection.py): one ordered table of family
// descriptions; detection reads the UNet config from the keys and shapes, walks the table and takes the
// first match. Loaders, error messages and `nodes --json` read the same table.
#include <functional>
#include <string>
#include <vector>

#include "comfy/models/checkpoint_clip.hpp"
#include "comfy/models/model.hpp"
#include "comfy/models/unet.hpp"
#include "comfy/models/weights.hpp"

namespace comfy {

struct ModelFamily {
  std::string name;        // ComfyUI's class name: "SD15", "SD20", "SDXLRefiner", "SDXL", ...
  std::string display;     // for messages: "SD1.x", "SDXL base", ...
  bool supported = true;   // false: recognised only to be refused by name
  // The match rule on the detected UNet config. Structural (levels, adm, projection kind) with the
  // family's real widths as upper bounds, so a full-size file and the tiny test files take one path.
  std::function<bool(const UNetConfig&)> match;
  LatentFormat latent_format;
  ClipKind clip = ClipKind::SD1;
  AdmKind adm = AdmKind::None;
  std::string why_not;     // unsupported rows: what to tell the user
  // instruct-pix2pix (model_base.IP2P): an 8-channel UNet taking the edited image's latent as concat
  // input. Only these rows match an 8-channel UNet, and they match nothing else.
  bool ip2p = false;
};
// In ComfyUI's order (SD15_instructpix2pix, SD15, SD20, SD21 unCLIP, SDXL_instructpix2pix, SDXLRefiner,
// SDXL).
const std::vector<ModelFamily>& model_families();

struct DetectedModel {
  const ModelFamily* family = nullptr;  // null: not a supported model (see `found`)
  UNetConfig unet;
  Prediction prediction = Prediction::EPS;
  bool zsnr = false;
  bool inpaint = false;                 // in_channels 9: concat (mask, masked_image)
  // V_PREDICTION_EDM (SDXL with key edm_vpred.sigma_max, e.g. CosXL): v-prediction on
  // ModelSamplingContinuousEDM between these sigmas (ComfyUI's defaults when a key is absent).
  bool continuous_edm = false;
  double sigma_min = 0.002, sigma_max = 120.0;
  std::string unet_prefix;              // "model.diffusion_model." in checkpoints, "" in bare UNet files
  std::string found;                    // what was found, for messages ("UNet context_dim 4096, no adm")
};

// `sd`: a whole checkpoint (UNet under model.diffusion_model.) or a bare UNet file (keys unprefixed).
// Never throws for a readable map: an unsupported layout comes back with family == null and `found` set.
DetectedModel detect_model(const TensorMap& sd);

// The MODEL of a detected family from the UNet's weights (keys without the prefix), converted once to
// the run's device and dtype. `what` names the file in messages.
std::shared_ptr<Model> build_model(const DetectedModel& d, const TensorMap& unet_weights, const RuntimeConfig& cfg,
                                   const std::string& what);

}  // namespace comfy
