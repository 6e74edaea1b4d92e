// The five real Inspire-Pack workflows of ../shared/workflows/real (issue 10, item 7) run end to end
// through the CLI on tiny checkpoints of their own family, one test per file, each checking one
// property that shows the companion nodes really worked:
// * inspire-ksampler-progress: the VHS animation has one frame per saved progress step (+ the final
//   latent), and its last frame is the picture SaveImage wrote;
// * inspire-variation-seed: the FloatRange sweep gives one picture per strength, and they differ;
// * inspire-reproduce-a1111, linc-inspire-webui: A1111 weighting gives another picture than comfy
//   weighting of the same prompt;
// * inspire-save-load-lbw: the LBW-applied model differs from the plain LoRA one only in the
//   weighted blocks.
// A file whose nodes are not all registered yet is reported as skipped, naming the missing nodes.
//
// Models: each checkpoint name the prompt asks for is a link to the tiny checkpoint of its family
// (SD1.5 names to the golden tiny SD1.5 file); sizes are cut to a few latent pixels and steps to 3
// with --set (workflow values kept otherwise); every output is written under a temp folder.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <set>

#include "comfy/core/node.hpp"
#include "comfy/graph/workflow.hpp"
#include "comfy/io/files.hpp"
#include "comfy/io/png.hpp"
#include "comfy/io/safetensors.hpp"
#include "comfy/io/subprocess.hpp"
#include "test_util.hpp"
#include "tiny_models.hpp"

namespace fs = std::filesystem;
using namespace comfy;
using ojson = nlohmann::ordered_json;
using nlohmann::json;

namespace {

fs::path real_dir() { return test::shared_dir() / "workflows" / "real"; }

std::string capture(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  EXPECT_EQ(pclose(p), 0) << cmd;
  return out;
}

bool have_pil() { return std::system("/usr/bin/python3 -c 'import PIL' 2>/dev/null") == 0; }

// Frames of an animated GIF / WebP as PIL decodes them: uint8 [N, H, W, 3].
at::Tensor animation_frames(const fs::path& p) {
  const std::string py =
      "import sys\nfrom PIL import Image\nim = Image.open(sys.argv[1])\n"
      "sys.stdout.write('%d %d %d\\n' % (im.n_frames, im.size[0], im.size[1]))\n"
      "for i in range(im.n_frames):\n    im.seek(i)\n    sys.stdout.flush()\n"
      "    sys.stdout.buffer.write(im.convert('RGB').tobytes())\n";
  std::string out = capture("/usr/bin/python3 -c \"" + py + "\" '" + p.string() + "'");
  const size_t nl = out.find('\n');
  int64_t n = 0, w = 0, h = 0;
  if (nl == std::string::npos || std::sscanf(out.c_str(), "%ld %ld %ld", &n, &w, &h) != 3) return at::Tensor();
  const std::string raw = out.substr(nl + 1);
  if (int64_t(raw.size()) != n * w * h * 3) return at::Tensor();
  return at::from_blob(const_cast<char*>(raw.data()), {n, h, w, 3}, at::kByte).clone();
}

struct InspireRun {
  std::string file;
  test::TempDir tmp;
  fs::path models, out;
  ojson prompt;
  std::vector<std::pair<std::string, ojson>> sets;

