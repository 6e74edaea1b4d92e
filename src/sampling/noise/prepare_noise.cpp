// Initial noise: ComfyUI's comfy.sample.prepare_noise (N1.1) and Inspire's libs/utils.prepare_noise
// with its batch_seed_modes and variation noise (N2.2).
#include <ATen/ATen.h>

#include <algorithm>
#include <set>

#include "comfy/core/error.hpp"
#include "comfy/sampling/noise.hpp"
#include "sampling/noise/mix_noise.hpp"
#include "sampling/noise/noise_source.hpp"
#include "sampling/noise/seed_math.hpp"

namespace comfy {
namespace {

using noise_detail::NoiseSource;

std::vector<int64_t> one_item_shape(const at::Tensor& latent) {
  auto s = latent.sizes().vec();
  s[0] = 1;
  return s;
}

// The batch_index path: one [1, ...] draw for every k in 0..max(batch_index), picked by index.
at::Tensor noise_for_batch_index(NoiseSource& src, const at::Tensor& latent, const std::vector<int64_t>& inds) {
  if (inds.empty()) throw Error("execution_error", "batch_index is empty", "batch_index");
  std::set<int64_t> unique(inds.begin(), inds.end());
  if (*unique.begin() < 0) throw Error("execution_error", "batch_index holds a negative index", "batch_index");
  const auto s1 = one_item_shape(latent);
  std::vector<at::Tensor> kept(size_t(*unique.rbegin() + 1));
  for (int64_t k = 0; k <= *unique.rbegin(); ++k) {
    at::Tensor z = src.randn(s1);  // drawn for every k, kept only for the requested ones
    if (unique.count(k)) kept[size_t(k)] = z;
  }
  std::vector<at::Tensor> parts;
  for (int64_t i : inds) parts.push_back(kept[size_t(i)]);
  return at::cat(parts, 0);
}

}  // namespace

at::Tensor comfy_prepare_noise(const at::Tensor& latent, uint64_t seed,
                               const std::optional<std::vector<int64_t>>& batch_index) {
  auto src = noise_detail::cpu_global_noise_source();
  src->seed(seed);
  if (!batch_index) return src->randn(latent.sizes());
  return noise_for_batch_index(*src, latent, *batch_index);
}

at::Tensor inspire_prepare_noise(const at::Tensor& latent, uint64_t seed,
                                 const std::optional<std::vector<int64_t>>& batch_index, NoiseDevice device,
                                 const std::string& mode, uint64_t variation_seed, double variation_strength,
                                 const std::string& variation_method) {
  static const std::string kVarInc = "variation str inc";
  if (mode != "incremental" && mode != "comfy" && mode.rfind(kVarInc, 0) != 0)
    throw Error("value_not_in_list", "unknown batch_seed_mode '" + mode + "'", "batch_seed_mode")
        .at_input("batch_seed_mode");
  auto src = device == NoiseDevice::CPU ? noise_detail::cpu_global_noise_source() : noise_detail::cuda_noise_source();
  const int64_t batch = latent.size(0);
  const auto s1 = one_item_shape(latent);

  // The single variation image, drawn first from its own reseeded generator.
  at::Tensor variation;
  if (variation_strength > 0 || mode.rfind(kVarInc, 0) == 0) {
    src->seed(variation_seed);
    variation = src->randn(s1);
  }
  auto apply_variation = [&](const at::Tensor& z, double extra) {
    if (!variation.defined()) return z;
    const double strength = variation_strength + extra;
    return noise_detail::mix_noise(z, variation.expand(z.sizes()), strength, variation_method);
  };

  if (!batch_index && mode == "incremental") {
    std::vector<at::Tensor> out;
    for (int64_t i = 0; i < batch; ++i) {
      src->seed(noise_detail::checked_seed_add(seed, uint64_t(i)));  // seed + i above 2^64-1 raises
      out.push_back(apply_variation(src->randn(s1), 0.0));
    }
    return at::cat(out, 0);
  }
  if (!batch_index && mode.rfind(kVarInc, 0) == 0) {
    // float(mode[18:]): "variation str inc:0.01" -> 0.01
    double step = 0;
    try {
      step = std::stod(mode.substr(std::min<size_t>(18, mode.size())));
    } catch (const std::exception&) {
      throw Error("value_not_in_list", "batch_seed_mode '" + mode + "' has no strength increment", "batch_seed_mode")
          .at_input("batch_seed_mode");
    }
    std::vector<at::Tensor> out;
    for (int64_t i = 0; i < batch; ++i) {
      src->seed(seed);  // the same base noise for every item
      out.push_back(apply_variation(src->randn(s1), step * double(i)));
    }
    return at::cat(out, 0);
  }
  src->seed(seed);
  if (!batch_index) return apply_variation(src->randn(latent.sizes()), 0.0);
  // batch_index: ComfyUI's algorithm on this device; mode and variation are ignored.
  return noise_for_batch_index(*src, latent, *batch_index);
}

}  // namespace comfy
