// SaveImage / PreviewImage / LoadImage / LatentUpscale(By) / ImageScale, run through the registry.
// Independent truth: Python's stdlib PNG reader and hashlib, Python torch's interpolate, closed forms.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "comfy/core/node.hpp"
#include "comfy/core/types.hpp"
#include "comfy/io/files.hpp"
#include "comfy/io/output_names.hpp"
#include "comfy/io/png.hpp"
#include "comfy/io/python_json.hpp"
#include "comfy/io/safetensors.hpp"
#include "comfy/ops/upscale.hpp"
#include "comfy/io/hash.hpp"
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
  if (rc) *rc = r; else EXPECT_EQ(r, 0) << cmd;
  return out;
}

struct NodeRunner {
  RuntimeConfig cfg;
  nlohmann::ordered_json prompt = nullptr;
  json extra = nullptr;
  NodeOutput run(const std::string& cls, std::map<std::string, Value> inputs) {
    const NodeDef* def = Registry::global().find(cls);
    if (!def) throw std::runtime_error("no node " + cls);
    NodeInputs in;
    in.values = std::move(inputs);
    ExecContext ctx;
    ctx.node_id = "9";
    ctx.class_type = cls;
    ctx.config = &cfg;
    ctx.prompt = prompt.is_null() ? nullptr : &prompt;
    ctx.extra_pnginfo = extra.is_null() ? nullptr : &extra;
    return def->execute(in, ctx);
  }
};

std::vector<std::string> filenames(const NodeOutput& o) {
  std::vector<std::string> v;
  for (auto& e : o.ui["images"]) v.push_back(e["filename"]);
  return v;
}

}  // namespace

TEST(SaveImage, NamesFilesWithCountersContinuingAfterExistingOnes) {
  test::TempDir tmp;
  NodeRunner r;
  r.cfg.output_dir = tmp.path / "output";
  auto img = at::rand({2, 8, 8, 3});
  auto o1 = r.run("SaveImage", {{"images", img}, {"filename_prefix", "ComfyUI"}});
  EXPECT_EQ(filenames(o1), (std::vector<std::string>{"ComfyUI_00001_.png", "ComfyUI_00002_.png"}));
  EXPECT_EQ(o1.ui["images"][0]["subfolder"], "");
  EXPECT_EQ(o1.ui["images"][0]["type"], "output");
  // A stray higher counter and files of other prefixes: the counter continues after the highest one.
  io::write_file_atomic(r.cfg.output_dir / "ComfyUI_00041_.png", "x");
  io::write_file_atomic(r.cfg.output_dir / "ComfyUI_junk_.png", "x");
  io::write_file_atomic(r.cfg.output_dir / "ComfyUIx_00099_.png", "x");
  auto o2 = r.run("SaveImage", {{"images", img.narrow(0, 0, 1)}, {"filename_prefix", "ComfyUI"}});
  EXPECT_EQ(filenames(o2), (std::vector<std::string>{"ComfyUI_00042_.png"}));
  // Sub-folders in the prefix, and the shared counter namespace of folder + name.
  auto o3 = r.run("SaveImage", {{"images", img.narrow(0, 0, 1)}, {"filename_prefix", "a/b/./pic"}});
  EXPECT_EQ(o3.ui["images"][0]["subfolder"], "a/b");
  EXPECT_TRUE(fs::exists(r.cfg.output_dir / "a/b/pic_00001_.png"));
  // Server tokens: %width% %height% of the first image.
  auto o4 = r.run("SaveImage", {{"images", at::rand({1, 6, 10, 3})}, {"filename_prefix", "s_%width%x%height%"}});
  EXPECT_EQ(filenames(o4), (std::vector<std::string>{"s_10x6_00001_.png"}));
}

