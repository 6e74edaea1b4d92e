// bench_text_encode: one prompt through the SD1.5 text encoder (CLIP-L) and through SDXL's (CLIP-L +
// OpenCLIP bigG), full-size architectures with random weights, fp32 CPU compute on float16-stored
// weights as ComfyUI does; both measured in the same run, median of --reps after --warmup.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cxxopts.hpp>
#include <iostream>
#include <thread>

#include "comfy/models/clip.hpp"
#include "comfy/models/family_clip.hpp"

using namespace comfy;
using Clock = std::chrono::steady_clock;

namespace {

// A CLIP text model's tensors under ClipTextModel's names: width W, `layers` layers, MLP 4W.
TensorMap random_clip(int64_t W, int64_t layers, bool projection, uint64_t seed) {
  at::manual_seed(seed);
  TensorMap t;
  auto r = [](std::vector<int64_t> s, double scale) { return (at::randn(s) * scale).to(at::kHalf); };
  const double s = 1.0 / std::sqrt(double(W));
  t["embeddings.token_embedding.weight"] = r({49408, W}, 0.02);
  t["embeddings.position_embedding.weight"] = r({77, W}, 0.01);
  for (int64_t i = 0; i < layers; ++i) {
    const std::string p = "encoder.layers." + std::to_string(i) + ".";
    for (const char* ln : {"layer_norm1", "layer_norm2"}) {
      t[p + ln + ".weight"] = at::ones({W}, at::kHalf);
      t[p + ln + ".bias"] = at::zeros({W}, at::kHalf);
    }
    for (const char* m : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
      t[p + "self_attn." + m + ".weight"] = r({W, W}, s);
      t[p + "self_attn." + m + ".bias"] = at::zeros({W}, at::kHalf);
    }
    t[p + "mlp.fc1.weight"] = r({4 * W, W}, s);
    t[p + "mlp.fc1.bias"] = at::zeros({4 * W}, at::kHalf);
    t[p + "mlp.fc2.weight"] = r({W, 4 * W}, s / 2);
    t[p + "mlp.fc2.bias"] = at::zeros({W}, at::kHalf);
  }
  t["final_layer_norm.weight"] = at::ones({W}, at::kHalf);
  t["final_layer_norm.bias"] = at::zeros({W}, at::kHalf);
  if (projection) t["text_projection.weight"] = r({W, W}, s);
  return t;
}

double time_ms(TextEncoder& enc, const std::string& prompt, int warmup, int reps) {
  for (int i = 0; i < warmup; ++i) enc.encode(prompt, std::nullopt);
  std::vector<double> v;
  for (int i = 0; i < reps; ++i) {
    auto t0 = Clock::now();
    enc.encode(prompt, std::nullopt);
    v.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  cxxopts::Options o("bench_text_encode", "SD1.5 vs SDXL text encoding time (same run)");
  int reps = 5, warmup = 1, threads = int(std::thread::hardware_concurrency());
  int64_t g_layers = 32, g_width = 1280;
  std::string prompt = "a photo of an astronaut riding a horse on the moon, (highly detailed:1.2), masterpiece";
  o.add_options()("reps", "timed encodes", cxxopts::value(reps)->default_value("5"))(
      "warmup", "untimed encodes first", cxxopts::value(warmup)->default_value("1"))(
      "threads", "intra-op threads (default: all cores)", cxxopts::value(threads))(
      "g-layers", "bigG layers (32 = real size)", cxxopts::value(g_layers)->default_value("32"))(
      "g-width", "bigG width (1280 = real size)", cxxopts::value(g_width)->default_value("1280"))(
      "prompt", "the prompt", cxxopts::value(prompt))("h,help", "help");
  auto res = o.parse(argc, argv);
  if (res.count("help")) {
    std::cout << o.help() << "\n";
    return 0;
  }
  at::set_num_threads(threads);
  RuntimeConfig cfg;
  auto sd1 = load_sd1_clip(random_clip(768, 12, false, 1), cfg, "random CLIP-L");
  auto sdxl = load_family_clip(ClipFamily::SDXL, random_clip(768, 12, false, 2), random_clip(g_width, g_layers, true, 3), cfg,
                               "random SDXL text encoders");
  const double a = time_ms(*sd1->encoder, prompt, warmup, reps);
  const double b = time_ms(*sdxl->encoder, prompt, warmup, reps);
  std::printf("text encode, %d threads, median of %d: SD1.5 CLIP-L %.1f ms, SDXL CLIP-L + bigG(%lld x %lld) %.1f ms, ratio %.2f\n",
              threads, reps, a, (long long)g_layers, (long long)g_width, b, b / a);
  return 0;
}
