// SaveImage — "Save Image" and PreviewImage — "Preview Image" (workflow-nodes-files.md 9.17, 9.18, 11.1, 11.2)
#include <ATen/ATen.h>

#include <random>

#include "comfy/core/node.hpp"
#include "comfy/io/output_names.hpp"
#include "comfy/io/png.hpp"
#include "comfy/io/python_json.hpp"
#include "graph/serialize_value.hpp"
#include "image/save_images.hpp"

namespace comfy {

namespace {

// prompt chunk, then one chunk per extra_pnginfo key (normally "workflow"), JSON as Python writes it.
io::PngTextChunks png_metadata(const ExecContext& ctx) {
  io::PngTextChunks text;
  if (ctx.prompt && !ctx.prompt->is_null()) text.emplace_back("prompt", io::python_json_dumps(*ctx.prompt));
  if (ctx.extra_pnginfo && ctx.extra_pnginfo->is_object())
    for (auto it = ctx.extra_pnginfo->begin(); it != ctx.extra_pnginfo->end(); ++it)
      text.emplace_back(it.key(), io::python_json_dumps(it.value()));
  return text;
}

}  // namespace

NodeOutput save_images(const at::Tensor& images, const std::string& prefix, const std::filesystem::path& dir,
                       const char* type, int compression, const ExecContext& ctx) {
  if (images.dim() != 4 || (images.size(3) != 3 && images.size(3) != 4))
    fail("images", "expected an IMAGE [B, H, W, 3|4]");
  auto where = io::resolve_output_target(dir, prefix, images.size(2), images.size(1));
  const auto text = png_metadata(ctx);
  nlohmann::json list = nlohmann::json::array();
  for (int64_t i = 0; i < images.size(0); ++i) {
    const auto bytes = io::encode_png(images[i], text, compression);
    const auto file = io::write_output_file(where, "png", bytes, i);
    list.push_back(file.ui(type));
    ctx.emit("output_written", {{"path", file.path.string()}, {"type", type}});
  }
  NodeOutput out;
  out.ui = {{"images", list}};
  return out;
}

std::filesystem::path preview_temp_dir(const RuntimeConfig& cfg) {
  auto dir = cfg.temp_dir.empty() ? cfg.output_dir.parent_path() / "temp" : cfg.temp_dir;
  if (cfg.temp_dir.empty() && cfg.output_dir.parent_path().empty()) dir = "temp";
  return dir;
}

NodeOutput save_preview_images(const at::Tensor& images, const ExecContext& ctx) {
  // ComfyUI's letter string, duplicated "p" and missing "w" included.
  static const std::string letters = "abcdefghijklmnopqrstupvxyz";
  std::random_device rd;
  std::string suffix;
  for (int i = 0; i < 5; ++i) suffix += letters[rd() % letters.size()];
  return save_images(images, "ComfyUI_temp_" + suffix, preview_temp_dir(ctx.cfg()), "temp", 1, ctx);
}

void register_save_image(Registry& r) {
  NodeSchema s("SaveImage");
  s.display("Save Image").cat("image").output_node_()
      .desc("Saves the input images to your ComfyUI output directory.")
      .input("images", "IMAGE").tip("The images to save.")
      .string_("filename_prefix", "ComfyUI")
      .tip("The prefix for the file to save. This may include formatting information such as %date:yyyy-MM-dd% or "
           "%Empty Latent Image.width% to include values from nodes.")
      .hidden().hidden_input("prompt", "PROMPT").hidden_input("extra_pnginfo", "EXTRA_PNGINFO");
  r.add({s, [](const NodeInputs& in, ExecContext& ctx) {
           // 11.1 step A from the prompt being run (%KSampler.seed% follows --set and seed sweeps)
           const auto prefix = ui::replace_prefix_patterns(in.str("filename_prefix"), ctx.prompt);
           return save_images(in.tensor("images"), prefix, ctx.cfg().output_dir, "output", 4, ctx);
         }});
}

void register_preview_image(Registry& r) {
  NodeSchema s("PreviewImage");
  s.display("Preview Image").cat("image").output_node_()
      .desc("Saves the input images to your ComfyUI output directory.")
      .input("images", "IMAGE")
      .hidden().hidden_input("prompt", "PROMPT").hidden_input("extra_pnginfo", "EXTRA_PNGINFO");
  r.add({s, [](const NodeInputs& in, ExecContext& ctx) { return save_preview_images(in.tensor("images"), ctx); }});
}

}  // namespace comfy
