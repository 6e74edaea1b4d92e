#include "tiny_text_encoders.hpp"

#include "comfy/io/safetensors.hpp"
#include "test_util.hpp"

namespace comfy::test {

Tensors golden_checkpoint_tensors(const std::string& file, const std::string& prefix) {
  auto st = io::SafeTensors::open(golden_root() / "models" / file);
  Tensors out;
  for (const auto& k : st->names())
    if (k.rfind(prefix, 0) == 0) out[k.substr(prefix.size())] = st->get(k).clone();
  return out;
}

Tensors deepen_openclip(const Tensors& tower, int64_t total) {
  const std::string rb = "transformer.resblocks.";
  int64_t real = 0;
  while (tower.count(rb + std::to_string(real) + ".ln_1.weight")) ++real;
  const int64_t pad = total - real;
  const int64_t W = tower.at("ln_final.weight").size(0), I = tower.at(rb + "0.mlp.c_fc.weight").size(0);
  const auto opts = at::TensorOptions().dtype(tower.at("ln_final.weight").scalar_type());
  Tensors out;
  for (const auto& [k, t] : tower) {
    if (k.rfind(rb, 0) != 0) {
      out[k] = t;
      continue;
    }
    const auto rest = k.substr(rb.size());
    const auto dot = rest.find('.');
    out[rb + std::to_string(std::stoll(rest.substr(0, dot)) + pad) + rest.substr(dot)] = t;
  }
  for (int64_t i = 0; i < pad; ++i) {
    const std::string p = rb + std::to_string(i) + ".";
    out[p + "ln_1.weight"] = at::ones({W}, opts);
    out[p + "ln_1.bias"] = at::zeros({W}, opts);
    out[p + "ln_2.weight"] = at::ones({W}, opts);
    out[p + "ln_2.bias"] = at::zeros({W}, opts);
    out[p + "attn.in_proj_weight"] = at::zeros({3 * W, W}, opts);
    out[p + "attn.in_proj_bias"] = at::zeros({3 * W}, opts);
    out[p + "attn.out_proj.weight"] = at::zeros({W, W}, opts);
    out[p + "attn.out_proj.bias"] = at::zeros({W}, opts);
    out[p + "mlp.c_fc.weight"] = at::zeros({I, W}, opts);
    out[p + "mlp.c_fc.bias"] = at::zeros({I}, opts);
    out[p + "mlp.c_proj.weight"] = at::zeros({W, I}, opts);
    out[p + "mlp.c_proj.bias"] = at::zeros({W}, opts);
  }
  return out;
}

}  // namespace comfy::test
