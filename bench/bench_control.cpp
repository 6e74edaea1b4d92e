// bench_control: (1) ESRGAN x4 (RRDBNet, full-size 64 filters / 23 blocks by default, random weights)
// through ImageUpscaleWithModel's tiled path on a 512x512 image, with the process's peak memory after
// each tile size (it grows with the tile, not the image); (2) the cost of an SD1.5 ControlNet per
// sampling step as a fraction of the SD1.5 UNet step (both full-size, random weights, same batch/size).
// CPU fp32. ComfyUI's side of the upscale is bench/comfy_upscale.py (its ImageUpscaleWithModel tiling with
// a plain-PyTorch RRDBNet: the kit stubs spandrel); results in bench/README.md.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cxxopts.hpp>
#include <thread>

#include "comfy/models/controlnet.hpp"
#include "comfy/models/unet.hpp"
#include "comfy/models/upscale_model.hpp"
#include "comfy/models/weights.hpp"

using namespace comfy;
using Clock = std::chrono::steady_clock;

namespace {
double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}
double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) / 1024.0;
}

void bench_upscale(int64_t nf, int64_t nb, int64_t size, const std::vector<int64_t>& tiles, int reps) {
  RRDBNetConfig cfg;
  cfg.num_filters = nf;
  cfg.num_blocks = nb;
  cfg.arch_scale = 4;
  RandomWeights w(1, at::kFloat);
  auto m = std::make_shared<UpscaleModel>();
  m->net = std::make_shared<RRDBNet>(cfg, w);
  m->file = "random RRDBNet";
  auto image = at::rand({1, size, size, 3});
  std::printf("ESRGAN x4 (%lld filters, %lld blocks, %.1f MB of weights) on %lldx%lld, CPU fp32\n", (long long)nf,
              (long long)nb, double(m->net->parameter_bytes()) / 1e6, (long long)size, (long long)size);
  std::printf("  peak RSS before: %.0f MB\n", peak_rss_mb());
  for (int64_t tile : tiles) {  // increasing tiles: the peak after each is that tile's peak
    std::vector<double> t;
    at::Tensor out;
    for (int r = 0; r < reps; ++r) {
      auto t0 = Clock::now();
      out = upscale_image_with_model(*m, image, tile, 32);
      t.push_back(ms_since(t0));
    }
    std::printf("  tile %4lld: %9.1f ms/image (median of %d)  output %lldx%lld  peak RSS %.0f MB\n", (long long)tile,
                median(t), reps, (long long)out.size(1), (long long)out.size(2), peak_rss_mb());
  }
}

void bench_controlnet(int64_t size, int64_t batch, int reps) {
  UNetConfig cfg = UNetConfig::sd15();
  RandomWeights wu(2, at::kFloat), wc(3, at::kFloat);
  UNetModel unet(cfg, wu);
  ControlNetModel cn(cfg, 3, wc);
  auto x = at::randn({batch, 4, size, size});
  auto hint = at::rand({batch, 3, size * 8, size * 8});
  auto t = at::full({batch}, 500.0f);
  auto ctx = at::randn({batch, 77, 768});
  auto time = [&](auto&& f) {
    f();  // warm-up
    std::vector<double> v;
    for (int r = 0; r < reps; ++r) {
      auto t0 = Clock::now();
      f();
      v.push_back(ms_since(t0));
    }
    return median(v);
  };
  at::InferenceMode guard;
  ControlResiduals res;
  const double ms_cn = time([&] { res = cn.forward(x, hint, t, ctx, std::nullopt); });
  const double ms_unet = time([&] { unet.forward(x, t, ctx); });
  const double ms_both = time([&] { unet.forward(x, t, ctx, std::nullopt, &res); });
  std::printf("SD1.5 ControlNet vs UNet, latent %lldx%lld batch %lld, CPU fp32 (median of %d)\n", (long long)size,
              (long long)size, (long long)batch, reps);
  std::printf("  UNet step %.1f ms, UNet with residuals %.1f ms, ControlNet %.1f ms\n", ms_unet, ms_both, ms_cn);
  std::printf("  ControlNet cost per step: %.2f of the UNet step (step with ControlNet = %.2fx)\n", ms_cn / ms_unet,
              (ms_cn + ms_both) / ms_unet);
}
}  // namespace

int main(int argc, char** argv) {
  cxxopts::Options o("bench_control", "ESRGAN x4 tiled upscale and ControlNet cost per step (CPU)");
  int64_t nf = 64, nb = 23, size = 512, latent = 32, batch = 2;
  int reps = 1, threads = int(std::thread::hardware_concurrency());
  std::string tiles = "128,256,512";
  bool no_upscale = false, no_controlnet = false;
  o.add_options()("nf", "RRDBNet filters", cxxopts::value(nf)->default_value("64"))(
      "nb", "RRDBNet blocks", cxxopts::value(nb)->default_value("23"))(
      "size", "image side for the upscale", cxxopts::value(size)->default_value("512"))(
      "tiles", "tile sizes, increasing", cxxopts::value(tiles)->default_value("128,256,512"))(
      "latent", "latent side for the ControlNet (64 = 512x512)", cxxopts::value(latent)->default_value("32"))(
      "batch", "ControlNet/UNet batch (2 = cond + uncond)", cxxopts::value(batch)->default_value("2"))(
      "reps", "timed repetitions", cxxopts::value(reps)->default_value("1"))(
      "threads", "intra-op threads", cxxopts::value(threads))(
      "no-upscale", "skip the upscale part", cxxopts::value(no_upscale))(
      "no-controlnet", "skip the ControlNet part", cxxopts::value(no_controlnet))("h,help", "help");
  auto args = o.parse(argc, argv);
  if (args.count("help")) {
    std::printf("%s\n", o.help().c_str());
    return 0;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // each figure as soon as it is measured
  at::set_num_threads(threads);
  std::printf("threads: %d\n", threads);
  if (!no_upscale) {
    std::vector<int64_t> ts;
    for (size_t p = 0; p < tiles.size();) {
      size_t q = tiles.find(',', p);
      const std::string piece = tiles.substr(p, q - p);
      size_t used = 0;
      int64_t tile = 0;
      try {
        tile = std::stoll(piece, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (piece.empty() || used != piece.size() || tile <= 0) {
        std::fprintf(stderr, "bench_control: --tiles takes positive integers separated by commas, got '%s'\n",
                     tiles.c_str());
        return 2;
      }
      ts.push_back(tile);
      p = q == std::string::npos ? tiles.size() : q + 1;
    }
    bench_upscale(nf, nb, size, ts, reps);
  }
  if (!no_controlnet) bench_controlnet(latent, batch, reps);
  return 0;
}
