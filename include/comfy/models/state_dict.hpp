#pragma once
// A model weight file as a state dict, the way ComfyUI's comfy.utils.load_torch_file reads it:
// .safetensors / .sft as zero-copy views of the mapped file; .ckpt / .pt / .pth / .bin (torch.save zip or
// legacy format) through the restricted unpickler, taking the "state_dict" entry when there is one, else
// the only dict entry of a one-entry dict, else the dict itself.
#include <filesystem>

#include "comfy/models/weights.hpp"

namespace comfy {

// Throws comfy::Error naming the file for anything unreadable (truncated, forbidden pickle content,
// no tensors).
TensorMap load_state_dict(const std::filesystem::path& path);

}  // namespace comfy
