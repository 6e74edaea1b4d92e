// VHS's built-in video formats (nodes-companions.md 6; VideoHelperSuite video_formats/*.json), and
// its apply_format_widgets / merge_filter_args.
#include "comfy/io/video_formats.hpp"

#include "comfy/io/python_json.hpp"

namespace comfy::io {

namespace {
using W = VideoFormatWidget;
using A = VideoFormatArg;

A lit(std::string s) { return {std::move(s), ""}; }
A wid(std::string name, std::string templ = "") { return {std::move(templ), std::move(name)}; }
std::vector<A> lits(std::initializer_list<const char*> l) {
  std::vector<A> out;
  for (auto* s : l) out.push_back(lit(s));
  return out;
}
void add(std::vector<A>& to, std::vector<A> more) { to.insert(to.end(), more.begin(), more.end()); }

W combo(std::string name, std::vector<std::string> choices, std::string def = "") {
  W w{std::move(name), "COMBO", std::move(choices), nullptr};
  w.default_value = def.empty() ? w.choices.front() : def;
  return w;
}
W integer(std::string name, int64_t def, int64_t min, int64_t max) {
  W w{std::move(name), "INT", {}, def};
  w.min = min;
  w.max = max;
  return w;
}
W boolean(std::string name, bool def) { return {std::move(name), "BOOLEAN", {}, def}; }

// The colour tags VHS puts on the YUV outputs (rgb input is tagged as BT.709 there: fake_trc).
std::vector<A> bt709_tags() {
  return lits({"-vf", "scale=out_color_matrix=bt709", "-color_range", "tv", "-colorspace", "bt709",
               "-color_primaries", "bt709", "-color_trc", "bt709"});
}

std::vector<VideoFormat> build() {
  std::vector<VideoFormat> v;
  {  // a palette pass, then the palette applied with the chosen dithering
    VideoFormat f;
    f.name = "ffmpeg-gif";
    f.pre_pass = {lit("-y"), lit("-vf"), wid("stats_mode", "palettegen=stats_mode=$val"), lit("temp/palette.png")};
    f.inputs_main_pass = lits({"-i", "temp/palette.png"});
    f.main_pass = {lit("-n"), lit("-lavfi"), wid("dither", "[0][1:v] paletteuse=dither=$val")};
    f.audio_pass = {"-c:a", "libvorbis"};
    f.widgets = {combo("stats_mode", {"full", "diff"}, "full"),
                 combo("dither", {"bayer", "heckbert", "floyd_steinberg", "sierra2", "sierra2_4a", "sierra3", "burkes",
                                  "atkinson", "none"},
                       "sierra2_4a")};
    f.extension = "gif";
    v.push_back(f);
  }
  {
    VideoFormat f;
    f.name = "h264-mp4";
    f.main_pass = {lit("-y"), lit("-c:v"), lit("libx264"), lit("-pix_fmt"), wid("pix_fmt"), lit("-crf"), wid("crf")};
    add(f.main_pass, bt709_tags());
    f.fake_trc = "bt709";
    f.audio_pass = {"-c:a", "aac", "-movflags", "use_metadata_tags"};
    f.widgets = {combo("pix_fmt", {"yuv420p", "yuv420p10le"}), integer("crf", 19, 0, 100),
                 boolean("save_metadata", true), boolean("trim_to_audio", false)};
    f.save_metadata = "save_metadata";
    f.extension = "mp4";
    v.push_back(f);
  }
  {
    VideoFormat f;
    f.name = "h265-mp4";
    f.main_pass = {lit("-n"), lit("-c:v"), lit("libx265"), lit("-vtag"), lit("hvc1"), lit("-pix_fmt"), wid("pix_fmt"),
                   lit("-crf"), wid("crf")};
    add(f.main_pass, lits({"-preset", "medium", "-x265-params", "log-level=quiet"}));
    add(f.main_pass, bt709_tags());
    add(f.main_pass, lits({"-movflags", "+faststart+write_colr"}));
    f.fake_trc = "bt709";
    f.audio_pass = {"-c:a", "aac"};
    f.widgets = {combo("pix_fmt", {"yuv420p10le", "yuv420p"}), integer("crf", 22, 0, 100),
                 boolean("save_metadata", true)};
    f.save_metadata = "save_metadata";
    f.extension = "mp4";
    v.push_back(f);
  }
  {  // ffmpeg's default webm video codec (VP9)
    VideoFormat f;
    f.name = "webm";
    f.main_pass = {lit("-n"), lit("-pix_fmt"), wid("pix_fmt"), lit("-crf"), wid("crf"), lit("-b:v"), lit("0")};
    f.audio_pass = {"-c:a", "libvorbis"};
    f.widgets = {combo("pix_fmt", {"yuv420p", "yuva420p"}), integer("crf", 20, 0, 100), boolean("save_metadata", true),
                 boolean("trim_to_audio", false)};
    f.save_metadata = "save_metadata";
    f.extension = "webm";
    v.push_back(f);
  }
  {
    VideoFormat f;
    f.name = "av1-webm";
    f.main_pass = {lit("-n"), lit("-c:v"), lit("libsvtav1"), lit("-pix_fmt"), wid("pix_fmt"), lit("-crf"), wid("crf")};
    f.audio_pass = {"-c:a", "libopus"};
    f.widgets = {combo("pix_fmt", {"yuv420p10le", "yuv420p"}), integer("crf", 23, 0, 100),
                 combo("input_color_depth", {"8bit", "16bit"}), boolean("save_metadata", true)};
    f.input_color_depth = "input_color_depth";
    f.save_metadata = "save_metadata";
    f.environment = {{"SVT_LOG", "1"}};
    f.extension = "webm";
    v.push_back(f);
  }
  {
    VideoFormat f;
    f.name = "ProRes";
    f.main_pass = {lit("-n"), lit("-c:v"), lit("prores_ks"), lit("-profile:v"), wid("profile"), lit("-pix_fmt"),
                   lit("yuv422p10")};
    f.audio_pass = {"-c:a", "pcm_s16le"};
    f.widgets = {combo("profile", {"lt", "standard", "hq", "4444", "4444xq"}, "hq")};
    f.extension = "mov";
    v.push_back(f);
  }
  {  // lossless, 16-bit input
    VideoFormat f;
    f.name = "ffv1-mkv";
    f.main_pass = {lit("-n"),        lit("-c:v"),       lit("ffv1"),          lit("-level"), wid("level"),
                   lit("-coder"),    wid("coder"),      lit("-context"),      wid("context"),
                   lit("-g"),        wid("gop_size"),   lit("-slices"),       wid("slices"),
                   lit("-slicecrc"), wid("slicecrc"),   lit("-pix_fmt"),      wid("pix_fmt")};
    f.audio_pass = {"-c:a", "flac"};
    f.widgets = {combo("level", {"0", "1", "3"}, "3"),
                 combo("coder", {"0", "1", "2"}, "1"),
                 combo("context", {"0", "1"}, "1"),
                 integer("gop_size", 1, 1, 300),
                 combo("slices", {"4", "6", "9", "12", "16", "20", "24", "30"}, "16"),
                 combo("slicecrc", {"0", "1"}, "1"),
                 combo("pix_fmt",
                       {"rgba64le", "bgra", "yuv420p", "yuv422p", "yuv444p", "yuva420p", "yuva422p", "yuva444p",
                        "yuv420p10le", "yuv422p10le", "yuv444p10le", "yuv420p12le", "yuv422p12le", "yuv444p12le",
                        "yuv420p14le", "yuv422p14le", "yuv444p14le", "yuv420p16le", "yuv422p16le", "yuv444p16le",
                        "gray", "gray10le", "gray12le", "gray16le"},
                       "rgba64le"),
                 boolean("save_metadata", true),
                 boolean("trim_to_audio", false)};
    f.input_color_depth = "16bit";
    f.save_metadata = "save_metadata";
    f.extension = "mkv";
    v.push_back(f);
  }
  for (auto [name, codec] : {std::pair<const char*, const char*>{"nvenc_h264-mp4", "h264_nvenc"},
                             {"nvenc_hevc-mp4", "hevc_nvenc"},
                             {"nvenc_av1-mp4", "av1_nvenc"}}) {
    VideoFormat f;
    f.name = name;
    f.main_pass = {lit("-n"), lit("-c:v"), lit(codec), lit("-pix_fmt"), wid("pix_fmt")};
    f.audio_pass = {"-c:a", "aac"};
    f.widgets = {combo("pix_fmt", {"yuv420p", "p010le"}), integer("bitrate", 10, 1, 999), boolean("megabit", true),
                 boolean("save_metadata", true)};
    f.has_bitrate = true;
    f.save_metadata = "save_metadata";
    f.extension = "mp4";
    v.push_back(f);
  }
  {  // image sequences: <name>_<counter>.%03d.png
    VideoFormat f;
    f.name = "8bit-png";
    f.main_pass = lits({"-y"});
    f.extension = "%03d.png";
    v.push_back(f);
    f.name = "16bit-png";
    f.main_pass = lits({"-n", "-pix_fmt", "rgba64"});
    f.input_color_depth = "16bit";
    v.push_back(f);
  }
  return v;
}

std::string replace_val(std::string templ, const std::string& val) {
  for (size_t p = templ.find("$val"); p != std::string::npos; p = templ.find("$val", p + val.size()))
    templ.replace(p, 4, val);
  return templ;
}
}  // namespace

const std::vector<VideoFormat>& video_formats() {
  static const std::vector<VideoFormat> all = build();
  return all;
}

const VideoFormat* find_video_format(const std::string& name) {
  for (auto& f : video_formats())
    if (f.name == name) return &f;
  return nullptr;
}

std::string python_str(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "True" : "False";
  if (v.is_null()) return "None";
  return python_json_dumps(v);
}

std::string ResolvedVideoFormat::value(const std::string& key, const std::string& fallback) const {
  auto it = values.find(key);
  return it == values.end() ? fallback : it->second;
}

ResolvedVideoFormat resolve_video_format(const VideoFormat& f, const nlohmann::json& values) {
  ResolvedVideoFormat r;
  r.format = &f;
  for (auto& w : f.widgets)
    r.values[w.name] = python_str(values.is_object() && values.contains(w.name) ? values[w.name] : w.default_value);
  auto pass = [&](const std::vector<VideoFormatArg>& in) {
    std::vector<std::string> out;
    for (auto& a : in) {
      if (a.widget.empty()) out.push_back(a.text);
      else out.push_back(a.text.empty() ? r.values[a.widget] : replace_val(a.text, r.values[a.widget]));
    }
    return out;
  };
  r.pre_pass = pass(f.pre_pass);
  r.inputs_main_pass = pass(f.inputs_main_pass);
  r.main_pass = pass(f.main_pass);
  return r;
}

void merge_filter_args(std::vector<std::string>& args, const std::string& flag) {
  size_t first = args.size();
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] != flag) continue;
    if (first == args.size()) {
      first = i + 1;
      ++i;
      continue;
    }
    args[first] += "," + args[i + 1];
    args.erase(args.begin() + long(i), args.begin() + long(i) + 2);
    --i;
  }
}

}  // namespace comfy::io
