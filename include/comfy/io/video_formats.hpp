#pragma once
// The ffmpeg video formats VideoHelperSuite offers in VHS_VideoCombine (its video_formats/*.json, in
// our own table; nodes-companions.md 6): the format widgets each one adds to the node, and the ffmpeg
// arguments built from those widgets' values exactly as VHS builds them.
#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace comfy::io {

struct VideoFormatWidget {
  std::string name;
  std::string type;                  // "INT", "BOOLEAN" or "COMBO"
  std::vector<std::string> choices;  // COMBO
  nlohmann::json default_value;      // VHS's default (first choice for a combo without one)
  int64_t min = 0, max = 0;          // INT
};

// One argument of a pass: literal text, or a widget's value (str() of it, or `templ` with $val
// replaced by it).
struct VideoFormatArg {
  std::string text;
  std::string widget;  // "" = literal
};

struct VideoFormat {
  std::string name;  // "h264-mp4"; the combo choice is "video/" + name
  std::vector<VideoFormatArg> pre_pass, inputs_main_pass, main_pass;
  std::vector<std::string> audio_pass;
  std::vector<VideoFormatWidget> widgets;  // in VHS's widget order
  std::string extension;                   // "mp4", "%03d.png" for image sequences
  std::string fake_trc = "iec61966-2-1";
  std::string input_color_depth = "8bit";  // or a widget of that name
  std::string save_metadata = "False";     // "True" when always on, or a widget of that name
  bool has_bitrate = false;                // bitrate + megabit widgets
  std::map<std::string, std::string> environment;
  int dim_alignment = 2;
};

// The built-in formats in VHS's list order (ffmpeg-gif, h264-mp4, ...). gifski is absent: VHS lists
// it only when the gifski program is installed, and we do not drive it.
const std::vector<VideoFormat>& video_formats();
const VideoFormat* find_video_format(const std::string& name);  // without "video/"

// Python's str() of a JSON widget value ("True", "19", "yuv420p", "8.0").
std::string python_str(const nlohmann::json& v);

// VHS's apply_format_widgets: the widget values (missing ones take their default) substituted into
// the passes. `values` holds the node's inputs by name.
struct ResolvedVideoFormat {
  const VideoFormat* format = nullptr;
  std::map<std::string, std::string> values;  // every widget, as str()
  std::vector<std::string> pre_pass, inputs_main_pass, main_pass;
  std::string value(const std::string& key, const std::string& fallback) const;
};
ResolvedVideoFormat resolve_video_format(const VideoFormat& f, const nlohmann::json& values);

// VHS's merge_filter_args: every later "-vf X" is appended to the first one's filter chain (",X").
void merge_filter_args(std::vector<std::string>& args, const std::string& flag = "-vf");

}  // namespace comfy::io