TEST(SaveImage, NeverOverwritesEvenWithBatchNumNames) {
  test::TempDir tmp;
  NodeRunner r;
  r.cfg.output_dir = tmp.path;
  auto a = r.run("SaveImage", {{"images", at::zeros({2, 4, 4, 3})}, {"filename_prefix", "x_%batch_num%"}});
  EXPECT_EQ(filenames(a), (std::vector<std::string>{"x_0_00001_.png", "x_1_00002_.png"}));
  const auto before = io::read_file(tmp.path / "x_0_00001_.png");
  // ComfyUI would restart at counter 1 here and overwrite; we bump past taken names instead.
  auto b = r.run("SaveImage", {{"images", at::ones({2, 4, 4, 3})}, {"filename_prefix", "x_%batch_num%"}});
  EXPECT_EQ(filenames(b), (std::vector<std::string>{"x_0_00002_.png", "x_1_00003_.png"}));
  EXPECT_EQ(io::read_file(tmp.path / "x_0_00001_.png"), before);
  // no temp files left behind
  int n = 0;
  for (auto& e : fs::directory_iterator(tmp.path)) n += e.path().extension() == ".png";
  EXPECT_EQ(n, 4);
}

TEST(SaveImage, RejectsPrefixesThatLeaveTheOutputFolder) {
  test::TempDir tmp;
  NodeRunner r;
  r.cfg.output_dir = tmp.path / "out";
  for (std::string p : {"../escape", "a/../../escape", "/tmp/abs"}) {
    try {
      r.run("SaveImage", {{"images", at::zeros({1, 4, 4, 3})}, {"filename_prefix", p}});
      ADD_FAILURE() << p << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("Saving image outside the output folder is not allowed."), std::string::npos);
      EXPECT_EQ(e.input_name, "filename_prefix");
    }
  }
  EXPECT_FALSE(fs::exists(tmp.path / "escape_00001_.png"));
  // "a/../b" stays inside and is fine
  auto o = r.run("SaveImage", {{"images", at::zeros({1, 4, 4, 3})}, {"filename_prefix", "a/../b"}});
  EXPECT_EQ(filenames(o), (std::vector<std::string>{"b_00001_.png"}));
}

TEST(SaveImage, PngCarriesPromptAndWorkflowReadableByIndependentReader) {
  test::TempDir tmp;
  NodeRunner r;
  r.cfg.output_dir = tmp.path;
  r.prompt = nlohmann::ordered_json::parse(R"({"3": {"class_type": "KSampler", "inputs": {"cfg": 8.0, "seed": 5, "denoise": 0.87}}})");
  r.extra = json::parse(R"({"workflow": {"nodes": [{"id": 3, "title": "Ünïcode"}], "version": 0.4}})");
  auto img = at::rand({1, 5, 7, 3});
  auto o = r.run("SaveImage", {{"images", img}, {"filename_prefix", "meta"}});
  const auto path = tmp.path / std::string(o.ui["images"][0]["filename"]);
  auto tool = "/usr/bin/python3 " + (test::source_dir() / "tests/support/py/png_tool.py").string();
  auto j = json::parse(capture(tool + " dump " + path.string()));
  ASSERT_EQ(j["text"].size(), 2u);
  EXPECT_EQ(j["text"][0][0], "prompt");
  EXPECT_EQ(j["text"][1][0], "workflow");
  EXPECT_EQ(nlohmann::ordered_json::parse(std::string(j["text"][0][1])), r.prompt);
  EXPECT_EQ(json::parse(std::string(j["text"][1][1])), r.extra["workflow"]);
  // Python json.dumps style: ", " / ": " separators, ASCII with \u escapes, floats with ".0"
  const std::string wf = j["text"][1][1];
  EXPECT_NE(wf.find("\"title\": \"\\u00dcn\\u00efcode\""), std::string::npos) << wf;
  EXPECT_NE(std::string(j["text"][0][1]).find("\"cfg\": 8.0"), std::string::npos);
  // pixels: ComfyUI truncation
  auto u = io::image_to_u8(img[0]).flatten();
  auto px = j["pixels"].get<std::vector<int>>();
  for (size_t i = 0; i < px.size(); ++i) ASSERT_EQ(px[i], u[int64_t(i)].item<int>());
}

TEST(PythonJson, MatchesPythonJsonDumps) {
  json j = json::parse(R"({"a": [1, 2.5, 8.0, 1e-05, 0.8700000000000001, true, null, "caf\u00e9 \ud83d\ude00\n\"q\""], "b": {}})");
  j["c"] = std::nan("");
  j["d"] = -INFINITY;
  int rc = 0;
  std::string py = capture("/usr/bin/python3 -c 'import json,sys; print(json.dumps({\"a\": [1, 2.5, 8.0, 1e-05, "
                           "0.8700000000000001, True, None, \"caf\\u00e9 \\U0001F600\\n\\\"q\\\"\"], \"b\": {}, "
                           "\"c\": float(\"nan\"), \"d\": float(\"-inf\")}), end=\"\")'",
                           &rc);
  ASSERT_EQ(rc, 0);
  EXPECT_EQ(io::python_json_dumps(j), py);
}

