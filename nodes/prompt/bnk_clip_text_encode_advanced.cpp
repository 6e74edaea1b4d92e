// BNK_CLIPTextEncodeAdvanced — "CLIP Text Encode (Advanced)" (ComfyUI_ADV_CLIP_emb; nodes-prompt.md 1):
// A1111 / compel / comfy++ / down_weight interpretations of prompt weights, with token normalization,
// on SD1 and SDXL CLIPs (the text goes to both SDXL towers, balance 0.5).
#include "comfy/core/node.hpp"
#include "prompt/bnk_towers.hpp"

namespace comfy {

void register_bnk_clip_text_encode_advanced(Registry& r) {
  NodeSchema s("BNK_CLIPTextEncodeAdvanced");
  s.display("CLIP Text Encode (Advanced)").cat("conditioning/advanced")
      .string_("text", "", /*multiline=*/true)
      .input("clip", "CLIP")
      .combo("token_normalization", bnk::normalization_names())
      .combo("weight_interpretation", bnk::interpretation_names())
      .output("CONDITIONING");
  r.add({s, [](const NodeInputs& in, ExecContext&) {
           if (!in.has("clip")) fail("clip", "ERROR: clip input is invalid: None");
           auto req = prompt_nodes::bnk_request(in);
           req.text_l = req.text_g = in.str("text");
           auto cond = std::make_shared<Conditioning>();
           cond->entries.push_back(prompt_nodes::bnk_encode_clip(*in.obj<Clip>("clip"), req));
           return NodeOutput{{Value(cond)}};
         }});
}

}  // namespace comfy
