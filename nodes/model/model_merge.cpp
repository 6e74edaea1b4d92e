// ModelMergeSimple / ModelMergeSubtract / ModelMergeAdd / CLIPMergeSimple (comfy_extras/nodes_model_merging.py,
// nodes-companions.md 8): model1 cloned with one "diff" patch per UNet key of model2 (model2's weight with
// its own patches applied): W = strength_model * W1 + strength_patch * W2'. The UNet patches are lazy:
// nothing is computed or copied until the merged model is used.
#include <ATen/ATen.h>

#include <set>

#include "comfy/core/node.hpp"
#include "comfy/models/clip.hpp"
#include "comfy/models/model.hpp"
#include "comfy/models/model_patcher.hpp"
#include "comfy/models/unet.hpp"

namespace comfy {

namespace {

bool is_unet(const std::shared_ptr<DiffusionNet>& n) {
  return n && (std::dynamic_pointer_cast<UNetModel>(n) || std::dynamic_pointer_cast<PatchedUNet>(n));
}

// add_patches(model2.get_key_patches("diffusion_model."), strength_patch, strength_model) on a clone of model1.
std::shared_ptr<Model> merge_models(const NodeInputs& in, double strength_patch, double strength_model) {
  auto m1 = in.obj<Model>("model1");
  auto m2 = in.obj<Model>("model2");
  if (!is_unet(m1->net)) fail("model1", "model merging needs a UNet diffusion model; model1 is '" + m1->family + "'");
  if (!is_unet(m2->net)) fail("model2", "model merging needs a UNet diffusion model; model2 is '" + m2->family + "'");
  if (m1->family != m2->family)
    fail("model2", "cannot merge a " + m2->family + " model into a " + m1->family + " model (different model families)");
  const auto keys1 = unet_keys(*m1->net);
  const std::set<std::string> has1(keys1.begin(), keys1.end());
  std::map<std::string, std::vector<WeightPatch>> patches;
  for (auto& k : unet_keys(*m2->net))
    if (has1.count(k)) patches[k].push_back(WeightPatch{strength_patch, strength_model, m2->net});  // else skipped
  auto out = std::make_shared<Model>(*m1);
  out->net = std::make_shared<PatchedUNet>(m1->net, std::move(patches));
  return out;
}

// CLIPMergeSimple: the text encoder's weights merged key by key (skipping position_ids / logit_scale).
std::shared_ptr<Clip> merge_clips(const NodeInputs& in, double ratio) {
  auto c1 = in.obj<Clip>("clip1");
  auto c2 = in.obj<Clip>("clip2");
  const TensorMap* w1 = c1->encoder ? c1->encoder->lora_weights() : nullptr;
  const TensorMap* w2 = c2->encoder ? c2->encoder->lora_weights() : nullptr;
  if (!w1) fail("clip1", "this CLIP text encoder cannot be merged");
  if (!w2) fail("clip2", "this CLIP text encoder cannot be merged");
  TensorMap replaced;
  for (auto& [k, v2] : *w2) {
    auto ends = [&](const std::string& s) { return k.size() >= s.size() && k.compare(k.size() - s.size(), s.size(), s) == 0; };
    if (ends(".position_ids") || ends(".logit_scale")) continue;
    auto it = w1->find(k);
    if (it == w1->end()) continue;
    if (it->second.sizes() != v2.sizes()) fail("clip2", "cannot merge: weight '" + k + "' has another shape in clip2");
    at::Tensor w = it->second.to(at::kFloat, false, true);
    if (ratio != 1.0) w.mul_(ratio);
    w.add_(v2.to(w.device(), at::kFloat) * (1.0 - ratio));
    replaced[k] = w;
  }
  auto enc = c1->encoder->with_weights(replaced);
  if (!enc) fail("clip1", "this CLIP text encoder cannot be merged");
  auto out = std::make_shared<Clip>(*c1);
  out->encoder = enc;
  return out;
}

}  // namespace

void register_model_merge_nodes(Registry& r) {
  NodeSchema s("ModelMergeSimple");
  s.display("ModelMergeSimple").cat("advanced/model_merging").module("comfy_extras.nodes_model_merging")
      .input("model1", "MODEL").input("model2", "MODEL").float_("ratio", 1.0, 0.0, 1.0, 0.01).output("MODEL");
  r.add({s, [](const NodeInputs& in, ExecContext&) {
           const double ratio = in.f64("ratio");
           return NodeOutput{{Value(merge_models(in, 1.0 - ratio, ratio))}};
         }});

  NodeSchema sub("ModelMergeSubtract");
  sub.display("ModelMergeSubtract").cat("advanced/model_merging").module("comfy_extras.nodes_model_merging")
      .input("model1", "MODEL").input("model2", "MODEL").float_("multiplier", 1.0, -10.0, 10.0, 0.01).output("MODEL");
  r.add({sub, [](const NodeInputs& in, ExecContext&) {
           const double m = in.f64("multiplier");
           return NodeOutput{{Value(merge_models(in, -m, m))}};
         }});

  NodeSchema add("ModelMergeAdd");
  add.display("ModelMergeAdd").cat("advanced/model_merging").module("comfy_extras.nodes_model_merging")
      .input("model1", "MODEL").input("model2", "MODEL").output("MODEL");
  r.add({add, [](const NodeInputs& in, ExecContext&) { return NodeOutput{{Value(merge_models(in, 1.0, 1.0))}}; }});

  NodeSchema c("CLIPMergeSimple");
  c.display("CLIPMergeSimple").cat("advanced/model_merging").module("comfy_extras.nodes_model_merging")
      .input("clip1", "CLIP").input("clip2", "CLIP").float_("ratio", 1.0, 0.0, 1.0, 0.01).output("CLIP");
  r.add({c, [](const NodeInputs& in, ExecContext&) { return NodeOutput{{Value(merge_clips(in, in.f64("ratio")))}}; }});
}

}  // namespace comfy
