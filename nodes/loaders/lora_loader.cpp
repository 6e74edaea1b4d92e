// LoraLoader — "Load LoRA" and LoraLoaderModelOnly (workflow-nodes-files.md 9.3). The outputs are new
// MODEL / CLIP objects with merged weights; the inputs are left untouched (copy-on-write).
#include "comfy/core/node.hpp"
#include "comfy/io/safetensors.hpp"
#include "comfy/models/clip.hpp"
#include "comfy/models/lora.hpp"
#include "comfy/models/model.hpp"
#include "comfy/models/model_patcher.hpp"
#include "comfy/models/unet.hpp"
#include "loaders/model_file_input.hpp"

namespace comfy {

namespace {

struct Patched {
  std::shared_ptr<const Model> model;
  std::shared_ptr<const Clip> clip;
};

Patched apply(const NodeInputs& in, ExecContext& ctx, std::shared_ptr<const Model> model,
              std::shared_ptr<const Clip> clip, double s_model, double s_clip) {
  const auto& cfg = ctx.cfg();
  const auto& name = in.str("lora_name");
  auto path = io::resolve_model_file(cfg, "loras", name, "lora_name");
  auto ext = path.extension().string();
  if (ext != ".safetensors" && ext != ".sft") fail("lora_name", "cannot load " + name + ": only .safetensors LoRA files are supported");

  // ComfyUI maps the LoRA's keys onto both models whatever the strengths (a strength of 0 patches nothing
  // but still counts the keys as loaded, so no "not loaded" warnings), and returns clones of both.
  std::shared_ptr<const UNetModel> unet;
  if (model) {
    unet = resolve_unet(model->net);  // builds a merged model's pending patches
    if (!unet && s_model != 0.0) fail("model", "LoRA needs a UNet model; this MODEL is '" + model->family + "'");
  }
  std::shared_ptr<io::SafeTensors> st;
  try {
    st = io::SafeTensors::open(path);
  } catch (Error& e) {
    if (e.input_name.empty()) e.at_input("lora_name");
    throw;
  }
  const TensorMap* clip_w = nullptr;
  if (clip) {
    clip_w = clip->encoder ? clip->encoder->lora_weights() : nullptr;
    bool has_te = false;
    for (const auto& k : st->names())
      has_te |= k.rfind("lora_te", 0) == 0 || k.rfind("text_encoder.", 0) == 0;
    if (!clip_w && has_te && s_clip != 0.0)
      fail("clip", "LoRA " + name + " has text-encoder weights, but this CLIP cannot be patched yet; set "
                   "strength_clip to 0 or use LoraLoaderModelOnly");
  }
  LoraMerge merged;
  try {
    merged = merge_lora(*st, unet ? &unet->config() : nullptr, unet ? &unet->weights() : nullptr, s_model, clip_w, s_clip);
  } catch (Error& e) {
    if (e.input_name.empty()) e.at_input("lora_name");
    throw;
  }
  Patched out{model, clip};
  if (model) {
    auto m = std::make_shared<Model>(*model);
    if (unet && !merged.unet.empty()) {
      m->net = unet->with_weights(merged.unet);
      m->info["lora"] = (m->info.count("lora") ? m->info["lora"] + ", " : std::string()) + name;
    }
    out.model = m;
  }
  if (clip) {
    auto c = std::make_shared<Clip>(*clip);
    if (clip_w && !merged.clip.empty()) {
      auto enc = clip->encoder->with_weights(merged.clip);
      if (!enc) fail("clip", "this CLIP text encoder cannot take LoRA weights");
      c->encoder = enc;
    }
    out.clip = c;
  }
  return out;
}

}  // namespace

void register_lora_loader(Registry& r) {
  NodeSchema s("LoraLoader");
  s.display("Load LoRA").cat("loaders")
      .input("model", "MODEL").tip("The diffusion model the LoRA will be applied to.")
      .input("clip", "CLIP").tip("The CLIP model the LoRA will be applied to.")
      .combo_fn("lora_name", loaders::list_folder("loras")).tip("The name of the LoRA.")
      .float_("strength_model", 1.0, -100.0, 100.0, 0.01)
      .float_("strength_clip", 1.0, -100.0, 100.0, 0.01)
      .output("MODEL").output("CLIP");
  NodeDef def{s, [](const NodeInputs& in, ExecContext& ctx) {
                auto model = in.obj<Model>("model");
                auto clip = in.obj<Clip>("clip");
                const double sm = in.f64("strength_model"), sc = in.f64("strength_clip");
                if (sm == 0.0 && sc == 0.0) return NodeOutput{{Value(model), Value(clip)}};
                auto p = apply(in, ctx, model, clip, sm, sc);
                return NodeOutput{{Value(p.model), Value(p.clip)}};
              }};
  r.add(std::move(def));

  NodeSchema m("LoraLoaderModelOnly");
  m.display("LoraLoaderModelOnly").cat("loaders")
      .input("model", "MODEL")
      .combo_fn("lora_name", loaders::list_folder("loras"))
      .float_("strength_model", 1.0, -100.0, 100.0, 0.01)
      .output("MODEL");
  NodeDef mdef{m, [](const NodeInputs& in, ExecContext& ctx) {
                 auto model = in.obj<Model>("model");
                 const double sm = in.f64("strength_model");
                 if (sm == 0.0) return NodeOutput{{Value(model)}};
                 return NodeOutput{{Value(apply(in, ctx, model, nullptr, sm, 0.0).model)}};
               }};
  r.add(std::move(mdef));
}

}  // namespace comfy