TEST(PreviewImage, WritesTempFilesWithRandomPrefix) {
  test::TempDir tmp;
  NodeRunner r;
  r.cfg.output_dir = tmp.path / "output";
  r.cfg.temp_dir = tmp.path / "temp";
  auto o = r.run("PreviewImage", {{"images", at::rand({1, 4, 4, 3})}});
  ASSERT_EQ(o.ui["images"].size(), 1u);
  const std::string f = o.ui["images"][0]["filename"];
  EXPECT_EQ(o.ui["images"][0]["type"], "temp");
  EXPECT_EQ(f.rfind("ComfyUI_temp_", 0), 0u);
  EXPECT_EQ(f.size(), std::string("ComfyUI_temp_abcde_00001_.png").size());
  EXPECT_TRUE(fs::exists(tmp.path / "temp" / f));
  EXPECT_FALSE(fs::exists(tmp.path / "output"));
}

TEST(OutputNames, ServerTokensUseLocalTime) {
  std::tm tm{};
  tm.tm_year = 2026 - 1900; tm.tm_mon = 0; tm.tm_mday = 5; tm.tm_hour = 7; tm.tm_min = 3; tm.tm_sec = 9;
  tm.tm_isdst = -1;
  const std::time_t t = std::mktime(&tm);
  EXPECT_EQ(io::expand_prefix_tokens("%year%/%month%%day%-%hour%%minute%%second%", 0, 0, t), "2026/0105-070309");
  EXPECT_EQ(io::expand_prefix_tokens("%date:yyyy-MM-dd%/img", 0, 0, t), "2026-01-05/img");
}

