// bench_unet: SD1.5 or SDXL UNet step time (full-size architecture, random weights, fp32 CPU by default)
// next to ComfyUI's real UNet (../shared/baseline/comfy_unet.py) and, for SD1.5, the same network in plain
// PyTorch (bench/unet_sd15_torch.py), measured in the same run; and the checkpoint load time (cold and
// warm page cache) and peak RSS of a full-size file from `make-checkpoint --family ...` next to ComfyUI's
// comfy.sd.load_checkpoint_guess_config on the same file (bench/comfy_load.py), run after ours, never
// at the same time (each side holds the whole model). Results: bench/README.md.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cxxopts.hpp>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include <torch/csrc/autograd/profiler_legacy.h>

#include "comfy/core/host_memory.hpp"
#include "comfy/models/checkpoint.hpp"
#include "comfy/models/random_checkpoint.hpp"
#include "comfy/models/unet.hpp"
#include "comfy/models/vae.hpp"
#include "comfy/models/weights.hpp"
#ifdef COMFY_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>  // peak VRAM: the measure torch.cuda.max_memory_allocated reads
#endif

using namespace comfy;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

namespace {
struct Options {
  int batch = 2, size = 64, steps = 3, warmup = 1, threads = int(std::thread::hardware_concurrency());
  std::string python = "/usr/bin/python3", checkpoint, profile, dtype = "f32", device = "cpu", family = "sd15";
  std::string baseline = std::string(COMFY_SHARED_DIR) + "/baseline";
  std::string init = "comfyui";
  bool no_python = false, no_torch = false, no_clip = false, no_step = false;
};

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}
constexpr double MB = 1 << 20;
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
// The last JSON object a baseline script printed on stdout (its logs go to stderr).
std::optional<json> baseline_json(const std::string& cmd, const char* what) {
  const auto out = run_capture(cmd);
  try {
    return json::parse(out.substr(out.rfind("\n{") == std::string::npos ? out.find('{') : out.rfind("\n{") + 1));
  } catch (const std::exception& e) {
    std::printf("%s baseline failed (%s): %s\n", what, e.what(), out.c_str());
    return std::nullopt;
  }
}

// One timed load of `path`: wall time of load_checkpoint, then of the fp16 -> fp32 conversion the load
// deferred to the first use (UNetModel::materialize; 0 when nothing was deferred), peak RSS over the RSS
// before it (after the conversion), loaded UNet+VAE bytes. Freeing the model is not timed.
json time_one_load(const Options& o, const RuntimeConfig& cfg) {
  const double rss_before = status_bytes("VmRSS");
  reset_peak_rss();
  const auto t0 = Clock::now();
  auto ck = load_checkpoint(o.checkpoint, cfg, !o.no_clip);
  if (cfg.device.is_cuda()) at::empty({1}, at::device(cfg.device)).cpu();
  const double ms = ms_since(t0);
  const auto t1 = Clock::now();
  auto unet = std::dynamic_pointer_cast<UNetModel>(ck.model->net);
  const bool deferred = unet && !unet->materialized();
  if (unet) unet->materialize();
  const double convert_ms = ms_since(t1);
  const double weights = loaded_bytes(ck);
  const double peak = status_bytes("VmHWM") - rss_before;
  return {{"ms", ms},
          {"deferred_convert_ms", convert_ms},
          {"deferred", deferred},
          {"ms_with_convert", ms + convert_ms},
          {"peak_rss_over_before_bytes", peak},
          {"loaded_weights_bytes", weights}};
}

