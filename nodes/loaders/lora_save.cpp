// LoraSave — "Extract and Save Lora" (nodes-companions.md 8; comfy_extras/nodes_lora_extract.py): a LoRA
// from a model / text-encoder difference (usually ModelMergeSubtract's output), by truncated SVD per
// weight (standard) or as full differences (full_diff), in fp16, written atomically under a fresh counter.
#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

#include <map>

#include "comfy/core/node.hpp"
#include "comfy/io/output_names.hpp"
#include "comfy/io/safetensors.hpp"
#include "comfy/models/clip.hpp"
#include "comfy/models/model_patcher.hpp"
#include "comfy/models/unet.hpp"

namespace comfy {

namespace {

bool ends_with(const std::string& s, const std::string& e) {
  return s.size() >= e.size() && s.compare(s.size() - e.size(), e.size(), e) == 0;
}

// extract_lora: U·S and Vh of the first `rank` singular triplets, both clamped to [-q, q] with q the
// 0.99 quantile of their concatenated (signed) entries; 3x3 convs flattened, 1x1 squeezed.
std::pair<at::Tensor, at::Tensor> extract_lora(const at::Tensor& diff_in, int64_t rank) {
  const bool conv = diff_in.dim() == 4;
  const bool conv3 = conv && (diff_in.size(2) != 1 || diff_in.size(3) != 1);
  const int64_t out_dim = diff_in.size(0), in_dim = diff_in.size(1);
  rank = std::min({rank, in_dim, out_dim});
  at::Tensor diff = diff_in.to(at::kFloat);
  if (conv) diff = conv3 ? diff.flatten(1) : diff.reshape({out_dim, in_dim});
  auto [U, S, Vh] = at::linalg_svd(diff, /*full_matrices=*/false);
  auto up = at::matmul(U.slice(1, 0, rank), at::diag(S.slice(0, 0, rank)));  // [out, r]
  auto down = Vh.slice(0, 0, rank);                                           // [r, in*k*k]
  const double hi = at::quantile(at::cat({up.flatten(), down.flatten()}), 0.99).item<double>();
  up = up.clamp(-hi, hi);
  down = down.clamp(-hi, hi);
  if (conv) {
    up = up.reshape({out_dim, rank, 1, 1});
    down = down.reshape({rank, in_dim, diff_in.size(2), diff_in.size(3)});
  }
  return {up, down};
}

// calc_lora_model over one state dict (keys without prefix_model).
void calc_lora(const std::map<std::string, at::Tensor>& sd, int64_t rank, const std::string& prefix_lora,
               bool full_diff, bool bias_diff, std::map<std::string, at::Tensor>& out) {
  auto half = [](const at::Tensor& t) { return t.to(at::kCPU).to(at::kHalf).contiguous(); };
  for (const auto& [k, w] : sd) {
    if (ends_with(k, ".weight")) {
      const std::string base = prefix_lora + k.substr(0, k.size() - 7);
      if (full_diff) {
        out[base + ".diff"] = half(w);
      } else if (w.dim() < 2) {
        if (bias_diff) out[base + ".diff"] = half(w);
      } else {
        auto [up, down] = extract_lora(w, rank);
        out[base + ".lora_up.weight"] = half(up);
        out[base + ".lora_down.weight"] = half(down);
      }
    } else if (bias_diff && ends_with(k, ".bias")) {
      out[prefix_lora + k.substr(0, k.size() - 5) + ".diff_b"] = half(w);
    }
  }
}

}  // namespace

void register_lora_save(Registry& r) {
  NodeSchema s("LoraSave");
  s.display("Extract and Save Lora").cat("_for_testing").output_node_()
      .string_("filename_prefix", "loras/ComfyUI_extracted_lora")
      .int_("rank", 8, 1, 4096, 1)
      .combo("lora_type", {"standard", "full_diff"})
      .bool_("bias_diff", true)
      .optional()
      .input("model_diff", "MODEL")
      .input("text_encoder_diff", "CLIP");
  r.add({s, [](const NodeInputs& in, ExecContext& ctx) {
           if (!in.has("model_diff") && !in.has("text_encoder_diff")) return NodeOutput{};
           const int64_t rank = in.i64("rank");
           const bool full = in.str("lora_type") == "full_diff", bias = in.boolean("bias_diff");
           std::map<std::string, at::Tensor> out;
           if (in.has("model_diff")) {
             auto model = in.obj<Model>("model_diff");
             auto unet = resolve_unet(model->net);
             if (!unet) fail("model_diff", "only UNet models can be extracted (this MODEL is " + model->family + ")");
             calc_lora(unet->weights(), rank, "diffusion_model.", full, bias, out);
           }
           if (in.has("text_encoder_diff")) {
             auto clip = in.obj<Clip>("text_encoder_diff");
             const auto* w = clip->encoder ? clip->encoder->lora_weights() : nullptr;
             if (!w) fail("text_encoder_diff", "this CLIP has no extractable weights");
             // ComfyUI's CLIP state dict names (clip_l.transformer.text_model.*, clip_g...)
             calc_lora(*w, rank, "text_encoders.", full, bias, out);
           }
           auto target = io::resolve_output_target(ctx.cfg().output_dir, in.str("filename_prefix"));
           auto file = io::write_output_file(target, "safetensors", io::safetensors_bytes(out));
           ctx.emit("output_written", {{"path", file.path.string()}});
           return NodeOutput{};
         }});
}

}  // namespace comfy
