// Stand-alone text-encoder files -> CLIP objects (ComfyUI v0.8.0 comfy/sd.py load_text_encoder_state_dicts,
// detect_te_model; sdxl_clip.SDXLClipModel.load_sd picks bigG by encoder.layers.30).
#include "comfy/models/clip_files.hpp"

#include "comfy/core/error.hpp"
#include "comfy/models/family_clip.hpp"

namespace comfy {

TextEncoderModel detect_te_model(const TensorMap& hf) {
  if (hf.count("encoder.layers.30.mlp.fc1.weight")) return TextEncoderModel::ClipG;
  if (hf.count("encoder.layers.22.mlp.fc1.weight")) return TextEncoderModel::ClipH;
  if (hf.count("encoder.layers.0.mlp.fc1.weight")) return TextEncoderModel::ClipL;
  return TextEncoderModel::None;
}

const char* te_model_name(TextEncoderModel m) {
  switch (m) {
    case TextEncoderModel::ClipL: return "CLIP-L";
    case TextEncoderModel::ClipH: return "OpenCLIP ViT-H";
    case TextEncoderModel::ClipG: return "OpenCLIP ViT-bigG";
    default: return "no CLIP text model";
  }
}

namespace {

// What a file holds when it is no CLIP text encoder: a few of its keys, for the message.
std::string describe(const TensorMap& sd) {
  if (sd.empty()) return "no tensors";
  std::string keys;
  int n = 0;
  for (const auto& [k, t] : sd) {
    if (n++ == 4) break;
    keys += (n > 1 ? ", " : "") + k;
  }
  return std::to_string(sd.size()) + " tensors (" + keys + (sd.size() > 4 ? ", ..." : "") + ")";
}

struct Detected {
  TensorMap hf;
  TextEncoderModel model;
  const std::string* name;
};

Detected detect(const TextEncoderFile& f) {
  Detected d{clip_text_tensors(f.tensors), TextEncoderModel::None, &f.name};
  d.model = d.hf.empty() ? TextEncoderModel::None : detect_te_model(d.hf);
  if (d.model == TextEncoderModel::None)
    throw Error("invalid_text_encoder", f.name + " is not a CLIP text encoder of a known layout (expected "
                                                  "text_model.encoder.layers.N... or transformer.resblocks.N...); found " +
                                                  describe(f.tensors));
  return d;
}

}  // namespace

std::shared_ptr<Clip> load_clip_files(const std::vector<TextEncoderFile>& files, const std::string& clip_type,
                                      const RuntimeConfig& cfg) {
  std::vector<Detected> te;
  for (const auto& f : files) te.push_back(detect(f));
  if (te.size() == 1) {
    const auto& d = te[0];
    if (clip_type != "stable_diffusion")
      throw Error("invalid_text_encoder", "CLIP type '" + clip_type + "' is not supported (only stable_diffusion); " +
                                              *d.name + " holds " + te_model_name(d.model));
    switch (d.model) {
      case TextEncoderModel::ClipL: return load_sd1_clip(d.hf, cfg, *d.name);
      case TextEncoderModel::ClipH: return load_family_clip(ClipFamily::SD2, {}, d.hf, cfg, *d.name);
      default: return load_family_clip(ClipFamily::SDXLRefiner, {}, d.hf, cfg, *d.name);
    }
  }
  if (te.size() == 2) {
    if (clip_type != "sdxl")
      throw Error("invalid_text_encoder", "DualCLIPLoader type '" + clip_type + "' is not supported (only sdxl)");
    // SDXLClipModel.load_sd: a file with encoder.layers.30 is bigG, anything else goes to clip_l
    const Detected* g = nullptr;
    const Detected* l = nullptr;
    for (const auto& d : te) {
      if (d.model == TextEncoderModel::ClipG && !g)
        g = &d;
      else
        l = &d;  // a second bigG or a ViT-H lands here and is refused below
    }
    if (!g || !l || l->model != TextEncoderModel::ClipL)
      throw Error("invalid_text_encoder", "sdxl needs one CLIP-L and one OpenCLIP ViT-bigG file; found " + *te[0].name +
                                              ": " + te_model_name(te[0].model) + ", " + *te[1].name + ": " +
                                              te_model_name(te[1].model));
    return load_family_clip(ClipFamily::SDXL, l->hf, g->hf, cfg, *l->name + " + " + *g->name);
  }
  throw Error("invalid_text_encoder", std::to_string(files.size()) + " text-encoder files: only one or two are supported");
}

}  // namespace comfy
