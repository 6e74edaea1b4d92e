// VHS_VideoCombine run through the registry; every file it writes is read back by independent tools:
// Python's PIL (GIF / WebP frames, durations, loop, EXIF; the first-frame PNG's text chunks), webpmux,
// and ffprobe (frame count, size, frame rate, container metadata of the ffmpeg formats).
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <fstream>

#include "comfy/core/node.hpp"
#include "comfy/core/types.hpp"
#include "comfy/exec/executor.hpp"
#include "comfy/graph/validate.hpp"
#include "comfy/graph/workflow.hpp"
#include "comfy/io/files.hpp"
#include "comfy/io/subprocess.hpp"
#include "comfy/io/video_formats.hpp"
#include "test_util.hpp"

namespace fs = std::filesystem;
using namespace comfy;
using nlohmann::json;

namespace {

std::string capture(const std::string& cmd, int* rc = nullptr) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int r = pclose(p);
  if (rc) *rc = r;
  else EXPECT_EQ(r, 0) << cmd;
  return out;
}

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

bool have_pil() { return fs::exists("/usr/bin/python3") && std::system("/usr/bin/python3 -c 'import PIL' 2>/dev/null") == 0; }
bool have(const char* prog) { return io::find_program(prog).has_value(); }

// Frames whose colours are far apart, so a palette keeps them exactly: frame i is a solid colour
// with a white square moving one cell per frame.
at::Tensor test_frames(int64_t n, int64_t h, int64_t w) {
  auto f = at::zeros({n, h, w, 3});
  for (int64_t i = 0; i < n; ++i) {
    f[i].select(2, i % 3).fill_(1.0);
    f[i].narrow(0, 0, 4).narrow(1, (i * 4) % (w - 4), 4).fill_(1.0);
  }
  return f;
}

struct Runner {
  test::TempDir tmp;
  RuntimeConfig cfg;
  nlohmann::ordered_json prompt = nlohmann::ordered_json::parse(R"({"5": {"class_type": "VHS_VideoCombine", "inputs": {}}})");
  json extra = {{"workflow", {{"nodes", json::array()}, {"extra", json::object()}}}};
  Runner() {
    cfg.output_dir = tmp.path / "output";
    cfg.temp_dir = tmp.path / "temp";
  }
  NodeOutput run(std::map<std::string, Value> inputs) {
    const NodeDef* def = Registry::global().find("VHS_VideoCombine");
    if (!def) throw std::runtime_error("VHS_VideoCombine is not registered");
    NodeInputs in;
    in.values = {{"frame_rate", 8.0}, {"loop_count", Int(0)}, {"filename_prefix", "AnimateDiff"},
                 {"format", "image/gif"}, {"pingpong", false}, {"save_output", true}};
    for (auto& [k, v] : inputs) in.values[k] = v;
    ExecContext ctx;
    ctx.node_id = "5";
    ctx.class_type = "VHS_VideoCombine";
    ctx.config = &cfg;
    ctx.prompt = &prompt;
    ctx.extra_pnginfo = &extra;
    return def->execute(in, ctx);
  }
};

fs::path written(const Runner& r, const NodeOutput& o, const std::string& type = "output") {
  const auto& g = o.ui.at("gifs").at(0);
  return (type == "output" ? r.cfg.output_dir : r.cfg.temp_dir) / g.at("subfolder").get<std::string>() /
         g.at("filename").get<std::string>();
}

// PIL's view of an animated file: frames, size, per-frame durations, loop, frame pixels' mean colour.
json pil_info(const fs::path& p) {
  const std::string py = R"(
import sys, json
from PIL import Image
im = Image.open(sys.argv[1])
out = {"format": im.format, "size": list(im.size), "n_frames": getattr(im, "n_frames", 1), "durations": [], "loop": im.info.get("loop"), "means": []}
for i in range(out["n_frames"]):
    im.seek(i)
    rgb = im.convert("RGB")
    out["durations"].append(im.info.get("duration"))
    px = list(rgb.getdata())
    out["means"].append([sum(c[k] for c in px) / len(px) for k in range(3)])
try:
    exif = im.getexif().get_ifd(0x8769)
    out["datetime_original"] = exif.get(36867)
except Exception as e:
    out["datetime_original"] = None
print(json.dumps(out))
)";
  return json::parse(capture("/usr/bin/python3 -c '" + py + "' " + q(p)));
}

