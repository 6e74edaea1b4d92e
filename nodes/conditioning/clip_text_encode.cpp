// CLIPTextEncode — "CLIP Text Encode (Prompt)" (workflow-nodes-files.md 9.5)
#include "comfy/core/node.hpp"
#include "comfy/core/types.hpp"
#include "comfy/models/clip.hpp"

namespace comfy {

void register_clip_text_encode(Registry& r) {
  NodeSchema s("CLIPTextEncode");
  s.display("CLIP Text Encode (Prompt)").cat("conditioning")
      .desc("Encodes a text prompt using a CLIP model into an embedding that can be used to guide the "
            "diffusion model towards generating specific images.")
      .string_("text", "", /*multiline=*/true, /*dynamic_prompts=*/true)
      .tip("The text to be encoded.")
      .input("clip", "CLIP")
      .tip("The CLIP model used for encoding the text.")
      .output("CONDITIONING");
  s.outputs.back().tooltip = "A conditioning containing the embedded text used to guide the diffusion model.";
  r.add({s, [](const NodeInputs& in, ExecContext&) {
           if (!in.has("clip"))
             fail("clip", "ERROR: clip input is invalid: None\n\nIf the clip is from a checkpoint loader node your "
                          "checkpoint does not contain a valid clip or text encoder model.");
           auto clip = in.obj<Clip>("clip");
           if (!clip->encoder) fail("clip", "ERROR: clip input has no text encoder");
           auto c = std::make_shared<Conditioning>();
           c->entries = clip->encoder->encode(in.str("text"), clip->layer_idx);
           return NodeOutput{{Value(c)}};
         }});
}

}  // namespace comfy