TEST(LoadImage, AlphaBecomesInvertedMaskAndMissingFilesFailValidation) {
  test::TempDir tmp;
  NodeRunner r;
  r.cfg.input_dir = tmp.path / "input";
  r.cfg.output_dir = tmp.path / "output";
  fs::create_directories(r.cfg.input_dir / "sub");
  auto rgba = at::rand({6, 9, 4});
  io::write_file_atomic(r.cfg.input_dir / "a.png", io::encode_png(rgba));
  io::write_file_atomic(r.cfg.input_dir / "sub/b.png", io::encode_png(rgba.narrow(2, 0, 3)));
  io::write_file_atomic(r.cfg.output_dir / "c.png", io::encode_png(rgba.narrow(2, 0, 3)));
  auto o = r.run("LoadImage", {{"image", "a.png"}});
  auto u = io::image_to_u8(rgba).to(at::kFloat).div(255.0f);
  const auto& image = o.values[0].as_tensor();
  const auto& mask = o.values[1].as_tensor();
  ASSERT_EQ(image.sizes(), at::IntArrayRef({1, 6, 9, 3}));
  EXPECT_TRUE(at::equal(image[0], u.narrow(2, 0, 3)));
  ASSERT_EQ(mask.sizes(), at::IntArrayRef({1, 6, 9}));
  EXPECT_TRUE(at::allclose(mask[0], 1.0f - u.select(2, 3)));
  // no alpha: a 64x64 zero mask
  auto o2 = r.run("LoadImage", {{"image", "sub/b.png"}});
  EXPECT_TRUE(at::equal(o2.values[1].as_tensor(), at::zeros({1, 64, 64})));
  // annotated names (§11.6)
  auto o3 = r.run("LoadImage", {{"image", "c.png [output]"}});
  EXPECT_EQ(o3.values[0].as_tensor().sizes(), at::IntArrayRef({1, 6, 9, 3}));
  const NodeDef* def = Registry::global().find("LoadImage");
  ASSERT_TRUE(def->validate);
  EXPECT_EQ(def->validate("image", Value("a.png"), r.cfg), "");
  EXPECT_EQ(def->validate("image", Value("missing.png"), r.cfg), "Invalid image file: missing.png");
  EXPECT_NE(def->validate("image", Value("../../etc/passwd"), r.cfg), "");
  EXPECT_NE(def->validate("image", Value("/etc/passwd"), r.cfg), "");
  // IS_CHANGED is the SHA-256 of the bytes, as hashlib computes it
  NodeInputs in;
  in.values["image"] = Value("a.png");
  auto py = capture("/usr/bin/python3 -c \"import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],'rb').read()).hexdigest(), end='')\" " +
                    (r.cfg.input_dir / "a.png").string());
  EXPECT_EQ(def->is_changed(in, r.cfg), py);
  EXPECT_EQ(io::sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(LatentUpscale, MatchesTorchInterpolateAndSizeRules) {
  const std::string py = test::python_with_torch();
  if (py.empty()) GTEST_SKIP() << "needs /usr/bin/python3 with torch";
  test::TempDir tmp;
  at::manual_seed(7);
  auto x = at::randn({2, 4, 12, 20});
  io::save_safetensors(tmp.path / "x.safetensors", {{"x", x}});
  // (node, method, a, b, crop) -> expected latent size; torch computes the reference with the same size.
  struct Case { std::string node, method; int64_t a, b; std::string crop; int64_t eh, ew; };
  std::vector<Case> cases = {
      {"LatentUpscale", "nearest-exact", 256, 144, "disabled", 18, 32},
      {"LatentUpscale", "bilinear", 232, 120, "center", 15, 29},
      {"LatentUpscale", "bicubic", 0, 200, "disabled", 25, 42},  // width = round(20*200/12) = 333 -> 41? see below
      {"LatentUpscale", "area", 80, 0, "disabled", 8, 10},       // clamp to 64 only below; height = round(12*80/20)=48 -> 64
      {"LatentUpscale", "bilinear", 16, 16, "center", 8, 8},     // both clamped to 64
      {"LatentUpscaleBy", "bicubic", 0, 0, "disabled", 18, 30},  // scale_by 1.5
      {"LatentUpscaleBy", "nearest-exact", 0, 0, "disabled", 5, 8},  // scale_by 0.41 -> 4.92, 8.2
  };
  // LatentUpscale width=0,height=200: width = max(64, round(20*200/12 = 333.33)) = 333 -> 333//8 = 41
  cases[2].ew = 41;
  NodeRunner r;
  int idx = 0;
  for (auto& c : cases) {
    auto latent = std::make_shared<Latent>();
    latent->samples = x;
    NodeOutput o;
    if (c.node == "LatentUpscale")
      o = r.run(c.node, {{"samples", latent}, {"upscale_method", c.method}, {"width", int64_t(c.a)},
                         {"height", int64_t(c.b)}, {"crop", c.crop}});
    else
      o = r.run(c.node, {{"samples", latent}, {"upscale_method", c.method}, {"scale_by", idx == 5 ? 1.5 : 0.41}});
    auto got = o.values[0].as<Latent>()->samples;
    ASSERT_EQ(got.size(2), c.eh) << idx;
    ASSERT_EQ(got.size(3), c.ew) << idx;
    io::save_safetensors(tmp.path / ("got" + std::to_string(idx) + ".safetensors"), {{"x", got.contiguous()}});
    ++idx;
  }
  // Reference: torch.nn.functional.interpolate (and ComfyUI's center crop formula) in Python.
  std::ofstream f(tmp.path / "ref.py");
  f << R"PY(
import json, struct, sys, torch, torch.nn.functional as F
def load(p):
    b = open(p, 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8+n]); i = h['x']
    s, e = i['data_offsets']; return torch.frombuffer(bytearray(b[8+n+s:8+n+e]), dtype=torch.float32).reshape(i['shape'])
d = sys.argv[1]; x = load(d + '/x.safetensors')
cases = json.loads(sys.argv[2]); worst = 0.0
for k, (method, h, w, crop) in enumerate(cases):
    s = x
    if crop == 'center':
        ow, oh = x.shape[3], x.shape[2]; oa, na = ow / oh, w / h; cx = cy = 0
        if oa > na: cx = round((ow - ow * (na / oa)) / 2)
        elif oa < na: cy = round((oh - oh * (oa / na)) / 2)
        s = x[:, :, cy:oh - cy, cx:ow - cx]
    ref = F.interpolate(s, size=(h, w), mode=method)
    worst = max(worst, (load(d + '/got%d.safetensors' % k) - ref).abs().max().item())
print(worst)
)PY";
  f.close();
  json spec = json::array();
  for (auto& c : cases) spec.push_back({c.method, c.eh, c.ew, c.crop});
  auto out = capture(py + " " + (tmp.path / "ref.py").string() + " " + tmp.path.string() + " '" + spec.dump() + "'");
  EXPECT_LT(std::stod(out), 1e-5) << out;
}

