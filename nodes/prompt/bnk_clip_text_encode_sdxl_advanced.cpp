// BNK_CLIPTextEncodeSDXLAdvanced — "CLIP Text Encode SDXL (Advanced)" (ComfyUI_ADV_CLIP_emb;
// nodes-prompt.md 1.6): text_l to CLIP-L, text_g to CLIP-G, mixed by balance.
#include "comfy/core/node.hpp"
#include "prompt/bnk_towers.hpp"

namespace comfy {

void register_bnk_clip_text_encode_sdxl_advanced(Registry& r) {
  NodeSchema s("BNK_CLIPTextEncodeSDXLAdvanced");
  s.display("CLIP Text Encode SDXL (Advanced)").cat("conditioning/advanced")
      .string_("text_l", "", /*multiline=*/true)
      .string_("text_g", "", /*multiline=*/true)
      .input("clip", "CLIP")
      .combo("token_normalization", bnk::normalization_names())
      .combo("weight_interpretation", bnk::interpretation_names())
      .float_("balance", 0.5, 0.0, 1.0, 0.01)
      .output("CONDITIONING");
  r.add({s, [](const NodeInputs& in, ExecContext&) {
           if (!in.has("clip")) fail("clip", "ERROR: clip input is invalid: None");
           auto req = prompt_nodes::bnk_request(in);
           req.text_l = in.str("text_l");
           req.text_g = in.str("text_g");
           req.balance = in.f64("balance");
           req.sdxl_node = true;
           auto cond = std::make_shared<Conditioning>();
           cond->entries.push_back(prompt_nodes::bnk_encode_clip(*in.obj<Clip>("clip"), req));
           return NodeOutput{{Value(cond)}};
         }});
}

}  // namespace comfy