// Our load (cold, then warm page cache), then ComfyUI's on the same file, then the ratios.
void bench_load(const Options& o, const RuntimeConfig& cfg, json& report) {
  const bool dropped = drop_page_cache(o.checkpoint);
  json cold = time_one_load(o, cfg), warm = time_one_load(o, cfg);
  const double peak_ratio = cold["peak_rss_over_before_bytes"].get<double>() / cold["loaded_weights_bytes"].get<double>();
  report["load"] = {{"cold", cold}, {"warm", warm}, {"cold_cache_dropped", dropped}, {"peak_over_weights", peak_ratio}};
  std::printf("comfy-native load %s%s: cold %.0f ms%s, warm %.0f ms; peak RSS %.0f MB for %.0f MB of UNet+VAE weights "
              "(%.2fx)\n",
              o.checkpoint.c_str(), o.no_clip ? " (no text encoders)" : "", cold["ms"].get<double>(),
              dropped ? "" : " (page cache NOT dropped)", warm["ms"].get<double>(),
              cold["peak_rss_over_before_bytes"].get<double>() / MB, cold["loaded_weights_bytes"].get<double>() / MB,
              peak_ratio);
  if (cold["deferred"].get<bool>())
    std::printf("  + the UNet's fp16 -> fp32 conversion the load deferred to its first use: cold %.0f ms, warm %.0f ms "
                "(load + conversion: cold %.0f ms, warm %.0f ms)\n",
                cold["deferred_convert_ms"].get<double>(), warm["deferred_convert_ms"].get<double>(),
                cold["ms_with_convert"].get<double>(), warm["ms_with_convert"].get<double>());
  if (o.no_python) return;
  if (!o.no_clip)
    std::printf("  (ComfyUI's side loads without text encoders: the kit stubs the tokenizers; use --no-clip to compare "
                "like with like)\n");
  const auto j = baseline_json(o.python + " " + COMFY_BENCH_DIR + "/comfy_load.py --json --warm --baseline " +
                                   o.baseline + " --threads " + std::to_string(o.threads) + " " + o.checkpoint,
                               "ComfyUI load");
  if (!j) return;
  report["comfyui_load"] = *j;
  const json& c = (*j)["cold"];
  const json& w = (*j)["warm"];
  const double r_cold = cold["ms"].get<double>() / c["ms"].get<double>();
  const double r_warm = warm["ms"].get<double>() / w["ms"].get<double>();
  report["load"]["ratio_cold"] = r_cold;
  report["load"]["ratio_warm"] = r_warm;
  // The same with the deferred conversion counted in (what a first sampling step pays on top).
  const double rc_cold = cold["ms_with_convert"].get<double>() / c["ms"].get<double>();
  const double rc_warm = warm["ms_with_convert"].get<double>() / w["ms"].get<double>();
  report["load"]["ratio_with_convert_cold"] = rc_cold;
  report["load"]["ratio_with_convert_warm"] = rc_warm;
  std::printf("ComfyUI load_checkpoint_guess_config (%s, UNet %s): cold %.0f ms, warm %.0f ms; peak RSS %.0f MB for "
              "%.0f MB (%.2fx)\n",
              (*j)["reader"].get<std::string>().c_str(), c["unet_dtype"].get<std::string>().c_str(),
              c["ms"].get<double>(), w["ms"].get<double>(), c["peak_rss_over_before_bytes"].get<double>() / MB,
              c["loaded_weights_bytes"].get<double>() / MB, (*j)["peak_over_weights"].get<double>());
  std::printf("  -> comfy-native / ComfyUI load time: cold %.3f, warm %.3f (goal <= 0.333); peak RSS / weights: "
              "%.2f vs %.2f (goal <= 1.1)\n",
              r_cold, r_warm, peak_ratio, (*j)["peak_over_weights"].get<double>());
  if (cold["deferred"].get<bool>())
    std::printf("  -> with the deferred conversion counted in: cold %.3f, warm %.3f\n", rc_cold, rc_warm);
}