json ffprobe(const fs::path& p) {
  return json::parse(capture("ffprobe -v error -count_frames -show_streams -show_format -of json " + q(p)));
}

int64_t frames_of(const json& probe) {
  return std::stoll(probe.at("streams").at(0).at("nb_read_frames").get<std::string>());
}

}  // namespace

TEST(VideoCombine, GifHasEveryFrameItsSizeDurationAndLoop) {
  if (!have_pil()) GTEST_SKIP() << "needs Debian's python3-pil";
  Runner r;
  auto frames = test_frames(5, 24, 32);
  auto o = r.run({{"images", frames}, {"frame_rate", 10.0}, {"loop_count", Int(3)}});
  EXPECT_EQ(o.ui["gifs"][0]["filename"], "AnimateDiff_00001.gif");
  EXPECT_EQ(o.ui["gifs"][0]["workflow"], "AnimateDiff_00001.png");
  EXPECT_EQ(o.ui["gifs"][0]["format"], "image/gif");
  EXPECT_EQ(o.ui["gifs"][0]["type"], "output");
  auto info = pil_info(written(r, o));
  EXPECT_EQ(info["format"], "GIF");
  EXPECT_EQ(info["n_frames"], 5);
  EXPECT_EQ(info["size"], json::array({32, 24}));
  EXPECT_EQ(info["loop"], 3);
  for (auto& d : info["durations"]) EXPECT_EQ(d, 100);  // round(1000 / 10)
  // colours survive the palette: frame i is mostly channel i%3
  for (int i = 0; i < 5; ++i) {
    auto m = info["means"][size_t(i)];
    EXPECT_GT(m[size_t(i % 3)].get<double>(), 200) << "frame " << i;
  }
  auto files = std::dynamic_pointer_cast<const Object>(o.values.at(0).as_object());
  EXPECT_EQ(files->type_name(), "VHS_FILENAMES");
}

TEST(VideoCombine, WebpLosslessKeepsEveryPixelAndCarriesExifDate) {
  if (!have_pil()) GTEST_SKIP() << "needs Debian's python3-pil";
  Runner r;
  auto frames = at::rand({4, 16, 20, 3}, at::TensorOptions().dtype(at::kFloat));
  auto o = r.run({{"images", frames}, {"format", "image/webp"}, {"frame_rate", 6.0}, {"lossless", true}});
  const fs::path file = written(r, o);
  EXPECT_EQ(file.filename(), "AnimateDiff_00001.webp");
  auto info = pil_info(file);
  EXPECT_EQ(info["format"], "WEBP");
  EXPECT_EQ(info["n_frames"], 4);
  EXPECT_EQ(info["size"], json::array({20, 16}));
  EXPECT_EQ(info["loop"], 0);
  for (auto& d : info["durations"]) EXPECT_EQ(d, 167);  // round(1000 / 6)
  ASSERT_TRUE(info["datetime_original"].is_string());
  EXPECT_EQ(info["datetime_original"].get<std::string>().size(), 19u);
  // lossless: PIL's pixels are exactly VHS's tensor_to_bytes(frame) = clip(x*255 + 0.5)
  const std::string py = "import sys\nfrom PIL import Image\nim = Image.open(sys.argv[1])\n"
                         "for i in range(im.n_frames):\n    im.seek(i)\n    sys.stdout.buffer.write(im.convert('RGB').tobytes())\n";
  auto raw = capture("/usr/bin/python3 -c \"" + py + "\" " + q(file));
  auto expected = (frames * 255.0f + 0.5f).clamp(0, 255).to(at::kByte).contiguous();
  ASSERT_EQ(raw.size(), size_t(expected.numel()));
  EXPECT_EQ(0, std::memcmp(raw.data(), expected.data_ptr<uint8_t>(), raw.size()));
  if (have("webpmux")) {
    auto mux = capture("webpmux -info " + q(file));
    EXPECT_NE(mux.find("Number of frames: 4"), std::string::npos) << mux;
    EXPECT_NE(mux.find("EXIF"), std::string::npos) << mux;
  }
}