  std::string cls(const std::string& id) const { return prompt.at(id).at("class_type").get<std::string>(); }
  std::vector<std::string> ids_of(const std::string& c) const {
    std::vector<std::string> v;
    for (auto& [id, n] : prompt.items())
      if (n.at("class_type") == c) v.push_back(id);
    return v;
  }
  void set(const std::string& id, const std::string& input, const ojson& v) {
    prompt[id]["inputs"][input] = v;
    sets.emplace_back(id + "." + input, v);
  }
};

// The node types the converted prompt uses that nobody registered yet.
std::set<std::string> missing_nodes(const ojson& prompt) {
  std::set<std::string> m;
  for (auto& [id, n] : prompt.items())
    if (!Registry::global().find(n.at("class_type").get<std::string>())) m.insert(n.at("class_type").get<std::string>());
  return m;
}

std::string join(const std::set<std::string>& s) {
  std::string r;
  for (auto& x : s) r += (r.empty() ? "" : ", ") + x;
  return r;
}

int64_t small(int64_t v) { return std::max<int64_t>(16, (v / 8 + 7) / 8 * 8 / 2); }

// Models, sizes, steps; nullptr (with the reason) when the file cannot run here yet.
std::unique_ptr<InspireRun> prepare(const std::string& file, std::string* why) {
  auto r = std::make_unique<InspireRun>();
  r->file = file;
  r->models = r->tmp.path / "models";
  r->out = r->tmp.path / "out";
  fs::create_directories(r->models / "checkpoints");
  r->prompt = load_workflow_file(real_dir() / file).prompt;
  auto missing = missing_nodes(r->prompt);
  if (!missing.empty()) {
    *why = file + " waits for nodes not registered yet: " + join(missing);
    return nullptr;
  }
  const fs::path sd15 = fs::absolute(test::tiny_sd15_path());
  for (auto& id : r->ids_of("CheckpointLoaderSimple")) {
    const std::string name = r->prompt[id]["inputs"]["ckpt_name"].get<std::string>();
    if (name.rfind("SDXL/", 0) == 0) {
      *why = file + " needs a tiny SDXL checkpoint (" + name + ")";
      return nullptr;
    }
    fs::create_directories((r->models / "checkpoints" / name).parent_path());
    if (!fs::exists(r->models / "checkpoints" / name)) fs::create_symlink(sd15, r->models / "checkpoints" / name);
  }
  for (auto& id : r->ids_of("VAELoader")) {
    fs::create_directories(r->models / "vae");
    const std::string name = r->prompt[id]["inputs"]["vae_name"].get<std::string>();
    io::save_safetensors(r->models / "vae" / name, test::tiny_vae_tensors(), {}, true);
  }
  for (auto& id : r->ids_of("EmptyLatentImage")) {
    auto& in = r->prompt[id]["inputs"];
    r->set(id, "width", small(in["width"].get<int64_t>()));
    r->set(id, "height", small(in["height"].get<int64_t>()));
  }
  for (const char* c : {"KSampler //Inspire", "KSamplerProgress //Inspire", "KSampler"})
    for (auto& id : r->ids_of(c)) r->set(id, "steps", 3);
  return r;
}

// Runs the UI file with the overrides (+ `extra`) into out/<name>; fails the test on a non-zero exit.
fs::path run(InspireRun& r, const std::string& name, const std::vector<std::pair<std::string, ojson>>& extra = {}) {
  const fs::path out = r.out / name;
  std::vector<std::string> args = {"run", (real_dir() / r.file).string(), "--models-dir", r.models.string(),
                                   "--output-dir", out.string(), "--quiet"};
  auto add = [&](const std::pair<std::string, ojson>& s) {
    args.push_back("--set");
    args.push_back(s.first + "=" + (s.second.is_string() ? s.second.get<std::string>() : s.second.dump()));
  };
  for (auto& s : r.sets) add(s);
  for (auto& s : extra) add(s);
  auto res = test::run_cli(args);
  EXPECT_EQ(res.exit_code, 0) << r.file << "\n" << res.out << res.err;
  return out;
}

std::vector<fs::path> files_with(const fs::path& dir, const std::string& ext) {
  std::vector<fs::path> v;
  if (!fs::exists(dir)) return v;
  for (auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().extension() == ext) v.push_back(e.path());
  std::sort(v.begin(), v.end());
  return v;
}

#define PREPARE_OR_SKIP(var, file)                 \
  std::string why_;                                \
  auto var = prepare(file, &why_);                 \
  if (!var) GTEST_SKIP() << why_;

}  // namespace

