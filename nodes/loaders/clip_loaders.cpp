// CLIPLoader, DualCLIPLoader — "Load CLIP" / "DualCLIPLoader" (ComfyUI nodes.py): stand-alone
// text-encoder files from the text_encoders/ (and legacy clip/) folders.
#include "comfy/core/node.hpp"
#include "comfy/io/safetensors.hpp"
#include "comfy/models/clip_files.hpp"
#include "loaders/model_file_input.hpp"

namespace comfy {

namespace {

TextEncoderFile read_text_encoder(const RuntimeConfig& cfg, const NodeInputs& in, const std::string& input) {
  const auto& name = in.str(input);
  auto path = io::resolve_model_file(cfg, "text_encoders", name, input);
  auto ext = path.extension().string();
  if (ext != ".safetensors" && ext != ".sft")
    fail(input, "cannot load " + name + ": only .safetensors text-encoder files are supported");
  try {
    auto st = io::SafeTensors::open(path);
    return {tensors_under(*st, ""), name};
  } catch (Error& e) {
    if (e.input_name.empty()) e.at_input(input);
    throw;
  }
}

RuntimeConfig with_device(const RuntimeConfig& cfg, const NodeInputs& in) {
  RuntimeConfig c;
  c.models_dirs = cfg.models_dirs;
  c.tokenizer_dir = cfg.tokenizer_dir;
  c.text_encoder_fp32 = cfg.text_encoder_fp32;
  c.device = in.has("device") && in.str("device") == "cpu" ? c10::Device(c10::kCPU) : cfg.device;
  return c;
}

NodeOutput load(const std::vector<TextEncoderFile>& files, const std::string& type, const RuntimeConfig& cfg,
                const std::string& input) {
  try {
    return NodeOutput{{Value(load_clip_files(files, type, cfg))}};
  } catch (Error& e) {
    if (e.input_name.empty()) e.at_input(input);
    throw;
  }
}

}  // namespace

void register_clip_loader(Registry& r) {
  NodeSchema s("CLIPLoader");
  s.display("Load CLIP").cat("advanced/loaders")
      .desc("[Recipes]\n\nstable_diffusion: clip-l\nstable_cascade: clip-g\nsd3: t5 xxl/ clip-g / clip-l\nstable_audio: "
            "t5 base\nmochi: t5 xxl\ncosmos: old t5 xxl\nlumina2: gemma 2 2B\nwan: umt5 xxl\n hidream: llama-3.1 "
            "(Recommend) or t5\nomnigen2: qwen vl 2.5 3B")
      .combo_fn("clip_name", loaders::list_folder("text_encoders"))
      .combo("type", {"stable_diffusion", "stable_cascade", "sd3", "stable_audio", "mochi", "ltxv", "pixart", "cosmos",
                      "lumina2", "wan", "hidream", "chroma", "ace", "omnigen2", "qwen_image", "hunyuan_image", "flux2",
                      "ovis"})
      .optional()
      .combo("device", {"default", "cpu"})
      .output("CLIP");
  r.add({s, [](const NodeInputs& in, ExecContext& ctx) {
           const auto& cfg = ctx.cfg();
           auto file = read_text_encoder(cfg, in, "clip_name");
           return load({file}, in.str("type"), with_device(cfg, in), "clip_name");
         }});
}

void register_dual_clip_loader(Registry& r) {
  NodeSchema s("DualCLIPLoader");
  s.cat("advanced/loaders")
      .desc("[Recipes]\n\nsdxl: clip-l, clip-g\nsd3: clip-l, clip-g / clip-l, t5 / clip-g, t5\nflux: clip-l, t5\nhidream: "
            "at least one of t5 or llama, recommended t5 and llama\nhunyuan_image: qwen2.5vl 7b and byt5 small\nnewbie: "
            "gemma-3-4b-it, jina clip v2")
      .combo_fn("clip_name1", loaders::list_folder("text_encoders"))
      .combo_fn("clip_name2", loaders::list_folder("text_encoders"))
      .combo("type", {"sdxl", "sd3", "flux", "hunyuan_video", "hidream", "hunyuan_image", "hunyuan_video_15", "kandinsky5",
                      "kandinsky5_image", "ltxv", "newbie"})
      .optional()
      .combo("device", {"default", "cpu"})
      .output("CLIP");
  r.add({s, [](const NodeInputs& in, ExecContext& ctx) {
           const auto& cfg = ctx.cfg();
           auto a = read_text_encoder(cfg, in, "clip_name1");
           auto b = read_text_encoder(cfg, in, "clip_name2");
           return load({a, b}, in.str("type"), with_device(cfg, in), "type");
         }});
}

}  // namespace comfy