TEST(VideoCombine, WebpLossyIsSmallerAndStillComplete) {
  if (!have_pil()) GTEST_SKIP() << "needs Debian's python3-pil";
  Runner r;
  auto frames = at::rand({3, 32, 32, 3});
  auto lossless = r.run({{"images", frames}, {"format", "image/webp"}, {"lossless", true}});
  auto lossy = r.run({{"images", frames}, {"format", "image/webp"}, {"lossless", false}});
  EXPECT_EQ(written(r, lossy).filename(), "AnimateDiff_00002.webp");
  EXPECT_LT(fs::file_size(written(r, lossy)), fs::file_size(written(r, lossless)));
  EXPECT_EQ(pil_info(written(r, lossy))["n_frames"], 3);
}

TEST(VideoCombine, FirstFramePngCarriesPromptWorkflowAndCreationTime) {
  if (!have_pil()) GTEST_SKIP() << "needs Debian's python3-pil";
  Runner r;
  auto o = r.run({{"images", test_frames(2, 8, 8)}});
  const fs::path png = r.cfg.output_dir / o.ui["gifs"][0]["workflow"].get<std::string>();
  auto text = json::parse(capture("/usr/bin/python3 -c 'import sys, json; from PIL import Image; "
                                  "print(json.dumps(Image.open(sys.argv[1]).text))' " + q(png)));
  EXPECT_EQ(json::parse(text["prompt"].get<std::string>()), json::parse(r.prompt.dump()));
  EXPECT_TRUE(json::parse(text["workflow"].get<std::string>()).contains("nodes"));
  EXPECT_EQ(text["CreationTime"].get<std::string>().size(), 19u);
  // extra.VHS_MetadataImage = false: no PNG
  r.extra["workflow"]["extra"]["VHS_MetadataImage"] = false;
  auto o2 = r.run({{"images", test_frames(2, 8, 8)}});
  EXPECT_FALSE(fs::exists(r.cfg.output_dir / o2.ui["gifs"][0]["workflow"].get<std::string>()));
  EXPECT_TRUE(fs::exists(written(r, o2)));
}

TEST(VideoCombine, CounterFollowsVhsRuleAndNeverOverwrites) {
  Runner r;
  fs::create_directories(r.cfg.output_dir / "sub");
  for (const char* f : {"clip_00007.mp4", "clip_00003-audio.mp4", "CLIP_00009.PNG", "clip_12x3.png", "clip_00020",
                        "clip_00030.", "clipx_00050.gif"})
    io::write_file_atomic(r.cfg.output_dir / "sub" / f, "x");
  auto o = r.run({{"images", test_frames(2, 8, 8)}, {"filename_prefix", "sub/clip"}});
  EXPECT_EQ(o.ui["gifs"][0]["filename"], "clip_00010.gif");  // 1 + max(7, 3, 9)
  EXPECT_EQ(o.ui["gifs"][0]["subfolder"], "sub");
  auto o2 = r.run({{"images", test_frames(2, 8, 8)}, {"filename_prefix", "sub/clip"}});
  EXPECT_EQ(o2.ui["gifs"][0]["filename"], "clip_00011.gif");
  EXPECT_EQ(io::read_file(r.cfg.output_dir / "sub" / "clip_00007.mp4"), "x");
}

TEST(VideoCombine, SaveOutputFalseWritesToTempAndPingpongAddsTheWayBack) {
  if (!have_pil()) GTEST_SKIP() << "needs Debian's python3-pil";
  Runner r;
  auto o = r.run({{"images", test_frames(4, 8, 12)}, {"save_output", false}, {"pingpong", true}});
  EXPECT_EQ(o.ui["gifs"][0]["type"], "temp");
  const fs::path f = written(r, o, "temp");
  ASSERT_TRUE(fs::exists(f));
  EXPECT_FALSE(fs::exists(r.cfg.output_dir / "AnimateDiff_00001.gif"));
  auto info = pil_info(f);
  ASSERT_EQ(info["n_frames"], 6);  // 1 2 3 4 3 2
  for (auto [a, b] : {std::pair<int, int>{1, 5}, {2, 4}})
    for (int k = 0; k < 3; ++k) EXPECT_EQ(info["means"][size_t(a)][size_t(k)], info["means"][size_t(b)][size_t(k)]);
}

