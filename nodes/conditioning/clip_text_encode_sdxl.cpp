// CLIPTextEncodeSDXL, CLIPTextEncodeSDXLRefiner (comfy_extras/nodes_clip_sdxl.py, spec M3.1 / M3.2):
// text encoding whose conditioning carries the sizes (and aesthetic score) the SDXL UNet's adm reads.
#include "comfy/core/node.hpp"
#include "comfy/core/types.hpp"
#include "comfy/models/clip.hpp"

namespace comfy {

namespace {
constexpr int64_t kMaxResolution = 16384;  // ComfyUI's nodes.MAX_RESOLUTION

std::shared_ptr<const Clip> clip_input(const NodeInputs& in) {
  if (!in.has("clip"))
    fail("clip", "ERROR: clip input is invalid: None\n\nIf the clip is from a checkpoint loader node your "
                 "checkpoint does not contain a valid clip or text encoder model.");
  auto clip = in.obj<Clip>("clip");
  if (!clip->encoder) fail("clip", "ERROR: clip input has no text encoder");
  return clip;
}

// encode_from_tokens_scheduled(tokens, add_dict): the extra keys go next to pooled_output.
NodeOutput conditioning(std::vector<CondEntry> entries, const std::map<std::string, Value>& add) {
  for (auto& e : entries)
    for (const auto& [k, v] : add) e.extra[k] = v;
  auto c = std::make_shared<Conditioning>();
  c->entries = std::move(entries);
  return NodeOutput{{Value(c)}};
}

// A token set lacking a key fails as ComfyUI's dict lookup does (KeyError), named at the clip input.
std::vector<TokenChunk>& key(TokenSets& t, const std::string& k) {
  auto it = t.find(k);
  if (it == t.end()) fail("clip", "KeyError: '" + k + "' (this CLIP has no \"" + k + "\" encoder; an SDXL CLIP is needed)");
  return it->second;
}
}  // namespace

void register_clip_text_encode_sdxl(Registry& r) {
  NodeSchema s("CLIPTextEncodeSDXL");
  s.cat("advanced/conditioning")
      .input("clip", "CLIP")
      .int_("width", 1024, 0, kMaxResolution)
      .int_("height", 1024, 0, kMaxResolution)
      .int_("crop_w", 0, 0, kMaxResolution)
      .int_("crop_h", 0, 0, kMaxResolution)
      .int_("target_width", 1024, 0, kMaxResolution)
      .int_("target_height", 1024, 0, kMaxResolution)
      .string_("text_g", "", /*multiline=*/true, /*dynamic_prompts=*/true)
      .string_("text_l", "", /*multiline=*/true, /*dynamic_prompts=*/true)
      .output("CONDITIONING");
  r.add({s, [](const NodeInputs& in, ExecContext&) {
           auto clip = clip_input(in);
           auto& enc = *clip->encoder;
           TokenSets tokens = enc.tokenize_sets(in.str("text_g"));
           TokenSets l = enc.tokenize_sets(in.str("text_l"));
           tokens["l"] = key(l, "l");
           auto& tl = tokens["l"];
           auto& tg = key(tokens, "g");
           if (tl.size() != tg.size()) {  // pad the shorter with whole empty-prompt chunks
             TokenSets empty = enc.tokenize_sets("");
             while (tl.size() < tg.size()) tl.insert(tl.end(), empty["l"].begin(), empty["l"].end());
             while (tl.size() > tg.size()) tg.insert(tg.end(), empty["g"].begin(), empty["g"].end());
           }
           return conditioning(enc.encode_sets(tokens, clip->layer_idx),
                               {{"width", Value(in.i64("width"))},
                                {"height", Value(in.i64("height"))},
                                {"crop_w", Value(in.i64("crop_w"))},
                                {"crop_h", Value(in.i64("crop_h"))},
                                {"target_width", Value(in.i64("target_width"))},
                                {"target_height", Value(in.i64("target_height"))}});
         }});
}

void register_clip_text_encode_sdxl_refiner(Registry& r) {
  NodeSchema s("CLIPTextEncodeSDXLRefiner");
  s.cat("advanced/conditioning")
      .float_("ascore", 6.0, 0.0, 1000.0, 0.01)
      .int_("width", 1024, 0, kMaxResolution)
      .int_("height", 1024, 0, kMaxResolution)
      .string_("text", "", /*multiline=*/true, /*dynamic_prompts=*/true)
      .input("clip", "CLIP")
      .output("CONDITIONING");
  r.add({s, [](const NodeInputs& in, ExecContext&) {
           auto clip = clip_input(in);
           auto& enc = *clip->encoder;
           return conditioning(enc.encode_sets(enc.tokenize_sets(in.str("text")), clip->layer_idx),
                               {{"aesthetic_score", Value(in.f64("ascore"))},
                                {"width", Value(in.i64("width"))},
                                {"height", Value(in.i64("height"))}});
         }});
}

}  // namespace comfy
