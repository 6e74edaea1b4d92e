#pragma once
// Model files built for the tiny golden SD1.5 checkpoint (../shared/golden/nets/tiny-sd15.safetensors):
// a LoRA in kohya naming, the checkpoint's VAE as a stand-alone file, a textual-inversion embedding,
// and small PNG inputs. Shared by the model-loading unit tests and the real-workflow e2e tests.
#include <ATen/ATen.h>

#include <filesystem>
#include <map>
#include <string>

namespace comfy::test {

// The tiny checkpoint's path under the golden root.
std::filesystem::path tiny_sd15_path();

// A LoRA for the tiny UNet: one module in kohya LDM naming (no alpha), one in kohya diffusers naming
// (alpha 3), one conv module (alpha = rank), plus a key nothing takes. With `text_encoder`, also
// lora_te_text_model_encoder_layers_1_mlp_fc1 (alpha 1). Weights: randn * 0.1 from a CPU generator
// seeded with `seed` (the same file every time).
std::map<std::string, at::Tensor> make_tiny_lora(int64_t rank, bool text_encoder = false, uint64_t seed = 0);

// The checkpoint's first_stage_model.* tensors under their bare names (encoder.*, decoder.*,
// quant_conv.*, post_quant_conv.*), as stand-alone VAE files such as vae-ft-mse-840000-ema-pruned have.
std::map<std::string, at::Tensor> tiny_vae_tensors();

// Rows `token_ids` of the tiny CLIP's token embedding [n, 32] under the A1111 key "emb_params": an
// embedding that stands for exactly those tokens.
std::map<std::string, at::Tensor> tiny_embedding_of_tokens(const std::vector<int64_t>& token_ids);
// The same from another golden checkpoint (path under the golden root) and its token embedding key,
// e.g. "models/tiny-sd21-v.safetensors", "cond_stage_model.model.token_embedding.weight" (OpenCLIP-H).
std::map<std::string, at::Tensor> embedding_of_tokens(const std::vector<int64_t>& token_ids,
                                                      const std::string& golden_checkpoint,
                                                      const std::string& token_embedding_key);

// The CLIP vocabulary id of a BPE token such as "cat</w>" (from ../shared/tokenizers/sd1/vocab.json).
int64_t clip_token_id(const std::string& bpe_token);

// Writes an 8-bit PNG of `image` [H, W, 3|4] (float 0..1), creating parent folders.
void write_png(const std::filesystem::path& path, const at::Tensor& image);

}  // namespace comfy::test
