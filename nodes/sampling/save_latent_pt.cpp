// SaveLatentPT: writes a LATENT as a torch.load-able .pt file (dict with "samples"), and the progress
// dumps of the Progress nodes (--dump-progress DIR).
#include <ATen/ATen.h>

#include <cctype>
#include <filesystem>

#include "comfy/io/output_names.hpp"
#include "comfy/io/pt_file.hpp"
#include "sampling_node_util.hpp"

namespace fs = std::filesystem;

namespace comfy {

namespace sampling_nodes {

void dump_progress(const ExecContext& ctx, const at::Tensor& samples, const std::vector<int64_t>& steps,
                   const std::vector<float>& sigmas) {
  const auto& dir = ctx.cfg().dump_progress_dir;
  if (!dir) return;
  io::PtDict d;
  d.tensors.push_back({"samples", samples});
  d.tensors.push_back({"steps", at::tensor(steps, at::kLong)});
  d.tensors.push_back({"sigmas", at::tensor(sigmas, at::kFloat)});
  d.strings.push_back({"node_id", ctx.node_id});
  std::string name = ctx.node_id.empty() ? "node" : ctx.node_id;
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') c = '_';
  auto target = io::resolve_output_target(*dir, name + "_progress");
  io::write_output_file(target, "pt", io::pt_bytes(d));
}

}  // namespace sampling_nodes

void register_save_latent_pt(Registry& r) {
  NodeSchema s("SaveLatentPT");
  s.display("Save Latent (.pt)").cat("_for_testing").output_node_()
      .input("samples", "LATENT")
      .string_("filename_prefix", "latents/ComfyUI");
  r.add({s, [](const NodeInputs& in, ExecContext& ctx) {
           auto latent = in.obj<Latent>("samples");
           // ComfyUI's naming (subfolder, counter); throws when the prefix leaves output_dir.
           auto target = io::resolve_output_target(ctx.cfg().output_dir, in.str("filename_prefix"));
           io::PtDict d;
           d.tensors.push_back({"samples", latent->samples});
           if (latent->noise_mask) d.tensors.push_back({"noise_mask", *latent->noise_mask});
           if (latent->batch_index) d.tensors.push_back({"batch_index", at::tensor(*latent->batch_index, at::kLong)});
           auto out = io::write_output_file(target, "pt", io::pt_bytes(d));
           NodeOutput o;
           o.ui = {{"latents", nlohmann::json::array({out.ui()})}};
           ctx.emit("output_written", {{"path", out.path.string()}});
           return o;
         }});
}

}  // namespace comfy
