// BNK advanced encoding over SD1 / SDXL CLIP towers (nodes-prompt.md 1.3, 1.6).
#include "prompt/bnk_towers.hpp"

#include <ATen/ATen.h>

#include <algorithm>

#include "comfy/core/node.hpp"
#include "comfy/models/family_clip.hpp"

namespace comfy::prompt_nodes {
namespace {

std::vector<TokenChunk> unweighted(std::vector<TokenChunk> t) {
  for (auto& ch : t)
    for (auto& x : ch) x.weight = 1.0;
  return t;
}

const ClipPart* part(const FamilyClipEncoder& enc, const std::string& key) {
  for (const auto& p : enc.parts())
    if (p.key == key && p.model) return &p;
  return nullptr;
}

CondEntry encode_family(const FamilyClipEncoder& fam_in, const BnkRequest& req, std::optional<int64_t> layer) {
  auto& fam = const_cast<FamilyClipEncoder&>(fam_in);  // tokenizers are built lazily
  const ClipPart* l = part(fam, "l");
  const ClipPart* g = part(fam, "g");
  if (!g) fail("clip", "BNK advanced encoding needs an SDXL CLIP (CLIP-L + CLIP-G) or an SD1 CLIP; upstream returns no conditioning for this one");
  if (req.sdxl_node && !l) fail("clip", "KeyError: 'l' (BNK_CLIPTextEncodeSDXLAdvanced needs a CLIP with a CLIP-L tower)");
  auto tower = [&](const ClipPart& p) {
    return bnk::EncodeFn([&p, layer](const std::vector<TokenChunk>& c) { return encode_clip_chunks(*p.model, c, p.opts, layer).cond; });
  };
  const auto tokens_g = fam.tokenize_sets(req.text_g).at("g");
  const bnk::EncodeFn enc_g = tower(*g);
  at::Tensor cond_g = bnk::encode(tokens_g, req.norm, req.interp, enc_g);
  at::Tensor pooled = encode_clip_chunks(*g->model, unweighted(tokens_g), g->opts, layer).pooled;
  if (req.affect_pooled) pooled = bnk::affected_pooled(tokens_g, req.norm, req.interp, cond_g, pooled, enc_g);
  CondEntry e;
  e.pooled_output = pooled;
  if (!l) {
    e.cross_attn = cond_g;
    return e;
  }
  const auto tokens_l = fam.tokenize_sets(req.text_l).at("l");
  at::Tensor cond_l = bnk::encode(tokens_l, req.norm, req.interp, tower(*l));
  if (cond_l.size(1) != cond_g.size(1))
    fail("text_g", "RuntimeError: The expanded size of the tensor must match the existing size: text_l gives " +
                       std::to_string(cond_l.size(1) / 77) + " chunk(s) of 77 tokens, text_g " +
                       std::to_string(cond_g.size(1) / 77));
  const double l_w = 1 - std::max(0.0, req.balance - .5) * 2;
  const double g_w = 1 - std::max(0.0, .5 - req.balance) * 2;
  e.cross_attn = at::cat({cond_l * l_w, cond_g * g_w}, -1);
  return e;
}

}  // namespace

CondEntry bnk_encode_clip(const Clip& clip, const BnkRequest& req) {
  if (auto fam = std::dynamic_pointer_cast<FamilyClipEncoder>(clip.encoder)) return encode_family(*fam, req, clip.layer_idx);
  auto sd1 = std::dynamic_pointer_cast<Sd1ClipEncoder>(clip.encoder);
  if (!sd1 || req.sdxl_node)
    fail("clip", std::string(req.sdxl_node ? "BNK_CLIPTextEncodeSDXLAdvanced needs an SDXL CLIP" :
                                             "BNK_CLIPTextEncodeAdvanced needs an SD1.x or SDXL CLIP") +
                     "; this CLIP's text encoder cannot be reweighted token by token");
  const std::optional<int64_t> layer = clip.layer_idx;
  bnk::EncodeFn fn = [&](const std::vector<TokenChunk>& c) { return sd1->encode_token_weights(c, layer).cond; };
  CondEntry e;  // SD1: no pooled_output (upstream returns None)
  e.cross_attn = bnk::encode(sd1->tokenize(req.text_g), req.norm, req.interp, fn);
  return e;
}

BnkRequest bnk_request(const NodeInputs& in) {
  BnkRequest r;
  const auto norm = bnk::parse_normalization(in.str("token_normalization"));
  const auto interp = bnk::parse_interpretation(in.str("weight_interpretation"));
  if (!norm) fail("token_normalization", "unknown token_normalization '" + in.str("token_normalization") + "'");
  if (!interp) fail("weight_interpretation", "unknown weight_interpretation '" + in.str("weight_interpretation") + "'");
  r.norm = *norm;
  r.interp = *interp;
  return r;
}

}  // namespace comfy::prompt_nodes
