// Frames to a video file through ffmpeg, as VHS_VideoCombine drives it (see header).
#include "comfy/io/ffmpeg_video.hpp"

#include <ATen/ATen.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <random>

#include "comfy/core/error.hpp"
#include "comfy/io/files.hpp"
#include "comfy/io/subprocess.hpp"

namespace fs = std::filesystem;

namespace comfy::io {

namespace {

std::string widget_or(const ResolvedVideoFormat& r, const std::string& key, const std::string& literal) {
  return r.value(key, literal);
}

bool sixteen_bit(const ResolvedVideoFormat& r) {
  return widget_or(r, "input_color_depth", r.format->input_color_depth) == "16bit";
}

// Replicate-pads [N, H, W, C] so both sides are multiples of `align` (VHS splits the padding in two).
at::Tensor pad_to_alignment(const at::Tensor& frames, int64_t align) {
  const int64_t h = frames.size(1), w = frames.size(2);
  const int64_t pw = (align - w % align) % align, ph = (align - h % align) % align;
  if (pw == 0 && ph == 0) return frames;
  auto nchw = frames.permute({0, 3, 1, 2}).to(at::kFloat);
  auto padded = at::pad(nchw, {pw / 2, pw - pw / 2, ph / 2, ph - ph / 2}, "replicate");
  return padded.permute({0, 2, 3, 1}).contiguous();
}

// VHS's tensor_to_bytes / tensor_to_shorts: clip(x * (2^bits - 1) + 0.5), little-endian samples.
std::string frame_bytes(const at::Tensor& frame, bool sixteen) {
  const double top = sixteen ? 65535.0 : 255.0;
  auto q = (frame.to(at::kFloat) * float(top) + 0.5f).clamp(0, top);
  if (!sixteen) {
    auto u8 = q.to(at::kByte).contiguous();
    return std::string(reinterpret_cast<const char*>(u8.data_ptr<uint8_t>()), size_t(u8.numel()));
  }
  auto i32 = q.to(at::kInt).contiguous();
  const int32_t* p = i32.data_ptr<int32_t>();
  std::string out(size_t(i32.numel()) * 2, '\0');
  for (int64_t i = 0; i < i32.numel(); ++i) {
    out[size_t(2 * i)] = char(p[i] & 0xff);
    out[size_t(2 * i + 1)] = char((p[i] >> 8) & 0xff);
  }
  return out;
}

std::string escape_ffmetadata(std::string s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == ';' || c == '#' || c == '=' || c == '\n') out += '\\';
    out += c;
  }
  return out;
}

