// libFuzzer target for LoRA Block Weight: the first line is a block vector (plain, "NAME:vector", preset
// name or "%" spec), the first byte picks inverse / seed, and every further line is a model key the
// "LoRA" touches (classified into UNet blocks as Inspire does). Either a result or comfy::Error; any
// other exception, crash or sanitizer report is a bug. Also maps the keys through the kohya/diffusers
// LoRA name table of a small UNet config.
#include <cstdint>
#include <string>
#include <vector>

#include "comfy/core/error.hpp"
#include "comfy/models/lbw.hpp"
#include "comfy/models/lora.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  std::vector<std::string> lines{""};
  for (char c : text) {
    if (c == '\n') lines.emplace_back();
    else lines.back().push_back(c);
  }
  const std::string vector = lines[0];
  std::vector<std::string> keys(lines.begin() + 1, lines.end());
  try {
    auto bw = comfy::lbw::block_weights(keys, vector, flags & 1, flags >> 1, 4.0, 1.0);
    if (bw.ratios.size() + bw.muted.size() != keys.size()) __builtin_trap();  // every key gets a ratio or is muted
  } catch (const comfy::Error&) {
  }
  try {
    (void)comfy::lbw::expand_block_spec(keys, vector);
  } catch (const comfy::Error&) {
  }
  // Key mapping: the fuzz keys as UNet weight names of a tiny config.
  comfy::UNetConfig cfg;
  cfg.channel_mult = {1, 2};
  cfg.num_res_blocks = {1, 1};
  cfg.transformer_depth = {1, 1};
  cfg.transformer_depth_output = {1, 1, 1, 1};
  comfy::TensorMap weights;
  for (auto& k : keys) weights[k] = at::Tensor();
  auto km = comfy::lora_key_map(&cfg, &weights, &weights);
  for (auto& [name, target] : km)
    if (!weights.count(target.key)) __builtin_trap();  // a LoRA name never targets a missing weight
  for (size_t i = 1; i < keys.size(); ++i) (void)comfy::state_dict_order_less(keys[i - 1], keys[i]);
  return 0;
}
