// VHS_VideoCombine — "Video Combine 🎥🅥🅗🅢" (VideoHelperSuite; nodes-companions.md 6)
#include <ATen/ATen.h>

#include <chrono>
#include <ctime>
#include <filesystem>

#include "comfy/core/node.hpp"
#include "comfy/core/types.hpp"
#include "comfy/io/animated_image.hpp"
#include "comfy/io/ffmpeg_video.hpp"
#include "comfy/io/files.hpp"
#include "comfy/io/output_names.hpp"
#include "comfy/io/png.hpp"
#include "comfy/io/python_json.hpp"
#include "comfy/io/subprocess.hpp"
#include "comfy/io/video_formats.hpp"
#include "comfy/models/vae.hpp"

namespace fs = std::filesystem;

namespace comfy {

namespace {

// VHS_FILENAMES: (save_output, [every file written]).
struct VhsFilenames : Object {
  bool save_output = true;
  std::vector<std::string> files;
  std::string type_name() const override { return "VHS_FILENAMES"; }
};

// ---- schema

InputSpec format_widget_spec(const io::VideoFormatWidget& w) {
  InputSpec s;
  s.name = w.name;
  s.group = InputGroup::Optional;
  s.default_value = w.default_value;
  if (w.type == "COMBO") {
    s.type = "COMBO";
    s.options = w.choices;
  } else {
    s.type = w.type;
    if (w.type == "INT") s.int_min = w.min, s.int_max = w.max, s.step = 1;
  }
  return s;
}

// [name, TYPE or [choices], {default, ...}] as VHS lists them in the format combo's "formats" option.
nlohmann::json format_widget_info(const io::VideoFormatWidget& w) {
  nlohmann::json opts = {{"default", w.default_value}};
  if (w.type == "INT") opts.update({{"min", w.min}, {"max", w.max}, {"step", 1}});
  return nlohmann::json::array({w.name, w.type == "COMBO" ? nlohmann::json(w.choices) : nlohmann::json(w.type), opts});
}

NodeSchema video_combine_schema() {
  std::vector<std::string> formats = {"image/gif", "image/webp"};
  for (auto& f : io::video_formats()) formats.push_back("video/" + f.name);
  NodeSchema s("VHS_VideoCombine");
  s.display("Video Combine 🎥🅥🅗🅢").cat("Video Helper Suite 🎥🅥🅗🅢").module("custom_nodes.ComfyUI-VideoHelperSuite")
      .output_node_()
      .input("images", "IMAGE,LATENT")
      .float_("frame_rate", 8, 1, 1e308, 1)
      .int_("loop_count", 0, 0, 100, 1)
      .string_("filename_prefix", "AnimateDiff")
      .combo("format", formats, "image/gif")
      .bool_("pingpong", false)
      .bool_("save_output", true)
      .optional().input("audio", "AUDIO").input("meta_batch", "VHS_BatchManager").input("vae", "VAE")
      .hidden().hidden_input("prompt", "PROMPT").hidden_input("extra_pnginfo", "EXTRA_PNGINFO")
      .hidden_input("unique_id", "UNIQUE_ID")
      .output("VHS_FILENAMES", "Filenames");
  for (auto& in : s.inputs)
    if (in.name == "frame_rate") in.float_max.reset();
  // Format widgets: shown after `format` for the chosen format, passed through as extra inputs.
  nlohmann::json info = nlohmann::json::object();
  auto& by_choice = s.choice_widgets["format"];
  io::VideoFormatWidget lossless{"lossless", "BOOLEAN", {}, true};
  by_choice["image/webp"] = {format_widget_spec(lossless)};
  info["image/webp"] = nlohmann::json::array({format_widget_info(lossless)});
  for (auto& f : io::video_formats()) {
    if (f.widgets.empty()) continue;
    auto& specs = by_choice["video/" + f.name];
    for (auto& w : f.widgets) {
      specs.push_back(format_widget_spec(w));
      info["video/" + f.name].push_back(format_widget_info(w));
    }
  }
  for (auto& in : s.inputs)
    if (in.name == "format") in.extra["formats"] = info;
  s.accepts_undeclared_inputs = true;
  return s;
}

// ---- execution steps

// The frames as IMAGE [N, H, W, C]: an IMAGE as is; a LATENT decoded by `vae` in VHS's batches.
at::Tensor input_frames(const NodeInputs& in) {
  const Value& v = in.get("images");
  if (v.is_tensor()) return v.as_tensor();
  auto latent = in.obj<Latent>("images");
  auto vae = in.obj_opt<Vae>("vae");
  if (!vae) fail("images", "a LATENT input needs the vae input to decode it");
  const auto& s = latent->samples;  // [N, 4, h, w]
  const int64_t ratio = vae->net->downscale();
  const int64_t per_batch = std::max<int64_t>(1, (1920 * 1080 * 16) / (s.size(-1) * ratio * s.size(-2) * ratio));
  std::vector<at::Tensor> parts;
  for (int64_t b = 0; b < s.size(0); b += per_batch) parts.push_back(vae->net->decode(s.narrow(0, b, std::min(per_batch, s.size(0) - b))));
  return at::cat(parts, 0);
}

// VHS's counter: 1 + the largest N among files "<name>_<N><non-digits>.<anything>" (case-insensitive).
int64_t vhs_counter(const fs::path& folder, const std::string& name) {
  auto lower = [](std::string s) {
    for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  const std::string lname = lower(name) + "_";
  int64_t best = 0;
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) return 1;
  for (auto it = fs::directory_iterator(folder, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const std::string f = it->path().filename().string();
    if (f.size() <= lname.size() || lower(f.substr(0, lname.size())) != lname) continue;
    const std::string rest = f.substr(lname.size());
    size_t d = 0;
    while (d < rest.size() && std::isdigit(static_cast<unsigned char>(rest[d]))) ++d;
    if (d == 0) continue;
    const std::string tail = rest.substr(d);  // \D* '.' .+  : a dot before any further digit, not last
    const size_t next_digit = tail.find_first_of("0123456789");
    const size_t dot = tail.find('.');
    if (dot == std::string::npos || dot > next_digit || dot + 1 >= tail.size()) continue;
    const std::string digits = rest.substr(0, d);
    const int64_t n = digits.size() > 18 ? INT64_MAX : std::stoll(digits);
    best = std::max(best, n);
  }
  return best == INT64_MAX ? best : best + 1;
}

std::string local_time_text() {  // datetime.now().isoformat(" ")[:19]
  std::time_t now = std::time(nullptr);
  std::tm t{};
  localtime_r(&now, &t);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &t);
  return buf;
}

// The workflow's extra.<key> (VHS_MetadataImage, VHS_KeepIntermediate); true when absent.
bool workflow_extra_flag(const ExecContext& ctx, const char* key) {
  if (!ctx.extra_pnginfo || !ctx.extra_pnginfo->is_object()) return true;
  auto wf = ctx.extra_pnginfo->find("workflow");
  if (wf == ctx.extra_pnginfo->end() || !wf->is_object()) return true;
  auto extra = wf->find("extra");
  if (extra == wf->end() || !extra->is_object()) return true;
  auto v = extra->find(key);
  return v == extra->end() || !(v->is_boolean() && !v->get<bool>());
}

io::PngTextChunks first_frame_text(const ExecContext& ctx) {
  io::PngTextChunks text;
  if (ctx.prompt && !ctx.prompt->is_null()) text.emplace_back("prompt", io::python_json_dumps(*ctx.prompt));
  if (ctx.extra_pnginfo && ctx.extra_pnginfo->is_object())
    for (auto it = ctx.extra_pnginfo->begin(); it != ctx.extra_pnginfo->end(); ++it)
      text.emplace_back(it.key(), io::python_json_dumps(it.value()));
  text.emplace_back("CreationTime", local_time_text());
  return text;
}

// The metadata VHS gives ffmpeg: {"prompt": <prompt as JSON text>, <extra_pnginfo entries>}.
std::string video_metadata(const ExecContext& ctx) {
  nlohmann::ordered_json m = nlohmann::ordered_json::object();
  if (ctx.prompt && !ctx.prompt->is_null()) m["prompt"] = io::python_json_dumps(*ctx.prompt);
  if (ctx.extra_pnginfo && ctx.extra_pnginfo->is_object())
    for (auto it = ctx.extra_pnginfo->begin(); it != ctx.extra_pnginfo->end(); ++it) m[it.key()] = it.value();
  return io::python_json_dumps(m);
}

at::Tensor to_pingpong(const at::Tensor& frames) {  // 1..n, n-1..2
  const int64_t n = frames.size(0);
  if (n < 3) return frames;
  return at::cat({frames, frames.narrow(0, 1, n - 2).flip(0)}, 0);
}

at::Tensor to_bytes(const at::Tensor& frames) {  // VHS tensor_to_bytes: clip(x*255 + 0.5)
  return (frames.to(at::kFloat) * 255.0f + 0.5f).clamp(0, 255).to(at::kByte).contiguous();
}

std::string python_float(double v) { return io::python_json_dumps(nlohmann::json(v)); }

struct Target {
  fs::path folder;
  std::string name, subfolder;
  int64_t counter = 1;
  std::string file(const std::string& ext) const {
    char num[32];
    std::snprintf(num, sizeof num, "%05lld", static_cast<long long>(counter));
    return name + "_" + num + "." + ext;
  }
};

void write_new(const fs::path& path, const std::string& bytes) {
  io::write_file_atomic(path, bytes, /*overwrite=*/false);
}

NodeOutput combine(const NodeInputs& in, ExecContext& ctx) {
  const bool save_output = in.boolean("save_output");
  auto result = std::make_shared<VhsFilenames>();
  result->save_output = save_output;
  at::Tensor frames = input_frames(in);
  if (frames.dim() != 4 || (frames.size(3) != 3 && frames.size(3) != 4))
    fail("images", "expected an IMAGE [frames, H, W, 3|4]");
  if (frames.size(0) == 0) return NodeOutput{{Value(result)}, nullptr};
  if (in.has("meta_batch")) fail("meta_batch", "batched output (VHS_BatchManager) is not supported");
  const double frame_rate = in.f64("frame_rate");
  const int64_t loop_count = in.i64("loop_count");
  const std::string format = in.str("format");
  const auto& cfg = ctx.cfg();
  fs::path dir = cfg.output_dir;
  if (!save_output) dir = cfg.temp_dir.empty() ? (cfg.output_dir.parent_path().empty() ? fs::path("temp") : cfg.output_dir.parent_path() / "temp") : cfg.temp_dir;
  auto where = io::resolve_output_target(dir, in.str("filename_prefix"));
  Target t{where.folder, where.name, where.subfolder, vhs_counter(where.folder, where.name)};
  fs::create_directories(t.folder);

  const auto slash = format.find('/');
  const std::string kind = format.substr(0, slash), ext = slash == std::string::npos ? "" : format.substr(slash + 1);
  const io::VideoFormat* vf = kind == "video" ? io::find_video_format(ext) : nullptr;
  if (!(kind == "image" && (ext == "gif" || ext == "webp")) && !vf)
    fail("format", "unknown format '" + format + "'");
  std::optional<fs::path> ffmpeg;
  if (vf) {
    ffmpeg = io::find_program("ffmpeg");
    if (!ffmpeg)
      fail_type("ProcessLookupError", "format",
                "ffmpeg is required for video outputs and could not be found.\nIn order to use video outputs, you "
                "must either:\n- Install imageio-ffmpeg with pip,\n- Place a ffmpeg executable in " +
                    fs::current_path().string() + ", or\n- Install ffmpeg and add it to the system path.");
  }
  // Never overwrite: move the counter past any name already taken.
  const std::string main_ext = vf ? vf->extension : ext;
  while (fs::exists(t.folder / t.file("png")) || fs::exists(t.folder / t.file(main_ext))) ++t.counter;

  std::vector<std::string> files;
  const std::string first_png = t.file("png");
  if (workflow_extra_flag(ctx, "VHS_MetadataImage")) {
    write_new(t.folder / first_png, io::encode_png(to_bytes(frames[0]), first_frame_text(ctx), 4));
    files.push_back((t.folder / first_png).string());
  }
  const int64_t source_frames = frames.size(0);
  if (in.boolean("pingpong")) frames = to_pingpong(frames);
  std::string file = t.file(main_ext);
  if (!vf) {
    const int64_t duration = int64_t(std::nearbyint(1000.0 / frame_rate));  // Python round()
    auto rgb = to_bytes(frames).narrow(3, 0, 3).contiguous();
    std::string bytes;
    if (ext == "gif") {
      bytes = io::encode_gif(rgb, duration, loop_count);
    } else {
      const bool lossless = !in.values.count("lossless") || in.get("lossless").as_bool();
      bytes = io::encode_webp(rgb, duration, loop_count, lossless, io::exif_datetime_original(local_time_text()));
    }
    write_new(t.folder / file, bytes);
    files.push_back((t.folder / file).string());
  } else {
    io::FfmpegVideoJob job;
    job.ffmpeg = *ffmpeg;
    job.format = vf;
    job.widget_values = nlohmann::json::object();
    for (auto& [k, v] : in.values) {
      if (v.is_bool()) job.widget_values[k] = v.as_bool();
      else if (v.is_int()) job.widget_values[k] = v.as_i64();
      else if (v.is_float()) job.widget_values[k] = v.as_float();
      else if (v.is_string()) job.widget_values[k] = v.as_string();
    }
    job.frames = frames;
    job.source_frames = source_frames;
    job.frame_rate = python_float(frame_rate);
    job.loop_count = loop_count;
    job.metadata_json = video_metadata(ctx);
    job.folder = t.folder;
    job.file_name = file;
    io::write_ffmpeg_video(job);
    files.push_back((t.folder / file).string());
  }
  if (!workflow_extra_flag(ctx, "VHS_KeepIntermediate"))
    for (size_t i = 1; i + 1 < files.size(); ++i) fs::remove(files[i]);
  result->files = files;
  nlohmann::json preview = {{"filename", file},     {"subfolder", t.subfolder},
                            {"type", save_output ? "output" : "temp"},
                            {"format", format},     {"frame_rate", frame_rate},
                            {"workflow", first_png}, {"fullpath", files.back()}};
  if (source_frames == 1 && format.find("png") != std::string::npos && file.find("%03d") != std::string::npos) {
    preview["format"] = "image/png";
    preview["filename"] = file.replace(file.find("%03d"), 4, "001");
  }
  for (auto& f : files) ctx.emit("output_written", {{"path", f}, {"type", save_output ? "output" : "temp"}});
  NodeOutput out{{Value(result)}, nullptr};
  out.ui = {{"gifs", nlohmann::json::array({preview})}};
  return out;
}

}  // namespace

void register_video_combine(Registry& r) { r.add({video_combine_schema(), combine}); }

}  // namespace comfy
