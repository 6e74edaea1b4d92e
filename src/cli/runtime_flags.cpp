// RuntimeFlags: the folder and device options of `run` and `serve` -> RuntimeConfig.
#include "cli/runtime_flags.hpp"

#include <ATen/Context.h>

#include "comfy/prompt/wildcards.hpp"

namespace comfy::cli {

void RuntimeFlags::add_to(cxxopts::Options& opts) {
  opts.add_options()
      ("output-dir", "where output nodes write", cxxopts::value(output_dir)->default_value(output_dir))
      ("models-dir", "a folder laid out like ComfyUI's models/; repeatable", cxxopts::value(models_dirs))
      ("extra-model-paths", "ComfyUI's extra_model_paths.yaml", cxxopts::value(extra_model_paths))
      ("input-dir", "where LoadImage / LoadLatent read", cxxopts::value(input_dir)->default_value(input_dir))
      ("device", "cpu, cuda or cuda:N", cxxopts::value(device)->default_value(device))
      ("dtype", "fp32, fp16 or bf16 (default: per device)", cxxopts::value(dtype))
      ("fp32-text-enc", "keep the text encoder's weights in float32 (ComfyUI's default, like this one's, rounds them to float16)",
       cxxopts::value(fp32_text_enc))
      ("tokenizer-dir", "a folder with vocab.json + merges.txt to use instead of the built-in CLIP vocabulary",
       cxxopts::value(tokenizer_dir))
      ("wildcards-dir", "a folder of Impact wildcard files (.txt, .yaml), read after Impact's own folders; repeatable",
       cxxopts::value(wildcards_dirs));
}

RuntimeConfig RuntimeFlags::to_config() const {
  RuntimeConfig cfg;
  cfg.output_dir = output_dir;
  cfg.input_dir = input_dir;
  for (auto& m : models_dirs) cfg.models_dirs.push_back(m);
  if (!extra_model_paths.empty()) cfg.extra_model_paths = extra_model_paths;
  try {
    cfg.device = c10::Device(device);
  } catch (const std::exception&) {
    throw UsageError("--device '" + device + "': expected cpu, cuda or cuda:N");
  }
  if (cfg.device.is_cuda() && !at::hasCUDA()) throw UsageError("--device " + device + ": this build has no CUDA support");
  cfg.text_encoder_fp32 = fp32_text_enc;
  if (!tokenizer_dir.empty()) cfg.tokenizer_dir = tokenizer_dir;
  cfg.wildcards_dirs.assign(wildcards_dirs.begin(), wildcards_dirs.end());
  if (dtype == "fp32") cfg.dtype = at::kFloat;
  else if (dtype == "fp16") cfg.dtype = at::kHalf;
  else if (dtype == "bf16") cfg.dtype = at::kBFloat16;
  else if (!dtype.empty()) throw UsageError("--dtype '" + dtype + "': expected fp32, fp16 or bf16");
  return cfg;
}

}  // namespace comfy::cli
