#pragma once
// Writing frames to a video file through the ffmpeg program, with the arguments VHS_VideoCombine
// uses (nodes-companions.md 6): raw rgb24 / rgba / rgb48 / rgba64 frames piped in at -r frame_rate,
// odd sizes padded, the format's passes, metadata as an FFMETADATA comment.
#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "comfy/io/video_formats.hpp"

namespace comfy::io {

struct FfmpegVideoJob {
  std::filesystem::path ffmpeg;      // the program
  const VideoFormat* format = nullptr;
  nlohmann::json widget_values;      // the node's inputs: format widgets by name
  at::Tensor frames;                 // IMAGE [N, H, W, 3|4], float 0..1, in playing order (pingpong applied)
  int64_t source_frames = 0;         // frames before pingpong (VHS's loop filter size)
  std::string frame_rate;            // as Python's str() writes it ("8.0")
  int64_t loop_count = 0;
  std::string metadata_json;         // the comment written with save_metadata; "" for none
  std::filesystem::path folder;      // where the file goes
  std::string file_name;             // "<name>_<counter>.<ext>" (ext may be "%03d.png")
};

// The ffmpeg command line for the main pass (without the output path), as VHS builds it.
std::vector<std::string> ffmpeg_main_args(const FfmpegVideoJob& job, const ResolvedVideoFormat& fmt,
                                          int64_t width, int64_t height, const std::string& palette_path);

// Runs ffmpeg (pre pass first when the format has one). Output goes to a private folder beside the
// target and is linked into place only when ffmpeg succeeded; an existing file is never replaced.
// Returns the files written (one, or one per frame for image sequences). Throws comfy::Error with
// ffmpeg's message on failure.
std::vector<std::filesystem::path> write_ffmpeg_video(const FfmpegVideoJob& job);

}  // namespace comfy::io