TEST(VideoCombine, EmptyInputWritesNothing) {
  Runner r;
  auto o = r.run({{"images", at::zeros({0, 8, 8, 3})}});
  EXPECT_TRUE(o.ui.is_null());
  EXPECT_FALSE(fs::exists(r.cfg.output_dir) && !fs::is_empty(r.cfg.output_dir));
}

TEST(VideoCombine, Mp4HasFramesSizeRateAndWorkflowComment) {
  if (!have("ffmpeg") || !have("ffprobe")) GTEST_SKIP() << "needs Debian's ffmpeg";
  Runner r;
  auto o = r.run({{"images", test_frames(6, 24, 32)}, {"format", "video/h264-mp4"}, {"frame_rate", 12.0},
                  {"pix_fmt", "yuv420p"}, {"crf", Int(19)}, {"save_metadata", true}});
  const fs::path f = written(r, o);
  EXPECT_EQ(f.filename(), "AnimateDiff_00001.mp4");
  auto p = ffprobe(f);
  const auto& s = p["streams"][0];
  EXPECT_EQ(s["codec_name"], "h264");
  EXPECT_EQ(s["width"], 32);
  EXPECT_EQ(s["height"], 24);
  EXPECT_EQ(s["pix_fmt"], "yuv420p");
  EXPECT_EQ(s["r_frame_rate"], "12/1");
  EXPECT_EQ(frames_of(p), 6);
  auto comment = json::parse(p["format"]["tags"]["comment"].get<std::string>());
  EXPECT_EQ(json::parse(comment["prompt"].get<std::string>()), json::parse(r.prompt.dump()));
  EXPECT_TRUE(comment["workflow"].contains("nodes"));
  // no scratch files left behind
  for (auto& e : fs::directory_iterator(r.cfg.output_dir))
    EXPECT_EQ(e.path().filename().string().rfind(".vhs-tmp", 0), std::string::npos) << e.path();
}

TEST(VideoCombine, Mp4OddSizeIsPaddedAndLoopCountRepeatsTheClip) {
  if (!have("ffmpeg") || !have("ffprobe")) GTEST_SKIP() << "needs Debian's ffmpeg";
  Runner r;
  auto o = r.run({{"images", test_frames(3, 25, 33)}, {"format", "video/h264-mp4"}, {"loop_count", Int(2)},
                  {"save_metadata", false}});
  auto p = ffprobe(written(r, o));
  EXPECT_EQ(p["streams"][0]["width"], 34);
  EXPECT_EQ(p["streams"][0]["height"], 26);
  EXPECT_EQ(frames_of(p), 9);  // played 1 + 2 times
  EXPECT_FALSE(p["format"].contains("tags") && p["format"]["tags"].contains("comment"));
}

// Every built-in ffmpeg format our ffmpeg has an encoder for: frame count and size read back.
class VideoCombineFormat : public ::testing::TestWithParam<std::string> {};

TEST_P(VideoCombineFormat, WritesEveryFrame) {
  if (!have("ffmpeg") || !have("ffprobe")) GTEST_SKIP() << "needs Debian's ffmpeg";
  const std::string name = GetParam();
  const auto* f = io::find_video_format(name);
  ASSERT_NE(f, nullptr);
  Runner r;
  const int64_t h = name == "av1-webm" ? 64 : 16, w = name == "av1-webm" ? 96 : 24;  // SVT-AV1: >= 64 pixels
  auto o = r.run({{"images", test_frames(4, h, w)}, {"format", "video/" + name}});
  const auto files = std::dynamic_pointer_cast<const Object>(o.values.at(0).as_object());
  const fs::path out = written(r, o);
  if (f->extension == "%03d.png") {
    for (int i = 1; i <= 4; ++i) {
      char n[64];
      std::snprintf(n, sizeof n, "AnimateDiff_00001.%03d.png", i);
      auto p = ffprobe(r.cfg.output_dir / n);
      EXPECT_EQ(p["streams"][0]["width"], w) << n;
    }
    EXPECT_FALSE(fs::exists(r.cfg.output_dir / "AnimateDiff_00001.005.png"));
    return;
  }
  EXPECT_EQ(out.extension().string(), "." + f->extension);
  auto p = ffprobe(out);
  EXPECT_EQ(p["streams"][0]["width"], w);
  EXPECT_EQ(p["streams"][0]["height"], h);
  if (name == "ffmpeg-gif") EXPECT_EQ(p["streams"][0]["codec_name"], "gif");
  EXPECT_EQ(frames_of(p), 4) << name;
}

