#pragma once
// The checkpoint layout a CLIP's text encoders are saved in (ComfyUI's
// supported_models.*.process_clip_state_dict_for_saving + diffusers_convert.convert_text_enc_state_dict_v20):
//   SD1.x       clip_l -> cond_stage_model.transformer.text_model.*   (text_projection, logit_scale dropped)
//   SD2.x       clip_h -> cond_stage_model.model.*                     (OpenCLIP names, q/k/v joined)
//   SDXL        clip_l -> conditioner.embedders.0.transformer.text_model.* (+ position_ids),
//               clip_g -> conditioner.embedders.1.model.*
//   SDXL refiner clip_g -> conditioner.embedders.0.model.*
// The OpenCLIP side carries text_projection (transposed) and logit_scale, as ComfyUI writes them.
#include <ATen/core/Tensor.h>

#include <map>
#include <string>

namespace comfy {

// `clip_sd`: ComfyUI CLIP state-dict names ("clip_g.transformer.text_model....", TextEncoder::lora_weights).
// Which layout applies follows the encoders present. Floating weights go out as fp16 (ComfyUI's
// text_encoder_dtype) unless `keep_fp32`. Throws comfy::Error for a weight it cannot place.
std::map<std::string, at::Tensor> clip_checkpoint_tensors(const std::map<std::string, at::Tensor>& clip_sd,
                                                          bool keep_fp32);

}  // namespace comfy