TEST(LatentUpscale, BislerpInterpolatesDirectionsOnTheSphere) {
  // Two pixels side by side with orthogonal unit vectors: doubling the width puts the new samples at
  // source positions -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped); in between, the result is
  // cos/sin-weighted (slerp), length 1 — where plain bilinear would shrink it to sqrt(r^2 + (1-r)^2).
  auto x = at::zeros({1, 2, 1, 2});
  x[0][0][0][0] = 1.0f;
  x[0][1][0][1] = 1.0f;
  auto y = common_upscale(x, 4, 1, "bislerp", "disabled");
  ASSERT_EQ(y.sizes(), at::IntArrayRef({1, 2, 1, 4}));
  const double pi = 3.14159265358979323846;
  auto expect = [&](double r) { return std::make_pair(std::cos(r * pi / 2), std::sin(r * pi / 2)); };
  for (auto [col, r] : std::vector<std::pair<int, double>>{{0, 0.0}, {1, 0.25}, {2, 0.75}}) {
    auto [e0, e1] = expect(r);
    EXPECT_NEAR(y[0][0][0][col].item<double>(), e0, 1e-5) << col;
    EXPECT_NEAR(y[0][1][0][col].item<double>(), e1, 1e-5) << col;
  }
  // last column: both taps are the last pixel (same direction) -> that pixel
  EXPECT_NEAR(y[0][1][0][3].item<double>(), 1.0, 1e-6);
  // a constant field stays constant, any size
  auto k = at::full({2, 4, 3, 5}, 0.5);
  EXPECT_TRUE(at::allclose(common_upscale(k, 9, 7, "bislerp", "disabled"), at::full({2, 4, 7, 9}, 0.5)));
}

TEST(LatentUpscale, ZeroSizeKeepsLatentAndUnknownMethodsAreRejected) {
  NodeRunner r;
  auto latent = std::make_shared<Latent>();
  latent->samples = at::randn({1, 4, 8, 8});
  latent->noise_mask = at::ones({1, 1, 8, 8});
  auto o = r.run("LatentUpscale", {{"samples", latent}, {"upscale_method", "bilinear"}, {"width", int64_t(0)},
                                   {"height", int64_t(0)}, {"crop", "disabled"}});
  EXPECT_TRUE(at::equal(o.values[0].as<Latent>()->samples, latent->samples));
  auto o2 = r.run("LatentUpscaleBy", {{"samples", latent}, {"upscale_method", "bilinear"}, {"scale_by", 2.0}});
  EXPECT_TRUE(o2.values[0].as<Latent>()->noise_mask.has_value());  // other keys carried over
  EXPECT_THROW(r.run("LatentUpscaleBy", {{"samples", latent}, {"upscale_method", "lanczos"}, {"scale_by", 2.0}}), Error);
  auto o3 = r.run("LatentUpscaleBy", {{"samples", latent}, {"upscale_method", "bislerp"}, {"scale_by", 2.0}});
  EXPECT_EQ(o3.values[0].as<Latent>()->samples.sizes(), at::IntArrayRef({1, 4, 16, 16}));
}

TEST(ImageScale, KeepsAspectWhenOneSideIsZero) {
  NodeRunner r;
  auto img = at::rand({1, 10, 30, 3});
  auto o = r.run("ImageScale", {{"image", img}, {"upscale_method", "area"}, {"width", int64_t(15)},
                                {"height", int64_t(0)}, {"crop", "disabled"}});
  const auto& out = o.values[0].as_tensor();
  ASSERT_EQ(out.sizes(), at::IntArrayRef({1, 5, 15, 3}));
  // area 2x2 average, closed form
  auto ref = img.view({1, 5, 2, 15, 2, 3}).mean({2, 4});
  EXPECT_TRUE(at::allclose(out, ref, 1e-5, 1e-6));
}
