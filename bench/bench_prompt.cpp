// bench_prompt: the cost per prompt of Impact's wildcard processing and of BNK_CLIPTextEncodeAdvanced
// (each weight interpretation) next to the plain CLIPTextEncode, in the same run, on the tiny golden
// SD1.5 CLIP (shared/golden/nets) and the golden wildcard folder. One thread, median of the repetitions.
//
//   bench_prompt [--reps 30]
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "comfy/core/host_memory.hpp"
#include "comfy/io/safetensors.hpp"
#include "comfy/models/clip.hpp"
#include "comfy/prompt/bnk_encode.hpp"
#include "comfy/prompt/wildcards.hpp"

using namespace comfy;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

template <class F>
double median_us(int reps, F f) {
  std::vector<double> t;
  f();  // warm-up
  for (int i = 0; i < reps; ++i) {
    auto t0 = Clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  comfy::tune_host_memory();
  at::set_num_threads(1);
  int reps = 30;
  for (int i = 1; i + 1 < argc; i += 2)
    if (!std::strcmp(argv[i], "--reps")) reps = std::max(1, std::atoi(argv[i + 1]));
  const fs::path shared(COMFY_SHARED_DIR);

  // ---- wildcard processing (no model)
  const auto dict = wildcards::load_dictionary({shared / "golden" / "prompt" / "wildcards"});
  const std::vector<std::string> wildcard_prompts{
      "a {red|green|blue} ball", "{1-3$$a|b|c|d|e}, __animal__ in __scene__", "__*__ {2$$ and $$__fruit__} 3#__colors__",
      "a photo of a cat, (masterpiece:1.2), detailed background, __styles/photo__ BREAK {day|night}"};
  std::printf("wildcard process() per prompt (dictionary of %zu keys):\n", dict.size());
  for (const auto& p : wildcard_prompts) {
    uint64_t seed = 0;
    const double us = median_us(reps * 20, [&] { wildcards::process(p, seed++, dict); });
    std::printf("  %8.2f us  %s\n", us, p.c_str());
  }

  // ---- encoders on the tiny CLIP
  auto st = io::SafeTensors::open(shared / "golden" / "nets" / "tiny-sd15.safetensors");
  RuntimeConfig cfg;
  cfg.tokenizer_dir = shared / "tokenizers" / "sd1";
  auto model = ClipTextModel::load(tensors_under(*st, "cond_stage_model.transformer.text_model."),
                                   c10::Device(c10::kCPU), "tiny-sd15 CLIP");
  auto enc = std::make_shared<Sd1ClipEncoder>(model, ClipBpe::load(shared / "tokenizers" / "sd1"), std::nullopt, cfg);
  const std::string text = "a (photo:1.2) of a [cat], (masterpiece:0.8), ((detailed)) background, (blurry:0.5)";
  std::printf("\nencode per prompt, tiny SD1.5 CLIP, 1 thread: \"%s\"\n", text.c_str());
  const double plain = median_us(reps, [&] { enc->encode(text, -1); });
  std::printf("  %-34s %9.1f us  (1.00x)\n", "CLIPTextEncode", plain);
  bnk::EncodeFn fn = [&](const std::vector<TokenChunk>& c) { return enc->encode_token_weights(c, -1).cond; };
  for (const auto& interp : bnk::interpretation_names()) {
    const double us = median_us(reps, [&] {
      bnk::encode(enc->tokenize(text), bnk::Normalization::LengthMean, *bnk::parse_interpretation(interp), fn);
    });
    std::printf("  BNK length+mean / %-15s %9.1f us  (%.2fx)\n", interp.c_str(), us, us / plain);
  }
  return 0;
}
