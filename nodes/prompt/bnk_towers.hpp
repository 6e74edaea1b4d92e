#pragma once
// BNK advanced encoding over a CLIP object's text towers: SD1 (CLIP-L), SDXL (CLIP-L + CLIP-G) and the
// SDXL refiner (CLIP-G). Shared by BNK_CLIPTextEncodeAdvanced and BNK_CLIPTextEncodeSDXLAdvanced.
#include <string>

#include "comfy/core/node.hpp"
#include "comfy/core/types.hpp"
#include "comfy/models/clip.hpp"
#include "comfy/prompt/bnk_encode.hpp"

namespace comfy::prompt_nodes {

struct BnkRequest {
  std::string text_l, text_g;  // the same text for the plain node
  bnk::Normalization norm = bnk::Normalization::None;
  bnk::Interpretation interp = bnk::Interpretation::Comfy;
  double balance = 0.5;        // SDXL: 0 keeps only CLIP-L, 1 only CLIP-G
  bool affect_pooled = false;  // upstream's apply_to_pooled keyword (no node input)
  bool sdxl_node = false;      // BNK_CLIPTextEncodeSDXLAdvanced: needs both towers, equal chunk counts
};

// One CONDITIONING entry: SD1 -> cond, no pooled_output; SDXL -> [l_w*cond_l || g_w*cond_g] and G's pooled.
CondEntry bnk_encode_clip(const Clip& clip, const BnkRequest& req);

// Reads token_normalization / weight_interpretation, failing with the input named.
BnkRequest bnk_request(const NodeInputs& in);

}  // namespace comfy::prompt_nodes
