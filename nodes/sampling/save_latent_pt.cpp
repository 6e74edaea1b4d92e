// SaveLatentPT: writes a LATENT as a torch.load-able .pt file (dict with "samples"), and the progress
// dumps of the Progress nodes (--dump-progress DIR).
#include <ATen/ATen.h>

#include <filesystem>

#include "comfy/io/files.hpp"
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
  io::save_counted(*dir, name + "_progress", ".pt", io::pt_bytes(d));
}

}  // namespace sampling_nodes

void register_save_latent_pt(Registry& r) {
  NodeSchema s("SaveLatentPT");
  s.display("Save Latent (.pt)").cat("_for_testing").output_node_()
      .input("samples", "LATENT")
      .string_("filename_prefix", "latents/ComfyUI");
  r.add({s, [](const NodeInputs& in, ExecContext& ctx) {
           auto latent = in.obj<Latent>("samples");
           const std::string prefix = in.str("filename_prefix");
           const fs::path out_dir = ctx.cfg().output_dir;
           // subfolder = dirname(normpath(prefix)), name = basename; the folder must stay in output_dir.
           fs::path norm = fs::path(prefix).lexically_normal();
           std::string name = norm.filename().string();
           std::string sub = norm.parent_path().string();
           if (name.empty() || name == "." || name == "..")
             throw Error("execution_error", "filename_prefix '" + prefix + "' has no file name", "filename_prefix")
                 .at_input("filename_prefix");
           fs::path folder = io::safe_join(out_dir, sub.empty() ? "." : sub, "filename_prefix");
           io::PtDict d;
           d.tensors.push_back({"samples", latent->samples});
           if (latent->noise_mask) d.tensors.push_back({"noise_mask", *latent->noise_mask});
           if (latent->batch_index) d.tensors.push_back({"batch_index", at::tensor(*latent->batch_index, at::kLong)});
           auto path = io::save_counted(folder, name, ".pt", io::pt_bytes(d));
           NodeOutput o;
           o.ui = {{"latents", nlohmann::json::array({{{"filename", path.filename().string()},
                                                       {"subfolder", sub},
                                                       {"type", "output"}}})}};
           ctx.emit("output_written", {{"path", path.string()}});
           return o;
         }});
}

}  // namespace comfy
