// bench_unet: SD1.5 or SDXL UNet step time (full-size architecture, random weights, fp32 CPU by default)
// next to ComfyUI's real UNet (../shared/baseline/comfy_unet.py) and, for SD1.5, the same network in plain
// PyTorch (bench/unet_sd15_torch.py), measured in the same run; and the checkpoint load time (cold and
// warm page cache) and peak RSS of a full-size file from `make-checkpoint --family ...`.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <chrono>
#include <cstdio>
#include <cxxopts.hpp>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "comfy/core/host_memory.hpp"
#include "comfy/models/checkpoint.hpp"
#include "comfy/models/random_checkpoint.hpp"
#include "comfy/models/unet.hpp"
#include "comfy/models/vae.hpp"
#include "comfy/models/weights.hpp"

using namespace comfy;
using Clock = std::chrono::steady_clock;

namespace {
double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}
bool drop_page_cache(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return false;
  ::fdatasync(fd);
  bool ok = ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0;
  ::close(fd);
  return ok;
}
// /proc/self/status field in bytes (VmRSS, VmHWM); 5 > clear_refs resets the high-water mark.
double status_bytes(const char* field) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(field, 0) == 0) return std::stod(line.substr(line.find(':') + 1)) * 1024.0;
  return 0;
}
void reset_peak_rss() { std::ofstream("/proc/self/clear_refs") << "5"; }
double loaded_bytes(const LoadedCheckpoint& ck) {
  double b = 0;
  auto add = [&](const TensorMap& m) {
    for (auto& [k, v] : m) b += double(v.numel()) * double(v.element_size());
  };
  if (auto u = std::dynamic_pointer_cast<UNetModel>(ck.model->net)) add(u->weights());
  if (ck.vae)
    if (auto v = std::dynamic_pointer_cast<AutoencoderKL>(ck.vae->net)) add(v->weights());
  return b;
}
std::string run_capture(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  ::pclose(p);
  return out;
}
}  // namespace

