#pragma once
// SaveImage / PreviewImage's writer, shared with the nodes that save previews (ImageSender,
// PreviewBridgeLatent): PNGs with the prompt / workflow chunks, named by ComfyUI's counter.
#include <ATen/core/Tensor.h>

#include <filesystem>
#include <string>

#include "comfy/core/node.hpp"

namespace comfy {

// images [B, H, W, 3|4] -> <dir>/<prefix>_<counter:05>_.png; the NodeOutput's ui lists them as `type`.
NodeOutput save_images(const at::Tensor& images, const std::string& prefix, const std::filesystem::path& dir,
                       const char* type, int compression, const ExecContext& ctx);
// ComfyUI's temp folder (RuntimeConfig::temp_dir, else <output>/../temp).
std::filesystem::path preview_temp_dir(const RuntimeConfig& cfg);
// PreviewImage: "ComfyUI_temp_<5 random letters>" in the temp folder, compression 1, type "temp".
NodeOutput save_preview_images(const at::Tensor& images, const ExecContext& ctx);

}  // namespace comfy
