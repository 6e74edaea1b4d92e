#include "models/clip_lora.hpp"

#include <ATen/ATen.h>

#include "comfy/io/safetensors.hpp"
#include "comfy/models/weights.hpp"

namespace comfy {

namespace {

class LoraCapableClip : public TextEncoder {
 public:
  LoraCapableClip(std::shared_ptr<TextEncoder> inner, std::shared_ptr<io::SafeTensors> st, std::string prefix,
                  RuntimeConfig cfg)
      : inner_(std::move(inner)), st_(std::move(st)), prefix_(std::move(prefix)), cfg_(std::move(cfg)) {
    // Keys relative to the prefix, always with the "text_model." level (older files lack it).
    text_model_ = st_->contains(prefix_ + "text_model.embeddings.token_embedding.weight") ? prefix_ + "text_model."
                                                                                          : prefix_;
    for (auto& [k, t] : tensors_under(*st_, text_model_)) weights_["text_model." + k] = t;
  }

  std::vector<CondEntry> encode(const std::string& text, int64_t layer_idx) override {
    return inner_->encode(text, layer_idx);
  }
  const std::map<std::string, at::Tensor>* lora_weights() const override { return &weights_; }

  std::shared_ptr<TextEncoder> with_weights(const std::map<std::string, at::Tensor>& replaced) const override {
    std::map<std::string, at::Tensor> all;
    for (auto& [k, t] : weights_) {
      auto it = replaced.find(k);
      all[text_model_ + k.substr(11)] = it == replaced.end() ? t : it->second;  // 11 = "text_model."
    }
    auto st = io::SafeTensors::from_bytes(io::safetensors_bytes(all), st_->path().string() + " (LoRA)");
    auto clip = load_sd1_clip(st, prefix_, cfg_);
    return std::make_shared<LoraCapableClip>(clip->encoder, st, prefix_, cfg_);
  }

 private:
  std::shared_ptr<TextEncoder> inner_;
  std::shared_ptr<io::SafeTensors> st_;
  std::string prefix_, text_model_;
  RuntimeConfig cfg_;
  std::map<std::string, at::Tensor> weights_;
};

}  // namespace

std::shared_ptr<TextEncoder> make_lora_capable(std::shared_ptr<TextEncoder> encoder, std::shared_ptr<io::SafeTensors> st,
                                               const std::string& prefix, const RuntimeConfig& cfg) {
  RuntimeConfig c;
  c.models_dirs = cfg.models_dirs;
  c.tokenizer_dir = cfg.tokenizer_dir;
  c.device = cfg.device;
  c.dtype = cfg.dtype;
  return std::make_shared<LoraCapableClip>(std::move(encoder), std::move(st), prefix, c);
}

}  // namespace comfy