// A private folder beside the target, removed with everything in it when done.
struct ScratchDir {
  fs::path path;
  explicit ScratchDir(const fs::path& parent) {
    fs::create_directories(parent);
    std::random_device rd;
    for (int i = 0; i < 100; ++i) {
      fs::path p = parent / (".vhs-tmp-" + std::to_string(rd()));
      std::error_code ec;
      if (fs::create_directory(p, ec)) {
        path = p;
        return;
      }
    }
    throw Error("execution_error", "cannot create a scratch folder in " + parent.string());
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

ProcessResult run_pass(const std::vector<std::string>& args, const std::vector<std::string>& frames,
                       const std::map<std::string, std::string>& env) {
  PipedProcess p(args, env);
  for (auto& f : frames)
    if (!p.write(f.data(), f.size())) break;
  return p.finish();
}

std::string ffmpeg_failure(const char* what, const ProcessResult& r) {
  std::string msg = std::string("An error occurred in the ffmpeg ") + what + ":\n" + r.err;
  if (r.err.empty()) msg += "ffmpeg exited with status " + std::to_string(r.exit_code);
  return msg;
}

// Moves what ffmpeg wrote in `scratch` into `folder` without replacing anything.
std::vector<fs::path> publish(const fs::path& scratch, const fs::path& folder) {
  std::vector<fs::path> made;
  std::vector<fs::path> files;
  for (auto& e : fs::directory_iterator(scratch))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (auto& f : files) {
    fs::path to = folder / f.filename();
    if (::link(f.c_str(), to.c_str()) != 0) {
      int e = errno;
      for (auto& m : made) fs::remove(m);
      throw Error("execution_error", "cannot create " + to.string() + ": " + std::strerror(e));
    }
    made.push_back(to);
  }
  return made;
}

}  // namespace

std::vector<std::string> ffmpeg_main_args(const FfmpegVideoJob& job, const ResolvedVideoFormat& fmt, int64_t width,
                                          int64_t height, const std::string& palette_path) {
  const bool alpha = job.frames.size(3) == 4;
  const bool sixteen = sixteen_bit(fmt);
  const std::string in_fmt = sixteen ? (alpha ? "rgba64" : "rgb48") : (alpha ? "rgba" : "rgb24");
  std::vector<std::string> args = {job.ffmpeg.string(), "-v", "error", "-f", "rawvideo", "-pix_fmt", in_fmt,
                                   "-color_range", "pc", "-colorspace", "rgb", "-color_primaries", "bt709",
                                   "-color_trc", fmt.format->fake_trc,
                                   "-s", std::to_string(width) + "x" + std::to_string(height),
                                   "-r", job.frame_rate, "-i", "-"};
  if (job.loop_count > 0)
    args.insert(args.end(), {"-vf", "loop=loop=" + std::to_string(job.loop_count) + ":size=" +
                                         std::to_string(job.source_frames)});
  for (auto a : fmt.inputs_main_pass) args.push_back(a == "temp/palette.png" ? palette_path : a);
  args.insert(args.end(), fmt.main_pass.begin(), fmt.main_pass.end());
  if (fmt.format->has_bitrate) {
    const std::string rate = fmt.value("bitrate", "10");
    args.insert(args.end(), {"-b:v", rate + (fmt.value("megabit", "True") == "True" ? "M" : "K")});
  }
  merge_filter_args(args);
  return args;
}

std::vector<fs::path> write_ffmpeg_video(const FfmpegVideoJob& job) {
  const ResolvedVideoFormat fmt = resolve_video_format(*job.format, job.widget_values);
  const at::Tensor frames = pad_to_alignment(job.frames, job.format->dim_alignment);
  const int64_t height = frames.size(1), width = frames.size(2);
  const bool sixteen = sixteen_bit(fmt);
  std::vector<std::string> data;
  data.reserve(size_t(frames.size(0)));
  for (int64_t i = 0; i < frames.size(0); ++i) data.push_back(frame_bytes(frames[i], sixteen));

  ScratchDir scratch(job.folder);
  const std::string palette = (scratch.path / "palette.png").string();
  const auto& env = job.format->environment;
  auto args = ffmpeg_main_args(job, fmt, width, height, palette);
  if (!fmt.pre_pass.empty()) {
    // palette (or other) pass over all frames: the input arguments, then the pass
    auto in_end = std::find(args.begin(), args.end(), std::string("-i")) + 2;
    std::vector<std::string> pre(args.begin(), in_end);
    for (auto a : fmt.pre_pass) pre.push_back(a == "temp/palette.png" ? palette : a);
    merge_filter_args(pre);
    auto r = run_pass(pre, data, env);
    if (r.exit_code != 0) throw Error("execution_error", ffmpeg_failure("prepass", r));
  }
  const fs::path out = scratch.path / job.file_name;
  bool done = false;
  if (!job.metadata_json.empty() && widget_or(fmt, "save_metadata", job.format->save_metadata) != "False") {
    const fs::path meta = scratch.path / "metadata.txt";
    write_file_atomic(meta, ";FFMETADATA1\ncomment=" + escape_ffmetadata(job.metadata_json));
    std::vector<std::string> m = {args[0], "-i", meta.string()};
    m.insert(m.end(), args.begin() + 1, args.end());
    m.insert(m.end(), {"-metadata", "creation_time=now", out.string()});
    auto r = run_pass(m, data, env);
    fs::remove(meta);
    done = r.exit_code == 0;
    if (!done) {  // VHS: fall back to a run without metadata
      std::vector<fs::path> partial;
      for (auto& e : fs::directory_iterator(scratch.path))
        if (e.path().filename() != "palette.png") partial.push_back(e.path());
      for (auto& p : partial) fs::remove(p);
    }
  }
  if (!done) {
    auto plain = args;
    plain.push_back(out.string());
    auto r = run_pass(plain, data, env);
    if (r.exit_code != 0) throw Error("execution_error", ffmpeg_failure("subprocess", r));
  }
  fs::remove(palette);
  return publish(scratch.path, job.folder);
}

}  // namespace comfy::io