int main(int argc, char** argv) {
  comfy::tune_host_memory();
  cxxopts::Options o("bench_unet", "SD1.5 UNet step time vs Python PyTorch, and checkpoint load time");
  int batch = 2, size = 64, steps = 3, warmup = 1, threads = int(std::thread::hardware_concurrency());
  std::string python = "/usr/bin/python3", checkpoint, dtype = "f32", device = "cpu", family = "sd15";
  std::string baseline = std::string(COMFY_SHARED_DIR) + "/baseline";
  bool no_python = false, no_clip = false;
  o.add_options()("batch", "batch size", cxxopts::value(batch)->default_value("2"))(
      "size", "latent size (64 = 512x512 pixels)", cxxopts::value(size)->default_value("64"))(
      "steps", "timed steps", cxxopts::value(steps)->default_value("3"))(
      "warmup", "untimed steps first", cxxopts::value(warmup)->default_value("1"))(
      "threads", "intra-op threads (default: all cores)", cxxopts::value(threads))(
      "dtype", "f32, f16 or bf16", cxxopts::value(dtype)->default_value("f32"))(
      "device", "cpu or cuda", cxxopts::value(device)->default_value("cpu"))(
      "python", "Python with torch for the baseline", cxxopts::value(python)->default_value("/usr/bin/python3"))(
      "no-python", "skip the PyTorch baseline", cxxopts::value(no_python))(
      "family", "UNet: sd15 or sdxl", cxxopts::value(family)->default_value("sd15"))(
      "no-clip", "load the checkpoint without its text encoders", cxxopts::value(no_clip))(
      "baseline", "ComfyUI baseline kit folder (comfy_unet.py)", cxxopts::value(baseline))(
      "checkpoint", "also time loading this full-size checkpoint (cold and warm cache)", cxxopts::value(checkpoint))(
      "h,help", "this help");
  cxxopts::ParseResult r;
  try {
    r = o.parse(argc, argv);
    if (r.count("help")) {
      std::cout << o.help() << "\n";
      return 0;
    }
    if (!r.unmatched().empty()) throw std::runtime_error("unexpected argument '" + r.unmatched()[0] + "'");
    if (dtype != "f32" && dtype != "f16" && dtype != "bf16") throw std::runtime_error("--dtype must be f32, f16 or bf16");
    if (device != "cpu" && device != "cuda") throw std::runtime_error("--device must be cpu or cuda");
    if (batch < 1 || size < 8 || steps < 1 || warmup < 0 || threads < 1)
      throw std::runtime_error("--batch, --steps and --threads must be >= 1, --size >= 8, --warmup >= 0");
  } catch (const std::exception& e) {
    std::cerr << "bench_unet: " << e.what() << "\n\n" << o.help() << "\n";
    return 2;
  }
  at::set_num_threads(threads);
  const c10::Device dev(device == "cuda" ? c10::kCUDA : c10::kCPU);
  const auto dt = dtype == "f16" ? at::kHalf : dtype == "bf16" ? at::kBFloat16 : at::kFloat;
  nlohmann::json report = {{"threads", threads}, {"batch", batch}, {"latent", size}, {"dtype", dtype}, {"device", device}};

  if (!checkpoint.empty()) {
    RuntimeConfig cfg;
    cfg.device = dev;
    cfg.dtype = dt;
    const bool dropped = drop_page_cache(checkpoint);
    // Peak memory of the cold load over what the process held before, next to the loaded weights
    // (UNet + VAE; the text encoders are left out with --no-clip).
    const double rss_before = status_bytes("VmRSS");
    reset_peak_rss();
    auto t0 = Clock::now();
    double weights = 0;
    { auto ck = load_checkpoint(checkpoint, cfg, !no_clip); if (dev.is_cuda()) at::empty({1}, at::device(dev)).cpu();
      weights = loaded_bytes(ck); }
    const double cold = ms_since(t0);
    const double peak = status_bytes("VmHWM") - rss_before;
    t0 = Clock::now();
    { auto ck = load_checkpoint(checkpoint, cfg, !no_clip); if (dev.is_cuda()) at::empty({1}, at::device(dev)).cpu(); }
    const double warm = ms_since(t0);
    report["load_peak_rss_mb"] = peak / (1 << 20);
    report["loaded_weights_mb"] = weights / (1 << 20);
    report["load_peak_over_weights"] = peak / weights;
    std::printf("checkpoint load peak RSS %.0f MB for %.0f MB of loaded UNet+VAE weights (%.2fx)\n", peak / (1 << 20),
                weights / (1 << 20), peak / weights);
    report["load_ms"] = {{"cold", cold}, {"warm", warm}, {"cold_cache_dropped", dropped}};
    std::printf("checkpoint load (%s): cold %.0f ms%s, warm %.0f ms\n", checkpoint.c_str(), cold,
                dropped ? "" : " (page cache NOT dropped)", warm);
  }

  if (family != "sd15" && family != "sdxl") {
    std::cerr << "--family must be sd15 or sdxl\n";
    return 2;
  }
  report["family"] = family;
  // The full-size UNet with random weights (the same initialisation rule as make-checkpoint).
  const UNetConfig ucfg = family_unet_config(family);
  RandomWeights rw(0, at::kFloat);
  UNetModel unet(ucfg, rw);
  std::shared_ptr<UNetModel> net;
  {
    TensorMap w;
    for (auto& [k, v] : unet.weights()) w[k] = v;
    MapWeights mw(w, dev, dt, "bench UNet");
    net = std::make_shared<UNetModel>(ucfg, mw);
  }
  int64_t params = 0;
  for (auto& [k, v] : net->weights()) params += v.numel();
  auto x = at::randn({batch, 4, size, size}).to(dev).to(dt);
  auto ctx = at::randn({batch, 77, ucfg.context_dim}).to(dev).to(dt);
  auto t = at::full({batch}, 500.0).to(dev);
  std::optional<at::Tensor> y;
  if (ucfg.adm_in_channels) y = at::randn({batch, *ucfg.adm_in_channels}).to(dev).to(dt);
  std::vector<double> times;
  for (int i = 0; i < warmup + steps; ++i) {
    auto t0 = Clock::now();
    auto eps = net->forward(x, t, ctx, y);
    if (dev.is_cuda()) eps = eps.cpu();
    if (i >= warmup) times.push_back(ms_since(t0));
  }
  report["params"] = params;
  report["comfy_step_ms"] = times;
  report["comfy_median_ms"] = median(times);
  std::printf("comfy-native UNet step: median %.0f ms over %d steps (%lld params, %d threads)\n", median(times), steps,
              (long long)params, threads);

  // ComfyUI's own UNetModel, same config, size, batch and threads, in this run.
  if (!no_python) {
    const std::string cmd = python + " " + baseline + "/comfy_unet.py --json --model " + family + " --device " + device +
                            " --dtype " + (dtype == "f32" ? "fp32" : dtype == "f16" ? "fp16" : "bf16") + " --batch " +
                            std::to_string(batch) + " --size " + std::to_string(size) + " --reps " +
                            std::to_string(steps) + " --warmup " + std::to_string(warmup) + " --threads " +
                            std::to_string(threads);
    auto out = run_capture(cmd);
    try {
      auto j = nlohmann::json::parse(out.substr(out.rfind('{')));
      report["comfyui"] = j;
      const double ratio = median(times) / j["median_ms"].get<double>();
      report["ratio_comfy_native_over_comfyui"] = ratio;
      std::printf("ComfyUI %s UNet step: median %.0f ms -> comfy-native / ComfyUI = %.3f\n", family.c_str(),
                  j["median_ms"].get<double>(), ratio);
    } catch (const std::exception& e) {
      std::printf("ComfyUI baseline failed (%s): %s\n", e.what(), out.c_str());
    }
  }
  if (!no_python && family == "sd15" && device == "cpu" && dtype == "f32") {
    const std::string cmd = python + " " + COMFY_BENCH_DIR + "/unet_sd15_torch.py --batch " + std::to_string(batch) +
                            " --size " + std::to_string(size) + " --steps " + std::to_string(steps) + " --warmup " +
                            std::to_string(warmup) + " --threads " + std::to_string(threads);
    auto out = run_capture(cmd);
    try {
      auto j = nlohmann::json::parse(out.substr(out.rfind('{')));
      report["torch"] = j;
      const double ratio = median(times) / j["median_ms"].get<double>();
      report["ratio_comfy_over_torch"] = ratio;
      std::printf("PyTorch %s UNet step: median %.0f ms -> comfy-native / PyTorch = %.3f\n",
                  j["torch"].get<std::string>().c_str(), j["median_ms"].get<double>(), ratio);
    } catch (const std::exception& e) {
      std::printf("PyTorch baseline failed (%s): %s\n", e.what(), out.c_str());
    }
  }
  std::cout << report.dump() << "\n";
  return 0;
}
