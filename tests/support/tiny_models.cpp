#include "tiny_models.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <nlohmann/json.hpp>

#include "comfy/io/files.hpp"
#include "comfy/io/png.hpp"
#include "test_util.hpp"

namespace fs = std::filesystem;

namespace comfy::test {

fs::path tiny_sd15_path() { return golden_root() / "nets" / "tiny-sd15.safetensors"; }

std::map<std::string, at::Tensor> make_tiny_lora(int64_t rank, bool text_encoder, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto g = [&](std::vector<int64_t> s) { return at::randn(s, gen) * 0.1; };
  std::map<std::string, at::Tensor> l;
  // input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight [32, 32]
  l["lora_unet_input_blocks_1_1_transformer_blocks_0_attn1_to_q.lora_up.weight"] = g({32, rank});
  l["lora_unet_input_blocks_1_1_transformer_blocks_0_attn1_to_q.lora_down.weight"] = g({rank, 32});
  // diffusers name of middle_block.1.transformer_blocks.0.ff.net.2.weight [64, 256]
  l["lora_unet_mid_block_attentions_0_transformer_blocks_0_ff_net_2.lora_up.weight"] = g({64, rank});
  l["lora_unet_mid_block_attentions_0_transformer_blocks_0_ff_net_2.lora_down.weight"] = g({rank, 256});
  l["lora_unet_mid_block_attentions_0_transformer_blocks_0_ff_net_2.alpha"] = at::scalar_tensor(3.0);
  // conv: diffusers down_blocks.1.resnets.0.conv1 = input_blocks.3.0.in_layers.2.weight [64, 32, 3, 3]
  l["lora_unet_down_blocks_1_resnets_0_conv1.lora_up.weight"] = g({64, rank, 1, 1});
  l["lora_unet_down_blocks_1_resnets_0_conv1.lora_down.weight"] = g({rank, 32, 3, 3});
  l["lora_unet_down_blocks_1_resnets_0_conv1.alpha"] = at::scalar_tensor(double(rank));
  l["something_else.weight"] = g({2});
  if (text_encoder) {
    // text_model.encoder.layers.1.mlp.fc1.weight [64, 32]
    l["lora_te_text_model_encoder_layers_1_mlp_fc1.lora_up.weight"] = g({64, rank});
    l["lora_te_text_model_encoder_layers_1_mlp_fc1.lora_down.weight"] = g({rank, 32});
    l["lora_te_text_model_encoder_layers_1_mlp_fc1.alpha"] = at::scalar_tensor(1.0);
  }
  return l;
}

std::map<std::string, at::Tensor> tiny_vae_tensors() {
  auto st = golden_file("nets/tiny-sd15.safetensors");
  const std::string prefix = "first_stage_model.";
  std::map<std::string, at::Tensor> out;
  for (const auto& k : st->names())
    if (k.compare(0, prefix.size(), prefix) == 0) out[k.substr(prefix.size())] = st->get(k).clone();
  return out;
}

std::map<std::string, at::Tensor> tiny_embedding_of_tokens(const std::vector<int64_t>& token_ids) {
  return embedding_of_tokens(token_ids, "nets/tiny-sd15.safetensors",
                             "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight");
}

std::map<std::string, at::Tensor> embedding_of_tokens(const std::vector<int64_t>& token_ids,
                                                      const std::string& golden_checkpoint,
                                                      const std::string& token_embedding_key) {
  auto table = golden_file(golden_checkpoint)->get(token_embedding_key, at::kFloat);
  auto ids = at::tensor(token_ids, at::kLong);
  return {{"emb_params", table.index_select(0, ids).contiguous()}};
}

int64_t clip_token_id(const std::string& bpe_token) {
  static const nlohmann::json vocab = load_json(shared_dir() / "tokenizers" / "sd1" / "vocab.json");
  return vocab.at(bpe_token).get<int64_t>();
}

void write_png(const fs::path& path, const at::Tensor& image) {
  fs::create_directories(path.parent_path());
  io::write_file_atomic(path, io::encode_png(image));
}

}  // namespace comfy::test
