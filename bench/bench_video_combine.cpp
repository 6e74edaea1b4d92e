// bench_video_combine: VHS_VideoCombine's time per frame for image/gif, image/webp (lossless and lossy)
// and video/h264-mp4 (ffmpeg), on a batch of random-ish frames; the encoding cost dominates.
//
//   bench_video_combine [--frames 32] [--size 512] [--reps 3]
#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "comfy/core/node.hpp"
#include "comfy/io/subprocess.hpp"

using namespace comfy;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Smooth moving gradients plus a little noise: closer to decoded pictures than pure noise.
at::Tensor frames(int64_t n, int64_t size) {
  auto y = at::linspace(0, 1, size).view({1, size, 1, 1});
  auto x = at::linspace(0, 1, size).view({1, 1, size, 1});
  auto t = at::linspace(0, 1, n).view({n, 1, 1, 1});
  auto r = (x + t).frac(), g = (y * 0.5 + t * 0.3).frac(), b = (x * y + t).frac();
  auto img = at::cat({r.expand({n, size, size, 1}), g.expand({n, size, size, 1}), b.expand({n, size, size, 1})}, 3);
  return (img + at::rand(img.sizes()) * 0.05).clamp(0, 1);
}

}  // namespace

int main(int argc, char** argv) {
  int64_t n = 32, size = 512, reps = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--frames")) n = std::stoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--size")) size = std::stoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--reps")) reps = std::stoll(argv[i + 1]);
  }
  const NodeDef* def = Registry::global().find("VHS_VideoCombine");
  if (!def) {
    std::cerr << "VHS_VideoCombine is not registered\n";
    return 1;
  }
  auto tmp = fs::temp_directory_path() / ("bench_video_combine_" + std::to_string(::getpid()));
  RuntimeConfig cfg;
  cfg.output_dir = tmp / "output";
  cfg.temp_dir = tmp / "temp";
  auto images = frames(n, size);
  struct Case {
    std::string name, format;
    std::map<std::string, Value> extra;
  };
  std::vector<Case> cases = {{"image/gif", "image/gif", {}},
                             {"image/webp lossless", "image/webp", {{"lossless", true}}},
                             {"image/webp lossy", "image/webp", {{"lossless", false}}}};
  if (io::find_program("ffmpeg"))
    cases.push_back({"video/h264-mp4 crf 19", "video/h264-mp4", {{"crf", Int(19)}, {"pix_fmt", "yuv420p"}}});
  else
    std::cout << "(ffmpeg not found: video/h264-mp4 skipped)\n";
  std::cout << n << " frames of " << size << "x" << size << ", median of " << reps << " runs\n";
  for (auto& c : cases) {
    std::vector<double> ms;
    for (int64_t r = 0; r < reps; ++r) {
      NodeInputs in;
      in.values = {{"images", images},          {"frame_rate", 8.0}, {"loop_count", Int(0)},
                   {"filename_prefix", "bench"}, {"format", c.format}, {"pingpong", false},
                   {"save_output", true}};
      for (auto& [k, v] : c.extra) in.values[k] = v;
      ExecContext ctx;
      ctx.node_id = "1";
      ctx.class_type = "VHS_VideoCombine";
      ctx.config = &cfg;
      auto t0 = Clock::now();
      def->execute(in, ctx);
      ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    }
    const double m = median(ms);
    std::cout << "  " << c.name << ": " << m << " ms total, " << m / double(n) << " ms/frame\n";
  }
  std::error_code ec;
  fs::remove_all(tmp, ec);
  return 0;
}