// The full-size UNet with random weights, timed.
void bench_step(const Options& o, c10::Device dev, c10::ScalarType dt, json& report) {
  const UNetConfig ucfg = family_unet_config(o.family);
  std::shared_ptr<UNetModel> net;
  {
    RandomWeights rw(0, at::kFloat);
    UNetModel unet(ucfg, rw);
    TensorMap w;
    for (auto& [k, v] : unet.weights()) w[k] = v;
    MapWeights mw(w, dev, dt, "bench UNet");
    net = std::make_shared<UNetModel>(ucfg, mw);
  }
  // --init comfyui: every weight ~ normal(0, 0.02), as comfy_unet.py draws ComfyUI's, so that both sides
  // compute on the same value ranges (one variable less between the two timings).
  int64_t params = 0;
  for (auto& [k, v] : net->weights()) {
    params += v.numel();
    if (o.init == "comfyui") v.copy_(at::empty(v.sizes(), at::kFloat).normal_(0, 0.02));  // any dtype/device
  }
  c10::InferenceMode guard;  // as the sampler runs the model (and as comfy_unet.py does)
  auto x = at::randn({o.batch, 4, o.size, o.size}).to(dev).to(dt);
  auto ctx = at::randn({o.batch, 77, ucfg.context_dim}).to(dev).to(dt);
  auto t = at::full({o.batch}, 500.0).to(dev);
  std::optional<at::Tensor> y;
  if (ucfg.adm_in_channels) y = at::randn({o.batch, *ucfg.adm_in_channels}).to(dev).to(dt);
  std::vector<double> times;
#ifdef COMFY_WITH_CUDA
  // As comfy_unet.py: the peak counts from here (the weights already allocated are part of it).
  const int cuda_index = dev.is_cuda() ? (dev.has_index() ? dev.index() : 0) : -1;
  if (cuda_index >= 0) c10::cuda::CUDACachingAllocator::resetPeakStats(cuda_index);
#endif
  for (int i = 0; i < o.warmup + o.steps; ++i) {
    auto t0 = Clock::now();
    auto eps = net->forward(x, t, ctx, y);
    if (dev.is_cuda()) eps = eps.cpu();
    if (i >= o.warmup) times.push_back(ms_since(t0));
  }
  if (!o.profile.empty()) {
    torch::autograd::profiler::RecordProfile trace(o.profile);
    net->forward(x, t, ctx, y);
  }
#ifdef COMFY_WITH_CUDA
  if (cuda_index >= 0) {
    // allocated_bytes[0]: the aggregate over pool kinds (StatType::AGGREGATE in every version).
    const double peak = double(c10::cuda::CUDACachingAllocator::getDeviceStats(cuda_index).allocated_bytes[0].peak);
    report["max_memory_allocated_bytes"] = peak;
    std::printf("comfy-native peak GPU memory allocated: %.2f GiB\n", peak / double(1 << 30));
  }
#endif
  report["params"] = params;
  report["comfy_step_ms"] = times;
  report["comfy_median_ms"] = median(times);
  std::printf("comfy-native %s UNet step: median %.0f ms over %d steps (%lld params, %d threads)\n", o.family.c_str(),
              median(times), o.steps, (long long)params, o.threads);
}

// ComfyUI's own UNetModel (same config, size, batch, threads), then the plain-PyTorch SD1.5 network.
void bench_step_baselines(const Options& o, json& report) {
  const double ours = report["comfy_median_ms"].get<double>();
  const std::string common = " --batch " + std::to_string(o.batch) + " --size " + std::to_string(o.size) +
                             " --warmup " + std::to_string(o.warmup) + " --threads " + std::to_string(o.threads);
  const std::string cmd = o.python + " " + o.baseline + "/comfy_unet.py --json --model " + o.family + " --device " +
                          o.device + " --dtype " + (o.dtype == "f32" ? "fp32" : o.dtype == "f16" ? "fp16" : "bf16") +
                          " --reps " + std::to_string(o.steps) + common;
  if (auto j = baseline_json(cmd, "ComfyUI UNet")) {
    report["comfyui"] = *j;
    const double ratio = ours / (*j)["median_ms"].get<double>();
    report["ratio_comfy_native_over_comfyui"] = ratio;
    std::printf("ComfyUI %s UNet step (%s): median %.0f ms -> comfy-native / ComfyUI = %.3f (goal <= 0.9)\n",
                o.family.c_str(), (*j)["env"]["attention"].get<std::string>().c_str(), (*j)["median_ms"].get<double>(),
                ratio);
    if (j->contains("max_memory_allocated_bytes"))
      std::printf("ComfyUI peak GPU memory allocated: %.2f GiB\n",
                  (*j)["max_memory_allocated_bytes"].get<double>() / double(1 << 30));
  }
  if (o.no_torch || o.family != "sd15" || o.device != "cpu" || o.dtype != "f32") return;
  const std::string tcmd = o.python + " " + COMFY_BENCH_DIR + "/unet_sd15_torch.py --steps " + std::to_string(o.steps) + common;
  if (auto j = baseline_json(tcmd, "PyTorch")) {
    report["torch"] = *j;
    const double ratio = ours / (*j)["median_ms"].get<double>();
    report["ratio_comfy_over_torch"] = ratio;
    std::printf("PyTorch %s UNet step: median %.0f ms -> comfy-native / PyTorch = %.3f\n",
                (*j)["torch"].get<std::string>().c_str(), (*j)["median_ms"].get<double>(), ratio);
  }
}

