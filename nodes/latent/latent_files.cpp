// SaveLatent, LoadLatent (workflow-nodes-files.md 9.20, 9.21; file format 11.3)
#include <ATen/ATen.h>

#include "comfy/core/node.hpp"
#include "comfy/core/types.hpp"
#include "comfy/io/hash.hpp"
#include "comfy/io/input_files.hpp"
#include "comfy/io/latent_file.hpp"
#include "comfy/io/output_names.hpp"
#include "comfy/io/python_json.hpp"
#include "comfy/io/safetensors.hpp"
#include "graph/serialize_value.hpp"

namespace comfy {

namespace {

NodeOutput save_latent(const NodeInputs& in, ExecContext& ctx) {
  auto latent = in.obj<Latent>("samples");
  // Metadata for latent sharing: the prompt ("" when none) and each extra_pnginfo entry, as Python's json.dumps.
  std::map<std::string, std::string> metadata;
  metadata["prompt"] = ctx.prompt ? io::python_json_dumps(*ctx.prompt) : std::string();
  if (ctx.extra_pnginfo && ctx.extra_pnginfo->is_object())
    for (auto it = ctx.extra_pnginfo->begin(); it != ctx.extra_pnginfo->end(); ++it)
      metadata[it.key()] = io::python_json_dumps(it.value());
  std::map<std::string, at::Tensor> tensors;
  tensors["latent_tensor"] = latent->samples.contiguous();
  tensors["latent_format_version_0"] = at::empty({0}, at::kFloat);  // marks the current (unscaled) format
  std::string bytes = io::safetensors_bytes(tensors, metadata);

  auto target = io::resolve_output_target(ctx.cfg().output_dir, ui::replace_prefix_patterns(in.str("filename_prefix"), ctx.prompt));
  auto written = io::write_output_file(target, "latent", bytes);
  NodeOutput out;
  out.ui = {{"latents", nlohmann::json::array({written.ui("output")})}};
  return out;
}

NodeOutput load_latent(const NodeInputs& in, ExecContext& ctx) {
  auto path = io::annotated_input_path(ctx.cfg(), in.str("latent"), "latent");
  auto st = io::SafeTensors::open(path);
  auto l = std::make_shared<Latent>();
  try {
    l->samples = io::read_latent(*st, in.str("latent"));
  } catch (Error& e) {
    e.at_input("latent");
    throw;
  }
  return {{Value(l)}};
}

}  // namespace

void register_latent_file_nodes(Registry& r) {
  NodeSchema save("SaveLatent");
  save.display("SaveLatent").cat("_for_testing").output_node_()
      .input("samples", "LATENT")
      .string_("filename_prefix", "latents/ComfyUI")
      .hidden().hidden_input("prompt", "PROMPT").hidden_input("extra_pnginfo", "EXTRA_PNGINFO");
  r.add({save, save_latent});

  NodeSchema load("LoadLatent");
  load.display("LoadLatent").cat("_for_testing")
      .combo_fn("latent", ComboListFn([](const RuntimeConfig& cfg) { return io::list_files(cfg.input_dir, {".latent"}); }))
      .output("LATENT");
  NodeDef def{load, load_latent};
  // IS_CHANGED: the file's SHA-256, so an edited file re-runs the node.
  def.is_changed = [](const NodeInputs& in, const RuntimeConfig& cfg) {
    return io::sha256_file_hex(io::annotated_input_path(cfg, in.str("latent"), "latent"));
  };
  // VALIDATE_INPUTS replaces the list check: the file must exist.
  def.validate = [](const std::string&, const Value& v, const RuntimeConfig& cfg) -> std::string {
    std::string name = v.is_string() ? v.as_string() : std::string();
    try {
      std::error_code ec;
      if (!name.empty() && std::filesystem::is_regular_file(io::annotated_input_path(cfg, name, "latent"), ec)) return "";
    } catch (const Error&) {
    }
    return "Invalid latent file: " + name;
  };
  def.validate_inputs = {"latent"};
  r.add(std::move(def));
}

}  // namespace comfy
