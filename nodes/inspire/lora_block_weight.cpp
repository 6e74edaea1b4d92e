// LoraLoaderBlockWeight //Inspire, MakeLBW //Inspire, ApplyLBW //Inspire (nodes-companions.md 3.1, 3.4):
// a LoRA whose strength is set per UNet block by a block vector.
#include <ATen/ATen.h>

#include "inspire/inspire_pack.hpp"
#include "comfy/io/model_folders.hpp"
#include "comfy/io/safetensors.hpp"
#include "comfy/models/lbw.hpp"
#include "comfy/models/model_patcher.hpp"
#include "comfy/models/unet.hpp"
#include "inspire/lbw_model.hpp"
#include "loaders/model_file_input.hpp"

namespace comfy::lbw {

namespace {

const std::string kDefaultVector = "1,0,0,0,0,0,0,0,1,1,1,1,1,1,1,1,1";

// category_filter: "All" + the distinct sub-folders of the lora list (a UI filter only).
std::vector<std::string> lora_dirs(const RuntimeConfig& cfg) {
  std::vector<std::string> out{"All"};
  for (auto& n : io::ModelFolders::from_config(cfg).list("loras")) {
    auto p = n.rfind('/');
    std::string d = p == std::string::npos ? "" : n.substr(0, p);
    if (std::find(out.begin(), out.end(), d) == out.end()) out.push_back(d);
  }
  return out;
}

NodeSchema& lbw_vector_inputs(NodeSchema& s) {
  s.bool_("inverse", false, "True", "False")
      .int_("seed", 0, 0, kSeedMax)
      .float_("A", 4.0, -10.0, 10.0, 0.01)
      .float_("B", 1.0, -10.0, 10.0, 0.01)
      .combo("preset", preset_choices())
      .string_("block_vector", kDefaultVector, true)
      .bool_("bypass", false, "True", "False");
  s.last().extra["pysssss.autocomplete"] = false;
  return s;
}

}  // namespace

std::pair<std::shared_ptr<LbwModel>, std::string> make_lbw(const NodeInputs& in, ExecContext& ctx) {
  auto model = in.obj<Model>("model");
  auto clip = in.obj<Clip>("clip");
  const auto& cfg = ctx.cfg();
  const auto& name = in.str("lora_name");
  auto path = io::resolve_model_file(cfg, "loras", name, "lora_name");
  auto ext = path.extension().string();
  if (ext != ".safetensors" && ext != ".sft") fail("lora_name", "cannot load " + name + ": only .safetensors LoRA files are supported");
  std::shared_ptr<io::SafeTensors> st;
  try {
    st = io::SafeTensors::open(path);
  } catch (Error& e) {
    if (e.input_name.empty()) e.at_input("lora_name");
    throw;
  }
  auto unet = resolve_unet(model->net);
  if (!unet) fail("model", "LoRA Block Weight needs a UNet model; this MODEL is '" + model->family + "'");
  const TensorMap* clip_w = clip->encoder ? clip->encoder->lora_weights() : nullptr;
  LoadedLora loaded;
  try {
    loaded = load_lora_modules(*st, &unet->config(), &unet->weights(), clip_w);
  } catch (Error& e) {
    if (e.input_name.empty()) e.at_input("lora_name");
    throw;
  }
  std::vector<std::string> keys;
  std::map<std::string, std::shared_ptr<const LoraModule>> by_key;
  for (auto& m : loaded.modules) {
    keys.push_back(m.model_key);
    by_key[m.model_key] = std::make_shared<LoraModule>(m);
  }
  BlockWeights bw = block_weights(keys, in.str("block_vector"), in.boolean("inverse"), in.u64("seed"), in.f64("A"),
                                  in.f64("B"));
  auto lbw = std::make_shared<LbwModel>();
  for (auto& [k, r] : bw.ratios) lbw->blocks.push_back({by_key.at(k), r});
  lbw->muted = bw.muted;
  return {lbw, bw.populated_vector};
}

Patched apply_lbw(std::shared_ptr<const Model> model, std::shared_ptr<const Clip> clip, const LbwModel& lbw,
                  double strength_model, double strength_clip) {
  std::set<std::string> muted(lbw.muted.begin(), lbw.muted.end());
  std::shared_ptr<UNetModel> unet = resolve_unet(model->net);
  const TensorMap* clip_w = clip && clip->encoder ? clip->encoder->lora_weights() : nullptr;
  TensorMap unet_rep, clip_rep;
  for (auto& b : lbw.blocks) {
    const std::string& key = b.patch->model_key;
    if (muted.count(key)) continue;
    if (key.find("text") != std::string::npos) {  // CLIP weights go by their ComfyUI names
      const std::string& k = key;
      if (!clip_w || !clip_w->count(k)) continue;
      const at::Tensor& w = clip_rep.count(k) ? clip_rep.at(k) : clip_w->at(k);
      clip_rep[k] = lora_patched_weight(w, *b.patch, strength_clip * b.ratio);
    } else {
      const std::string prefix = "diffusion_model.";
      if (!unet || key.compare(0, prefix.size(), prefix) != 0) continue;
      const std::string k = key.substr(prefix.size());
      if (!unet->weights().count(k)) continue;
      const at::Tensor& w = unet_rep.count(k) ? unet_rep.at(k) : unet->weights().at(k);
      unet_rep[k] = lora_patched_weight(w, *b.patch, strength_model * b.ratio);
    }
  }
  Patched out{model, clip};
  auto m = std::make_shared<Model>(*model);  // ComfyUI always returns clones
  if (unet && !unet_rep.empty()) m->net = unet->with_weights(unet_rep);
  out.model = m;
  if (clip) {
    auto c = std::make_shared<Clip>(*clip);
    if (!clip_rep.empty()) {
      auto enc = clip->encoder->with_weights(clip_rep);
      if (!enc) fail("clip", "this CLIP text encoder cannot take LoRA weights");
      c->encoder = enc;
    }
    out.clip = c;
  }
  return out;
}

}  // namespace comfy::lbw