// Parses the command line into `o`; returns 0 to go on, else the exit code (help: 0 via `done`).
int parse(int argc, char** argv, Options& o, bool& done) {
  cxxopts::Options opts("bench_unet", "UNet step time and checkpoint load next to ComfyUI's, same run");
  opts.add_options()("batch", "batch size", cxxopts::value(o.batch)->default_value("2"))(
      "size", "latent size (64 = 512x512 pixels)", cxxopts::value(o.size)->default_value("64"))(
      "steps", "timed steps", cxxopts::value(o.steps)->default_value("3"))(
      "warmup", "untimed steps first", cxxopts::value(o.warmup)->default_value("1"))(
      "threads", "intra-op threads (default: all cores)", cxxopts::value(o.threads))(
      "dtype", "f32, f16 or bf16", cxxopts::value(o.dtype)->default_value("f32"))(
      "device", "cpu or cuda", cxxopts::value(o.device)->default_value("cpu"))(
      "python", "Python with torch for the baselines", cxxopts::value(o.python)->default_value("/usr/bin/python3"))(
      "no-python", "skip the Python baselines (ComfyUI and PyTorch)", cxxopts::value(o.no_python))(
      "no-torch", "skip the plain-PyTorch SD1.5 baseline (ComfyUI's still runs)", cxxopts::value(o.no_torch))(
      "family", "UNet: sd15 or sdxl", cxxopts::value(o.family)->default_value("sd15"))(
      "no-clip", "load the checkpoint without its text encoders (as ComfyUI's side does)", cxxopts::value(o.no_clip))(
      "no-step", "only the checkpoint load, no UNet step", cxxopts::value(o.no_step))(
      "profile", "after the timed steps, one more step under libtorch's profiler: a chrome trace to this file "
      "(bench/profile_summary.py sums it by op)", cxxopts::value(o.profile))(
      "init", "UNet weights: comfyui (normal(0, 0.02), as comfy_unet.py) or make-checkpoint",
      cxxopts::value(o.init)->default_value("comfyui"))(
      "baseline", "ComfyUI baseline kit folder (comfy_unet.py, boot.py)", cxxopts::value(o.baseline))(
      "checkpoint", "also time loading this full-size checkpoint (cold and warm cache), ours then ComfyUI's",
      cxxopts::value(o.checkpoint))("h,help", "this help");
  try {
    auto r = opts.parse(argc, argv);
    if (r.count("help")) {
      std::cout << opts.help() << "\n";
      done = true;
      return 0;
    }
    if (!r.unmatched().empty()) throw std::runtime_error("unexpected argument '" + r.unmatched()[0] + "'");
    if (o.dtype != "f32" && o.dtype != "f16" && o.dtype != "bf16") throw std::runtime_error("--dtype must be f32, f16 or bf16");
    if (o.device != "cpu" && o.device != "cuda") throw std::runtime_error("--device must be cpu or cuda");
    if (o.family != "sd15" && o.family != "sdxl") throw std::runtime_error("--family must be sd15 or sdxl");
    if (o.init != "comfyui" && o.init != "make-checkpoint") throw std::runtime_error("--init must be comfyui or make-checkpoint");
    if (o.batch < 1 || o.size < 8 || o.steps < 1 || o.warmup < 0 || o.threads < 1)
      throw std::runtime_error("--batch, --steps and --threads must be >= 1, --size >= 8, --warmup >= 0");
  } catch (const std::exception& e) {
    std::cerr << "bench_unet: " << e.what() << "\n\n" << opts.help() << "\n";
    return 2;
  }
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  comfy::tune_host_memory();
  Options o;
  bool done = false;
  if (int rc = parse(argc, argv, o, done); rc || done) return rc;
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // each figure as soon as it is measured
  at::set_num_threads(o.threads);
  const c10::Device dev(o.device == "cuda" ? c10::kCUDA : c10::kCPU);
  const auto dt = o.dtype == "f16" ? at::kHalf : o.dtype == "bf16" ? at::kBFloat16 : at::kFloat;
  json report = {{"threads", o.threads}, {"batch", o.batch},   {"latent", o.size}, {"dtype", o.dtype},
                 {"device", o.device},   {"family", o.family}, {"init", o.init}};
  if (!o.checkpoint.empty()) {
    RuntimeConfig cfg;
    cfg.device = dev;
    cfg.dtype = dt;
    bench_load(o, cfg, report);
  }
  if (!o.no_step) {
    bench_step(o, dev, dt, report);
    if (!o.no_python) bench_step_baselines(o, report);
  }
  std::cout << report.dump() << "\n";
  return 0;
}
