#include "comfy/io/latent_file.hpp"

#include <ATen/ATen.h>

#include "comfy/core/error.hpp"
#include "comfy/io/safetensors.hpp"

namespace comfy::io {

at::Tensor read_latent(const SafeTensors& st, const std::string& name) {
  if (!st.contains("latent_tensor")) throw Error("invalid_latent", "Invalid latent file: " + name + " has no latent_tensor");
  at::Tensor t = st.get("latent_tensor");
  if (!at::isFloatingType(t.scalar_type()) && !at::isIntegralType(t.scalar_type(), /*includeBool=*/false))
    throw Error("invalid_latent", "Invalid latent file: " + name + ": latent_tensor is not numeric");
  // Files written before the format marker existed hold scaled latents.
  const double multiplier = st.contains("latent_format_version_0") ? 1.0 : 1.0 / 0.18215;
  t = t.to(at::kFloat).clone();
  if (multiplier != 1.0) t = t * multiplier;
  return t;
}

}  // namespace comfy::io