namespace comfy {

using namespace lbw;

void register_lora_block_weight_nodes(Registry& r) {
  NodeSchema s("LoraLoaderBlockWeight //Inspire");
  s.display("LoRA Loader (Block Weight)").cat("InspirePack/LoraBlockWeight").module(kInspirePackModule)
      .input("model", "MODEL").input("clip", "CLIP")
      .combo_fn("category_filter", lora_dirs)
      .combo_fn("lora_name", loaders::list_folder("loras"))
      .float_("strength_model", 1.0, -10.0, 10.0, 0.01)
      .float_("strength_clip", 1.0, -10.0, 10.0, 0.01);
  lbw_vector_inputs(s).output("MODEL", "model").output("CLIP", "clip").output("STRING", "populated_vector");
  r.add({s, [](const NodeInputs& in, ExecContext& ctx) {
           auto model = in.obj<Model>("model");
           auto clip = in.obj<Clip>("clip");
           const double sm = in.f64("strength_model"), sc = in.f64("strength_clip");
           if ((sm == 0 && sc == 0) || in.boolean("bypass")) return NodeOutput{{Value(model), Value(clip), Value("")}};
           auto [lbw, populated] = make_lbw(in, ctx);
           auto p = apply_lbw(model, clip, *lbw, sm, sc);
           return NodeOutput{{Value(p.model), Value(p.clip), Value(populated)}};
         }});

  NodeSchema mk("MakeLBW //Inspire");
  mk.display("Make LoRA Block Weight").cat("InspirePack/LoraBlockWeight").module(kInspirePackModule)
      .input("model", "MODEL").input("clip", "CLIP")
      .combo_fn("category_filter", lora_dirs)
      .combo_fn("lora_name", loaders::list_folder("loras"));
  lbw_vector_inputs(mk).output("LBW_MODEL", "lbw_model").output("STRING", "populated_vector");
  r.add({mk, [](const NodeInputs& in, ExecContext& ctx) {
           auto [lbw, populated] = make_lbw(in, ctx);  // bypass is accepted and ignored, as upstream
           return NodeOutput{{Value(lbw), Value(populated)}};
         }});

  NodeSchema ap("ApplyLBW //Inspire");
  ap.display("Apply LoRA Block Weight").cat("InspirePack/LoraBlockWeight").module(kInspirePackModule)
      .input("model", "MODEL").input("clip", "CLIP")
      .float_("strength_model", 1.0, -10.0, 10.0, 0.01)
      .float_("strength_clip", 1.0, -10.0, 10.0, 0.01)
      .input("lbw_model", "LBW_MODEL")
      .output("MODEL").output("CLIP");
  r.add({ap, [](const NodeInputs& in, ExecContext&) {
           auto p = apply_lbw(in.obj<Model>("model"), in.obj<Clip>("clip"), *in.obj<LbwModel>("lbw_model"),
                              in.f64("strength_model"), in.f64("strength_clip"));
           return NodeOutput{{Value(p.model), Value(p.clip)}};
         }});
}

}  // namespace comfy