std::vector<std::string> cpu_formats() {
  std::vector<std::string> v;
  for (auto& f : io::video_formats())
    if (f.name.rfind("nvenc", 0) != 0) v.push_back(f.name);  // NVENC needs an NVIDIA encoder
  return v;
}
INSTANTIATE_TEST_SUITE_P(Builtin, VideoCombineFormat, ::testing::ValuesIn(cpu_formats()),
                         [](const ::testing::TestParamInfo<std::string>& i) {
                           std::string s;
                           for (char c : i.param) s += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return s;
                         });

TEST(VideoCombineErrors, MissingFfmpegNamesTheProgramAndWritesNothing) {
  Runner r;
  const char* old = std::getenv("PATH");
  const std::string saved = old ? old : "";
  fs::create_directories(r.tmp.path / "empty-bin");
  setenv("PATH", (r.tmp.path / "empty-bin").c_str(), 1);
  try {
    r.run({{"images", test_frames(2, 8, 8)}, {"format", "video/h264-mp4"}});
    setenv("PATH", saved.c_str(), 1);
    FAIL() << "no error";
  } catch (const Error& e) {
    setenv("PATH", saved.c_str(), 1);
    EXPECT_EQ(e.type, "ProcessLookupError");
    EXPECT_NE(std::string(e.what()).find("ffmpeg is required for video outputs and could not be found"), std::string::npos);
    EXPECT_EQ(e.input_name, "format");
  }
  EXPECT_FALSE(fs::exists(r.cfg.output_dir) && !fs::is_empty(r.cfg.output_dir));
  // image formats do not need it
  setenv("PATH", (r.tmp.path / "empty-bin").c_str(), 1);
  EXPECT_NO_THROW(r.run({{"images", test_frames(2, 8, 8)}}));
  setenv("PATH", saved.c_str(), 1);
}

TEST(VideoCombineErrors, UnknownFormatIsRefusedByValidationNamingTheInput) {
  auto prompt = nlohmann::ordered_json::parse(R"({
    "1": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
    "2": {"class_type": "VHS_VideoCombine", "inputs": {"images": ["1", 0], "frame_rate": 8, "loop_count": 0,
          "filename_prefix": "x", "format": "video/h264-mkv", "pingpong": false, "save_output": true}}})");
  RuntimeConfig cfg;
  auto res = validate_prompt(prompt, Registry::global(), cfg);
  ASSERT_FALSE(res.ok);
  auto dump = res.to_json().dump();
  EXPECT_NE(dump.find("value_not_in_list"), std::string::npos) << dump;
  EXPECT_NE(dump.find("video/h264-mkv"), std::string::npos) << dump;
  // and at run time (a prompt that skipped validation) the node says so too
  Runner r;
  try {
    r.run({{"images", test_frames(2, 8, 8)}, {"format", "video/h264-mkv"}});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.input_name, "format");
  }
  EXPECT_FALSE(fs::exists(r.cfg.output_dir) && !fs::is_empty(r.cfg.output_dir));
}

