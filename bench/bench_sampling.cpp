// Per-step cost of the sampling stack (guider + CFG + sampler update) with the toy Gaussian model:
// latent 1x4x64x64, 20 karras steps, cfg 8 with positive and negative (one batch-2 model call per
// evaluation), 1 thread. Columns: total per step; overhead = total - the toy network's own forward
// (DiffusionNet::forward on the batch-2 input: the "network" every stack has to run); and, for
// reference, the bare apply_model call (network + ModelSampling input/timestep/denoised).
// Usage: bench_sampling [REPEATS] [DEVICE] [--wall] [--default-malloc] [--only=SAMPLER] (--help)
//   (default: thread CPU time; --default-malloc skips comfy::tune_host_memory, to show its effect)
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <time.h>

#include <chrono>
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "comfy/core/host_memory.hpp"
#include "comfy/models/toy_gaussian.hpp"
#include "comfy/sampling/ksampler.hpp"
#include "comfy/sampling/schedulers.hpp"

using namespace comfy;

namespace {
void sync(c10::Device d) {
  if (d.is_cuda()) at::empty({1}, at::TensorOptions().device(d)).cpu();  // waits for queued work
}
// Thread CPU time: robust on a shared, loaded machine (wall time is reported by --wall). On CUDA the
// host thread's time is what the sampling stack itself costs; kernels run asynchronously.
bool g_wall = false;
double now_us() {
  timespec ts{};
  clock_gettime(g_wall ? CLOCK_MONOTONIC : CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e6 + double(ts.tv_nsec) / 1e3;
}
// Best of `blocks` timed blocks of `reps` calls, in us per call: on a shared machine the fastest block
// is the one least disturbed by other processes.
template <class F>
double best_us(int blocks, int reps, c10::Device dev, F&& f) {
  double best = 1e300;
  for (int b = 0; b < blocks; ++b) {
    sync(dev);
    const double t = now_us();
    for (int i = 0; i < reps; ++i) f();
    sync(dev);
    best = std::min(best, (now_us() - t) / reps);
  }
  return best;
}
}  // namespace

int usage(std::FILE* to, int code) {
  std::fprintf(to,
               "usage: bench_sampling [REPEATS] [DEVICE] [--wall] [--default-malloc] [--only=SAMPLER]\n"
               "  Per-step cost of the sampling stack with the toy Gaussian model (latent 1x4x64x64, 20 steps).\n"
               "  REPEATS          timed runs per block (default 20)\n"
               "  DEVICE           cpu, cuda or cuda:N (default cpu)\n"
               "  --wall           wall time instead of thread CPU time\n"
               "  --default-malloc keep glibc's malloc settings (shows what tune_host_memory saves)\n"
               "  --only=SAMPLER   one sampler (euler, euler_ancestral, dpmpp_2m, dpmpp_2m_sde, uni_pc)\n"
               "  -h, --help       this help\n");
  return code;
}

int main(int argc, char** argv) {
  std::vector<std::string> pos_args;
  bool default_malloc = false;
  std::string only;  // --only=NAME: one sampler (for profiling)
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") return usage(stdout, 0);
    if (a == "--wall") g_wall = true;
    else if (a == "--default-malloc") default_malloc = true;
    else if (a.rfind("--only=", 0) == 0) only = a.substr(7);
    else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "bench_sampling: unknown option '%s'\n", a.c_str());
      return usage(stderr, 2);
    } else {
      pos_args.push_back(a);
    }
  }
  if (pos_args.size() > 2) {
    std::fprintf(stderr, "bench_sampling: unexpected argument '%s'\n", pos_args[2].c_str());
    return usage(stderr, 2);
  }
  int repeats = 20;
  if (!pos_args.empty()) {
    const std::string& r = pos_args[0];
    if (r.empty() || r.size() > 6 || r.find_first_not_of("0123456789") != std::string::npos || std::stoi(r) < 1) {
      std::fprintf(stderr, "bench_sampling: REPEATS '%s' is not a positive integer\n", r.c_str());
      return usage(stderr, 2);
    }
    repeats = std::stoi(r);
  }
  c10::Device dev(c10::kCPU);
  try {
    dev = c10::Device(pos_args.size() > 1 ? pos_args[1] : "cpu");
  } catch (const std::exception&) {
    std::fprintf(stderr, "bench_sampling: DEVICE '%s': expected cpu, cuda or cuda:N\n", pos_args[1].c_str());
    return usage(stderr, 2);
  }
  if (dev.is_cuda() && !at::hasCUDA()) {
    std::fprintf(stderr, "bench_sampling: this build has no CUDA support\n");
    return 2;
  }
  if (!default_malloc) tune_host_memory();
  at::set_num_threads(1);
  const int64_t steps = 20;
  auto model = make_toy_gaussian_model(dev);
  auto pos = toy_conditioning(true), neg = toy_conditioning(false);
  auto sigmas = sigmas_to_host(calculate_sigmas(*model->sampling, "karras", steps));
  auto latent = at::zeros({1, 4, 64, 64});
  auto noise = at::randn({1, 4, 64, 64});

  // Bare model call: what one CFG evaluation costs in the network alone.
  ModelConds conds;
  conds.c_crossattn = at::cat({neg->entries[0].cross_attn, pos->entries[0].cross_attn}).to(dev);
  auto x2 = at::randn({2, 4, 64, 64}).to(dev);
  auto s2 = at::full({2}, 3.0f, x2.options());
  for (int i = 0; i < 20; ++i) model->apply_model(x2, 3.0f, conds);
  const int blocks = 5, model_reps = 100;
  const double model_us = best_us(blocks, model_reps, dev, [&] { model->apply_model(x2, 3.0f, conds); });
  // The network alone, on an input already scaled and a float timestep, as apply_model passes them.
  auto t2 = model->sampling->timestep(s2).to(at::kFloat);
  const double net_us = best_us(blocks, model_reps, dev, [&] { model->net->forward(x2, t2, conds); });
  std::printf("%s time, best of %d blocks, %s malloc; ", g_wall ? "wall" : "thread CPU", blocks,
              default_malloc ? "default" : "tuned");
  std::printf("device %s, latent 1x4x64x64, %lld steps, 1 thread\n", dev.str().c_str(),
              static_cast<long long>(steps));
  std::printf("toy network forward (batch 2): %.1f us; bare apply_model (batch 2): %.1f us\n", net_us, model_us);
  std::printf("%-16s %12s %12s %10s\n", "sampler", "total us/step", "overhead", "NFE/step");

  for (const char* name : {"euler", "euler_ancestral", "dpmpp_2m", "dpmpp_2m_sde", "uni_pc"}) {
    if (!only.empty() && only != name) continue;
    int64_t nfe = 0;
    auto run = [&] {
      CustomSampleArgs a;
      a.model = model;
      a.positive = pos;
      a.negative = neg;
      a.cfg = 8.0;
      a.sampler_name = name;
      a.sigmas = sigmas;
      a.noise = noise;
      a.latent = latent;
      a.seed = 1;
      nfe = 0;
      a.callback = [&](int64_t, const at::Tensor&, const at::Tensor&, int64_t) {};
      return sample_custom(std::move(a));
    };
    try {
      run();  // warm-up
      const double per_step = best_us(blocks, repeats, dev, run) / steps;
      // NFE per step is 1 for all five (the final UniPC step reuses its last model value).
      std::printf("%-16s %12.1f %12.1f %10d\n", name, per_step, per_step - net_us, 1);
    } catch (const std::exception& e) {
      std::printf("%-16s unavailable: %s\n", name, e.what());
    }
  }
  return 0;
}
