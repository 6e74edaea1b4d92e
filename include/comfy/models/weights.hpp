#pragma once
// Named weights for the networks: a map from checkpoint key to tensor, and the source a network's
// constructor asks for each of its parameters (by checkpoint key, with the shape it expects). The same
// constructor then serves loading a file, re-wiring patched weights (LoRA) and creating random weights
// (make-checkpoint).
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "comfy/core/runtime.hpp"

namespace comfy {
namespace io { class SafeTensors; }
class WeightArena;

using TensorMap = std::map<std::string, at::Tensor>;

// Called with (name, tensor) for every named intermediate of a forward pass (debugging against the
// golden intermediates); empty = off.
using ActivationHook = std::function<void(const std::string&, const at::Tensor&)>;

// The dtype networks compute in: RuntimeConfig::dtype, else fp32 on CPU and fp16 on CUDA.
c10::ScalarType compute_dtype(const RuntimeConfig& cfg);

// Zero-copy views of every tensor whose key starts with `prefix`, keyed without the prefix.
TensorMap tensors_under(const io::SafeTensors& st, const std::string& prefix);
// The same over a map: the entries whose key starts with `prefix`, keyed without it (tensors shared).
TensorMap tensors_under(const TensorMap& m, const std::string& prefix);
bool has_prefix(const io::SafeTensors& st, const std::string& prefix);

// Moves one weight to device and dtype with at most one copy (device first, then the cast on the
// device, so a CPU->CUDA load never makes a converted host copy). Integer tensors keep their dtype.
// `arena`: where fp16 / bf16 -> fp32 CPU casts go (WeightArena: huge-page blocks, a vectorised cast).
at::Tensor to_device(const at::Tensor& t, c10::Device device, c10::ScalarType dtype, WeightArena* arena = nullptr);

class WeightSource {
 public:
  virtual ~WeightSource() = default;
  // The parameter `name` (relative key) with exactly `shape`; throws comfy::Error naming the key.
  virtual at::Tensor get(const std::string& name, std::vector<int64_t> shape) = 0;
  virtual bool has(const std::string& name) const = 0;
  // Every parameter handed out so far (key -> tensor on the target device/dtype).
  const TensorMap& taken() const { return taken_; }

 protected:
  TensorMap taken_;
};

// Weights from a TensorMap (file views or already-converted tensors), through to_device with one
// WeightArena per source. Without a dtype (`views`), each tensor keeps its own dtype and device: the
// shapes are checked and nothing is copied (a load that converts later, UNetModel::materialize).
class MapWeights : public WeightSource {
 public:
  MapWeights(const TensorMap& m, c10::Device device, c10::ScalarType dtype, std::string what)
      : m_(m), device_(device), dtype_(dtype), what_(std::move(what)) {}
  static MapWeights views(const TensorMap& m, std::string what) {
    MapWeights w(m, c10::Device(c10::kCPU), c10::kFloat, std::move(what));
    w.keep_ = true;
    return w;
  }
  at::Tensor get(const std::string& name, std::vector<int64_t> shape) override;
  bool has(const std::string& name) const override { return m_.count(name) != 0; }
  // Keys of the map that no parameter asked for.
  std::vector<std::string> unused() const;

 private:
  const TensorMap& m_;
  c10::Device device_;
  c10::ScalarType dtype_;
  std::string what_;  // "UNet in model.safetensors" for messages
  bool keep_ = false;  // views(): no device / dtype change
  std::shared_ptr<WeightArena> arena_;  // created on the first weight it takes (no memory until a cast)
};

// Random weights in the style of the golden harness, chosen by key name: norm weight 1+0.1n, norm
// bias 0.1n, other bias 0.05n, weight n/sqrt(fan_in) (n ~ N(0,1)), created on the CPU.
class RandomWeights : public WeightSource {
 public:
  RandomWeights(uint64_t seed, c10::ScalarType dtype) : seed_(seed), dtype_(dtype) {}
  at::Tensor get(const std::string& name, std::vector<int64_t> shape) override;
  bool has(const std::string&) const override { return false; }

 private:
  uint64_t seed_;
  c10::ScalarType dtype_;
};

}  // namespace comfy