TEST(VideoCombineErrors, FfmpegFailureLeavesNoHalfWrittenFile) {
  if (!have("ffmpeg")) GTEST_SKIP() << "needs Debian's ffmpeg";
  Runner r;
  // a pixel format libx264 does not have: ffmpeg fails after the first-frame PNG was written
  try {
    r.run({{"images", test_frames(2, 8, 8)}, {"format", "video/h264-mp4"}, {"pix_fmt", "bogus_fmt"}});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("ffmpeg"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(r.cfg.output_dir / "AnimateDiff_00001.mp4"));
  for (auto& e : fs::directory_iterator(r.cfg.output_dir))
    EXPECT_EQ(e.path().filename().string().rfind(".vhs-tmp", 0), std::string::npos) << e.path();
}

TEST(VideoFormats, ArgumentsAreBuiltAsVhsBuildsThem) {
  // h264-mp4 with loop: the loop filter and the colour-matrix filter merged into one -vf
  const auto* f = io::find_video_format("h264-mp4");
  ASSERT_NE(f, nullptr);
  auto r = io::resolve_video_format(*f, {{"crf", 23}});
  EXPECT_EQ(r.value("pix_fmt", ""), "yuv420p");
  EXPECT_EQ(r.value("crf", ""), "23");
  EXPECT_EQ(r.value("save_metadata", ""), "True");
  std::vector<std::string> args = {"ffmpeg", "-i", "-", "-vf", "loop=loop=2:size=3"};
  args.insert(args.end(), r.main_pass.begin(), r.main_pass.end());
  io::merge_filter_args(args);
  const std::vector<std::string> want = {"ffmpeg", "-i", "-", "-vf", "loop=loop=2:size=3,scale=out_color_matrix=bt709",
                                         "-y", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "23",
                                         "-color_range", "tv", "-colorspace", "bt709", "-color_primaries", "bt709",
                                         "-color_trc", "bt709"};
  EXPECT_EQ(args, want);
  auto gif = io::resolve_video_format(*io::find_video_format("ffmpeg-gif"), {{"dither", "bayer"}});
  EXPECT_EQ(gif.main_pass, (std::vector<std::string>{"-n", "-lavfi", "[0][1:v] paletteuse=dither=bayer"}));
  EXPECT_EQ(io::python_str(json(8.0)), "8.0");
  EXPECT_EQ(io::python_str(json(false)), "False");
}

TEST(VideoCombineErrors, FrameListOfMixedSizesGivesOneFilePerItemAsComfyUIMapsLists) {
  // An IMAGE batch cannot mix sizes; a *list* of images can. VHS_VideoCombine is not INPUT_IS_LIST,
  // so ComfyUI calls it once per list item (workflow-execution.md 8.4): one animation per size.
  if (!have_pil()) GTEST_SKIP() << "needs Debian's python3-pil";
  Registry reg;
  reg.add(*Registry::global().find("VHS_VideoCombine"));
  NodeSchema list("TestImageList");
  list.output("IMAGE", "IMAGE", /*is_list=*/true);
  reg.add({list, [](const NodeInputs&, ExecContext&) {
             std::vector<Value> items = {Value(test_frames(3, 8, 12)), Value(test_frames(2, 16, 10))};
             return NodeOutput{{Value(std::make_shared<ValueList>(items))}};
           }});
  test::TempDir tmp;
  RuntimeConfig cfg;
  cfg.output_dir = tmp.path / "output";
  auto prompt = nlohmann::ordered_json::parse(R"({
    "1": {"class_type": "TestImageList", "inputs": {}},
    "2": {"class_type": "VHS_VideoCombine", "inputs": {"images": ["1", 0], "frame_rate": 8.0, "loop_count": 0,
          "filename_prefix": "mixed", "format": "image/gif", "pingpong": false, "save_output": true}}})");
  Executor ex(reg, cfg);
  auto res = ex.execute(prompt, {"2"});
  ASSERT_TRUE(res.ok);
  const auto& gifs = res.ui_outputs["2"]["gifs"];
  ASSERT_EQ(gifs.size(), 2u);
  EXPECT_EQ(gifs[0]["filename"], "mixed_00001.gif");
  EXPECT_EQ(gifs[1]["filename"], "mixed_00002.gif");
  auto a = pil_info(cfg.output_dir / "mixed_00001.gif"), b = pil_info(cfg.output_dir / "mixed_00002.gif");
  EXPECT_EQ(a["n_frames"], 3);
  EXPECT_EQ(a["size"], json::array({12, 8}));
  EXPECT_EQ(b["n_frames"], 2);
  EXPECT_EQ(b["size"], json::array({10, 16}));
}
