// BNK_CLIPTextEncodeAdvanced — "CLIP Text Encode (Advanced)" (ComfyUI_ADV_CLIP_emb; nodes-prompt.md 1):
// A1111 / compel / comfy++ / down_weight interpretations of prompt weights, with token normalization.
#include "comfy/core/node.hpp"
#include "comfy/core/types.hpp"
#include "comfy/models/clip.hpp"
#include "comfy/prompt/bnk_encode.hpp"

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
           auto clip = in.obj<Clip>("clip");
           auto sd1 = std::dynamic_pointer_cast<Sd1ClipEncoder>(clip->encoder);
           if (!sd1)
             fail("clip", "BNK_CLIPTextEncodeAdvanced needs a CLIP whose tokens can be reweighted (SD1.x CLIP-L); "
                          "this CLIP's text encoder does not offer that");
           const auto norm = bnk::parse_normalization(in.str("token_normalization"));
           const auto interp = bnk::parse_interpretation(in.str("weight_interpretation"));
           if (!norm) fail("token_normalization", "unknown token_normalization '" + in.str("token_normalization") + "'");
           if (!interp) fail("weight_interpretation", "unknown weight_interpretation '" + in.str("weight_interpretation") + "'");
           const std::optional<int64_t> layer = clip->layer_idx;  // nullopt = the family default
           bnk::EncodeFn encode_fn = [&](const std::vector<TokenChunk>& chunks) {
             return sd1->encode_token_weights(chunks, layer).cond;
           };
           CondEntry entry;  // SD1: no pooled_output (upstream returns None)
           entry.cross_attn = bnk::encode(sd1->tokenize(in.str("text")), *norm, *interp, encode_fn);
           auto cond = std::make_shared<Conditioning>();
           cond->entries.push_back(entry);
           return NodeOutput{{Value(cond)}};
         }});
}

}  // namespace comfy
