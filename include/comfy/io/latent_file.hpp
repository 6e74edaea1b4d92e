#pragma once
// .latent files (ComfyUI's SaveLatent / LoadLatent; workflow-nodes-files.md 11.3): a safetensors file
// with "latent_tensor" and, since the unscaled format, an empty "latent_format_version_0" marker.
#include <ATen/core/Tensor.h>

#include <string>

namespace comfy::io {

class SafeTensors;

// The latent samples as float32 (a copy, independent of the file). Files without the format marker
// hold latents scaled by 0.18215 and are divided back, as LoadLatent does. Throws
// Error("invalid_latent") naming `name` when there is no latent_tensor or it is not numeric.
at::Tensor read_latent(const SafeTensors& file, const std::string& name);

}  // namespace comfy::io