TEST(RealInspireWorkflow, KSamplerProgressVideoHasOneFramePerSavedStep) {
  if (!have_pil()) GTEST_SKIP() << "needs Debian's python3-pil to decode the GIF";
  PREPARE_OR_SKIP(r, "inspire-ksampler-progress.ui.json");
  const auto sampler = r->ids_of("KSamplerProgress //Inspire").at(0);
  const auto& in = r->prompt[sampler]["inputs"];
  ASSERT_EQ(in["interval"], 1);
  ASSERT_EQ(in["omit_start_latent"], true);
  ASSERT_EQ(in["omit_final_latent"], false);
  // sampling.md: with interval 1 every one of the 3 steps is kept, start omitted, final appended
  for (auto [interval, expected] : {std::pair<int, int64_t>{1, 3 + 1}, {2, 2 + 1}}) {
    const fs::path out = run(*r, "i" + std::to_string(interval), {{sampler + ".interval", interval}});
    auto gifs = files_with(out, ".gif");
    ASSERT_EQ(gifs.size(), 1u) << "interval " << interval;
    EXPECT_EQ(gifs[0].filename(), "AnimateDiff_00001.gif");
    auto frames = animation_frames(gifs[0]);
    ASSERT_TRUE(frames.defined());
    EXPECT_EQ(frames.size(0), expected) << "interval " << interval;
    // the final progress frame is the finished latent, decoded like SaveImage's picture
    fs::path saved;
    for (auto& p : files_with(out, ".png"))
      if (p.filename().string().rfind("ComfyUI_", 0) == 0) saved = p;
    ASSERT_FALSE(saved.empty());
    auto pic = io::decode_png(io::read_file(saved)).rgb;  // [H, W, 3] float
    auto last = frames[frames.size(0) - 1].to(at::kFloat) / 255.0;
    ASSERT_EQ(last.sizes(), pic.sizes());
    EXPECT_LT((last - pic).abs().mean().item<double>(), 0.03) << "GIF palette error only";
    // and the steps before it are different pictures (noisier states)
    EXPECT_GT((frames[0].to(at::kFloat) / 255.0 - pic).abs().mean().item<double>(), 0.03);
    // the first-frame PNG carries the workflow
    auto meta = io::read_png_text(io::read_file(out / "AnimateDiff_00001.png"));
    bool has_workflow = false;
    for (auto& [k, t] : meta) has_workflow |= k == "workflow" && json::parse(t).contains("nodes");
    EXPECT_TRUE(has_workflow);
  }
}

namespace {
// The pictures SaveImage wrote under `out`, by file name.
std::map<std::string, at::Tensor> saved_pictures(const fs::path& out) {
  std::map<std::string, at::Tensor> m;
  for (auto& p : files_with(out, ".png")) m[p.filename().string()] = io::decode_png(io::read_file(p)).rgb;
  return m;
}
}  // namespace

TEST(RealInspireWorkflow, WebuiA1111WeightingDiffersFromComfyWeighting) {
  PREPARE_OR_SKIP(r, "linc-inspire-webui.ui.json");
  auto encoders = r->ids_of("BNK_CLIPTextEncodeAdvanced");
  ASSERT_EQ(encoders.size(), 2u);
  std::string positive;
  for (auto& id : encoders)
    if (r->prompt[id]["inputs"]["text"].get<std::string>().find(":1.2)") != std::string::npos) positive = id;
  ASSERT_FALSE(positive.empty()) << "no weighted positive prompt";
  // what the file says (A1111 weighting of the positive prompt) and the same prompt with comfy's
  const auto a1111 = saved_pictures(run(*r, "a1111"));
  ASSERT_EQ(r->prompt[positive]["inputs"]["weight_interpretation"], "A1111");
  const auto comfy = saved_pictures(run(*r, "comfy", {{positive + ".weight_interpretation", "comfy"}}));
  const auto again = saved_pictures(run(*r, "again"));
  ASSERT_EQ(a1111.size(), 1u);
  ASSERT_EQ(comfy.size(), 1u);
  const auto& a = a1111.begin()->second;
  const auto& c = comfy.begin()->second;
  ASSERT_EQ(a.sizes(), c.sizes());
  EXPECT_GT((a - c).abs().mean().item<double>(), 1e-3) << "A1111 and comfy weighting gave the same picture";
  EXPECT_EQ((a - again.begin()->second).abs().max().item<double>(), 0.0) << "the same run is not reproducible";
}
