#include "comfy/models/weights.hpp"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <functional>

#include "comfy/core/error.hpp"
#include "comfy/io/safetensors.hpp"
#include "models/weight_arena.hpp"

namespace comfy {

c10::ScalarType compute_dtype(const RuntimeConfig& cfg) {
  if (cfg.dtype) return *cfg.dtype;
  return cfg.device.is_cuda() ? at::kHalf : at::kFloat;
}

TensorMap tensors_under(const io::SafeTensors& st, const std::string& prefix) {
  TensorMap out;
  for (const auto& name : st.names())
    if (name.compare(0, prefix.size(), prefix) == 0) out.emplace(name.substr(prefix.size()), st.get(name));
  return out;
}

TensorMap tensors_under(const TensorMap& m, const std::string& prefix) {
  TensorMap out;
  for (auto it = m.lower_bound(prefix); it != m.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it)
    out.emplace(it->first.substr(prefix.size()), it->second);
  return out;
}

bool has_prefix(const io::SafeTensors& st, const std::string& prefix) {
  for (const auto& name : st.names())
    if (name.compare(0, prefix.size(), prefix) == 0) return true;
  return false;
}

at::Tensor to_device(const at::Tensor& t, c10::Device device, c10::ScalarType dtype, WeightArena* arena) {
  at::Tensor x = t;
  if (arena && WeightArena::handles(t, device, dtype)) {
    x = arena->convert(t, dtype);
  } else {
    if (x.device() != device) x = x.to(device);
    if (at::isFloatingType(x.scalar_type()) && x.scalar_type() != dtype) x = x.to(dtype);
  }
  // The file's pages are not needed once converted: the load must not hold the weights twice.
  if (!x.is_alias_of(t)) io::release_mapped_pages(t);
  return x;
}

namespace {
std::string shape_str(at::IntArrayRef s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}
}  // namespace

at::Tensor MapWeights::get(const std::string& name, std::vector<int64_t> shape) {
  auto it = m_.find(name);
  if (it == m_.end()) throw Error("execution_error", what_ + ": missing weight '" + name + "'");
  at::Tensor src = it->second;
  if (src.sizes() != at::IntArrayRef(shape)) {
    // Accept a stored [C, C] for an expected [C, C, 1, 1] (1x1 convs saved as linear layers).
    std::vector<int64_t> stripped = shape;
    while (stripped.size() > src.dim() && stripped.back() == 1) stripped.pop_back();
    if (src.sizes() == at::IntArrayRef(stripped)) src = src.reshape(shape);
  }
  if (src.sizes() != at::IntArrayRef(shape))
    throw Error("execution_error", what_ + ": weight '" + name + "' has shape " + shape_str(it->second.sizes()) +
                                       ", expected " + shape_str(shape));
  if (keep_) return taken_[name] = src;
  if (!arena_) arena_ = std::make_shared<WeightArena>();
  auto t = to_device(src, device_, dtype_, arena_.get());
  taken_[name] = t;
  return t;
}

std::vector<std::string> MapWeights::unused() const {
  std::vector<std::string> r;
  for (auto& [k, _] : m_)
    if (!taken_.count(k)) r.push_back(k);
  return r;
}

at::Tensor RandomWeights::get(const std::string& name, std::vector<int64_t> shape) {
  // One generator per key so that the weights do not depend on construction order.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed_ ^ std::hash<std::string>{}(name));
  auto n = at::randn(shape, gen, at::TensorOptions().dtype(at::kFloat));
  at::Tensor t;
  bool is_bias = name.size() >= 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
  if (shape.size() == 1 && !is_bias) {
    t = n.mul_(0.1).add_(1.0);  // a norm's weight
  } else if (is_bias) {
    t = n.mul_(0.05);
  } else {
    int64_t fan_in = 1;
    for (size_t i = 1; i < shape.size(); ++i) fan_in *= shape[i];
    t = n.mul_(1.0 / std::sqrt(double(std::max<int64_t>(fan_in, 1))));
  }
  t = t.to(dtype_);
  taken_[name] = t;
  return t;
}

}  // namespace comfy
