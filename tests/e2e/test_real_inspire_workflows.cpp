// The five real Inspire-Pack workflows of ../shared/workflows/real (issue 10, item 7) run end to end
// through the CLI on tiny checkpoints of their own family, one test per file, each checking one
// property that shows the companion nodes really worked:
// * inspire-ksampler-progress: the VHS animation has one frame per saved progress step (+ the final
//   latent), and its last frame is the picture SaveImage wrote;
// * inspire-variation-seed: the FloatRange sweep gives one picture per strength, and they differ;
// * inspire-reproduce-a1111, linc-inspire-webui: A1111 weighting gives another picture than comfy
//   weighting of the same prompt;
// * inspire-save-load-lbw: the SaveLBW file holds the block vector (read back by Python as Inspire's
//   LoadLBW reads it), and the LBW-applied model, extracted by LoraSave, differs from the plain LoRA one
//   only in the weighted blocks.
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
#include "comfy/models/checkpoint.hpp"
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
  const fs::path sdxl = fs::absolute(test::golden_root() / "models" / "tiny-sdxl.safetensors");
  for (auto& id : r->ids_of("CheckpointLoaderSimple")) {
    const std::string name = r->prompt[id]["inputs"]["ckpt_name"].get<std::string>();
    const bool is_sdxl = name.rfind("SDXL/", 0) == 0;  // the Inspire tutorials' folder names
    if (is_sdxl) {
      if (!fs::exists(sdxl)) {
        *why = "no tiny SDXL checkpoint at " + sdxl.string();
        return nullptr;
      }
      try {
        RuntimeConfig cfg;
        load_checkpoint(sdxl, cfg);
      } catch (const std::exception& e) {
        *why = file + " waits for SDXL checkpoint support: " + e.what();
        return nullptr;
      }
    }
    fs::create_directories((r->models / "checkpoints" / name).parent_path());
    if (!fs::exists(r->models / "checkpoints" / name))
      fs::create_symlink(is_sdxl ? sdxl : sd15, r->models / "checkpoints" / name);
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

// Runs the UI file with the overrides (+ `extra`) into out/<name>/output (previews land in
// out/<name>/temp); returns out/<name>. Fails the test on a non-zero exit.
// `file` replaces the shared workflow (an edited copy of it, or a prompt cut from it).
fs::path run(InspireRun& r, const std::string& name, const std::vector<std::pair<std::string, ojson>>& extra = {},
             const fs::path& file = {}) {
  const fs::path out = r.out / name;
  const fs::path workflow = file.empty() ? real_dir() / r.file : file;
  std::vector<std::string> args = {"run", workflow.string(), "--models-dir", r.models.string(),
                                   "--output-dir", (out / "output").string(), "--quiet"};
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
    auto meta = io::read_png_text(io::read_file(out / "output" / "AnimateDiff_00001.png"));
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

TEST(RealInspireWorkflow, VariationSeedSweepGivesOneDistinctPicturePerStrength) {
  if (!have_pil()) GTEST_SKIP() << "needs Debian's python3-pil to decode the WebP";
  PREPARE_OR_SKIP(r, "inspire-variation-seed.ui.json");
  const auto range = r->ids_of("FloatRange //Inspire").at(0);
  // FloatRange(0, 1, step 0.25, limit 4, ensure_end false) = [0, 0.25, 0.5, 0.75] (nodes-companions.md 2.1)
  r->set(range, "step", 0.25);
  r->set(range, "limit", 4);
  ASSERT_EQ(r->prompt[range]["inputs"]["ensure_end"], false);
  for (auto& id : r->ids_of("SDXL Empty Latent Image")) r->set(id, "resolution", "[SD15] 512 x 512 (1.00)");
  const fs::path out = run(*r, "sweep");
  auto webps = files_with(out, ".webp");
  ASSERT_EQ(webps.size(), 1u);
  EXPECT_EQ(webps[0].filename(), "variation_seed_00001.webp");
  auto frames = animation_frames(webps[0]);
  ASSERT_TRUE(frames.defined());
  ASSERT_EQ(frames.size(0), 4) << "one frame per strength";
  auto f = frames.to(at::kFloat) / 255.0;
  for (int64_t i = 0; i + 1 < 4; ++i)
    EXPECT_GT((f[i] - f[i + 1]).abs().mean().item<double>(), 1e-3) << "strengths " << i << " and " << i + 1;
}

TEST(RealInspireWorkflow, ReproduceA1111WeightingDiffersFromComfyWeighting) {
  PREPARE_OR_SKIP(r, "inspire-reproduce-a1111.ui.json");
  // The file's positive prompt has no (word:weight) groups, where both interpretations agree; give one
  // word a weight, then compare the file's A1111 interpretation with comfy's on that same prompt.
  std::string positive;
  for (auto& id : r->ids_of("BNK_CLIPTextEncodeAdvanced"))
    if (r->prompt[id]["inputs"]["text"].get<std::string>().find("cyberpunk") != std::string::npos) positive = id;
  ASSERT_FALSE(positive.empty());
  ASSERT_EQ(r->prompt[positive]["inputs"]["weight_interpretation"], "A1111");
  std::string text = r->prompt[positive]["inputs"]["text"].get<std::string>();
  text.replace(text.find("cyberpunk"), 9, "(cyberpunk:1.4)");
  r->set(positive, "text", text);
  for (auto& id : r->ids_of("KSampler //Inspire")) r->set(id, "steps", 3);
  const auto a1111 = saved_pictures(run(*r, "a1111"));
  const auto comfy = saved_pictures(run(*r, "comfy", {{positive + ".weight_interpretation", "comfy"}}));
  ASSERT_EQ(a1111.size(), 1u) << "one PreviewImage picture";
  ASSERT_EQ(comfy.size(), 1u);
  const auto& a = a1111.begin()->second;
  const auto& c = comfy.begin()->second;
  ASSERT_EQ(a.sizes(), c.sizes());
  EXPECT_GT((a - c).abs().mean().item<double>(), 1e-3) << "A1111 and comfy weighting gave the same picture";
}

namespace {

// The SDXL block map of a 12-entry vector (nodes-companions.md 3.1, golden lbw_sdxl_*): base, IN04 IN05
// IN07 IN08, MID, OUT00-OUT05; keys outside the blocks (time_embed, label_emb, the CLIPs) take the base.
// Valid for a LoRA touching every one of those blocks, as the tiny SDXL LoRA does; the blocks without
// attention (no vector entry, nothing of the LoRA's) give 0.
double sdxl_block_ratio(const std::vector<double>& v, const std::string& model_key) {
  int n = 0;
  char group[32] = {0};
  if (std::sscanf(model_key.c_str(), "diffusion_model.%31[a-z_].%d", group, &n) != 2) return v.at(0);
  const std::string g = group;
  if (g == "input_blocks") {
    const std::vector<int> in = {4, 5, 7, 8};
    const auto it = std::find(in.begin(), in.end(), n);
    return it == in.end() ? 0.0 : v.at(1 + size_t(it - in.begin()));
  }
  if (g == "middle_block") return n == 1 ? v.at(5) : 0.0;
  if (g == "output_blocks") return n <= 5 ? v.at(6 + size_t(n)) : 0.0;
  return v.at(0);
}

std::vector<double> parse_vector(const std::string& s) {
  std::vector<double> v;
  for (size_t i = 0; i < s.size();) {
    size_t j = s.find(',', i);
    if (j == std::string::npos) j = s.size();
    v.push_back(std::stod(s.substr(i, j - i)));
    i = j + 1;
  }
  return v;
}

// Reads an LBW file as Inspire's LoadLBW does (json.loads(blocks), ast.literal_eval(muted_blocks), the
// "tN" tensors) with Python's standard library, and checks it against the block vector and the LoRA file:
// every LoRA module is either a block with its vector ratio and the LoRA's own up / down / alpha, or
// muted with ratio 0. Prints "ok <blocks> <muted>" or the first mismatch.
const char* kReadLbwPy = R"PY(
import ast, array, json, re, struct, sys
def read(p):
    with open(p, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        h = json.loads(f.read(n))
        data = f.read()
    md = h.pop('__metadata__', {})
    def tensor(name):
        e = h[name]
        assert e['dtype'] == 'F32', (name, e['dtype'])
        a = array.array('f'); a.frombytes(data[e['data_offsets'][0]:e['data_offsets'][1]])
        return e['shape'], list(a)
    return md, h, tensor
lbw_md, lbw_h, lbw_t = read(sys.argv[1])
_, lora_h, lora_t = read(sys.argv[2])
v = [float(x) for x in sys.argv[3].split(',')]
def ratio_of(key):
    m = re.match(r'diffusion_model\.(input_blocks|middle_block|output_blocks)\.(\d+)\.', key)
    if not m: return v[0]
    g, n = m.group(1), int(m.group(2))
    if g == 'input_blocks': return v[1 + [4, 5, 7, 8].index(n)]
    return v[5] if g == 'middle_block' else v[6 + n]
def kohya(key):
    for p, k in (('diffusion_model.', 'lora_unet_'), ('clip_l.transformer.', 'lora_te1_'), ('clip_g.transformer.', 'lora_te2_')):
        if key.startswith(p): return k + key[len(p):-len('.weight')].replace('.', '_')
    sys.exit('unexpected key ' + key)
assert lbw_md['format'] == 'Inspire LBW 1.0', lbw_md.get('format')
blocks = json.loads(lbw_md['blocks'])
muted = ast.literal_eval(lbw_md['muted_blocks'])
seen = []
for key, ((ptype, args), ratio) in blocks.items():
    name = kohya(key); seen.append(name)
    assert ptype == 'lora', ptype
    assert ratio == ratio_of(key) and ratio != 0, (key, ratio, ratio_of(key))
    assert lbw_t(args[0]) == lora_t(name + '.lora_up.weight'), key
    assert lbw_t(args[1]) == lora_t(name + '.lora_down.weight'), key
    assert args[2] == lora_t(name + '.alpha')[1][0], (key, args[2])
for key in muted:
    seen.append(kohya(key))
    assert ratio_of(key) == 0, key
modules = sorted(k[:-len('.lora_up.weight')] for k in lora_h if k.endswith('.lora_up.weight'))
assert sorted(seen) == modules, (len(seen), len(modules))
print('ok', len(blocks), len(muted))
)PY";

// W' - W for one UNet weight of the tiny LoRA at `strength`: strength * alpha / rank * up @ down.
at::Tensor lora_delta(io::SafeTensors& lora, const std::string& unet_key, double strength, at::IntArrayRef shape) {
  std::string name = "lora_unet_" + unet_key.substr(0, unet_key.size() - 7);  // without ".weight"
  std::replace(name.begin() + 10, name.end(), '.', '_');
  if (!lora.contains(name + ".lora_up.weight")) return at::zeros(shape);
  auto up = lora.get(name + ".lora_up.weight").to(at::kDouble), down = lora.get(name + ".lora_down.weight").to(at::kDouble);
  const double alpha = lora.get(name + ".alpha").to(at::kDouble).item<double>();
  return (at::mm(up.flatten(1), down.flatten(1)) * (strength * alpha / double(down.size(0)))).reshape(shape).to(at::kFloat);
}

}  // namespace

TEST(RealInspireWorkflow, SaveLoadLbwKeepsTheBlockVectorAndChangesOnlyTheWeightedBlocks) {
  if (std::system("/usr/bin/python3 -c 'import ast, array, json' 2>/dev/null") != 0) GTEST_SKIP() << "needs /usr/bin/python3";
  PREPARE_OR_SKIP(r, "inspire-save-load-lbw.ui.json");
  const fs::path lora_file = test::golden_root() / "companions" / "tiny-lora-sdxl.safetensors";
  ASSERT_TRUE(fs::exists(lora_file));
  const std::string make = r->ids_of("MakeLBW //Inspire").at(0), save = r->ids_of("SaveLBW //Inspire").at(0);
  const std::string load = r->ids_of("LoadLBW //Inspire").at(0), apply = r->ids_of("ApplyLBW //Inspire").at(0);
  const std::string lora_name = r->prompt[make]["inputs"]["lora_name"].get<std::string>();
  fs::create_directories((r->models / "loras" / lora_name).parent_path());
  fs::create_symlink(fs::absolute(lora_file), r->models / "loras" / lora_name);
  const std::string vector_text = r->prompt[make]["inputs"]["block_vector"].get<std::string>();
  ASSERT_EQ(vector_text, "1,0,0,0,0,0,2,2,0,0,0,0");  // base 1; OUT00, OUT01 at 2; every other block muted
  const auto vec = parse_vector(vector_text);
  const double strength = r->prompt[apply]["inputs"]["strength_model"].get<double>();
  ASSERT_EQ(strength, 0.75);

  // 1. The LBW file, made by the workflow's own MakeLBW -> SaveLBW (LoadLBW needs one to exist first).
  ojson part = ojson::object();
  for (const auto& id : {r->ids_of("CheckpointLoaderSimple").at(0), make, save}) part[id] = r->prompt[id];
  const fs::path part_file = r->tmp.path / "make-save-lbw.api.json";
  io::write_file_atomic(part_file, part.dump(), true);
  auto res = test::run_cli({"run", part_file.string(), "--models-dir", r->models.string(), "--output-dir",
                            (r->out / "save" / "output").string(), "--quiet"});
  ASSERT_EQ(res.exit_code, 0) << res.out << res.err;
  const auto lbw_files = files_with(r->models / "lbw_models", ".safetensors");
  ASSERT_EQ(lbw_files.size(), 1u);
  EXPECT_EQ(lbw_files[0].filename(), "ComfyUI_00001_.lbw.safetensors");
  const fs::path script = r->tmp.path / "read_lbw.py";
  io::write_file_atomic(script, kReadLbwPy, true);
  const std::string py = capture("/usr/bin/python3 '" + script.string() + "' '" + lbw_files[0].string() + "' '" +
                                 lora_file.string() + "' '" + vector_text + "' 2>&1");
  EXPECT_EQ(py.rfind("ok ", 0), 0u) << py;

  // 2. The whole workflow, LoadLBW reading that file, with the (bypassed) LoraSave turned on so the
  // applied-minus-base difference comes out: as saved (rank-16 SVD) and as full differences.
  ojson ui = ojson::parse(io::read_file(real_dir() / r->file));
  std::string lora_save;
  for (auto& n : ui["nodes"])
    if (n["type"] == "LoraSave") {
      ASSERT_EQ(n["mode"], 2) << "the shared file keeps LoraSave muted (mode 2)";
      n["mode"] = 0;
      lora_save = std::to_string(n["id"].get<int64_t>());
    }
  ASSERT_FALSE(lora_save.empty());
  const fs::path ui_file = r->tmp.path / "save-load-lbw-with-lorasave.ui.json";
  io::write_file_atomic(ui_file, ui.dump(), true);
  const std::pair<std::string, ojson> use_file = {load + ".lbw_model", lbw_files[0].filename().string()};
  const fs::path svd = run(*r, "svd", {use_file}, ui_file);
  const fs::path full = run(*r, "full", {use_file, {lora_save + ".lora_type", "full_diff"}}, ui_file);
  auto extracted = [](const fs::path& out) {
    auto f = files_with(out / "output" / "loras", ".safetensors");
    return f.size() == 1 ? io::SafeTensors::open(f[0]) : nullptr;
  };
  auto svd_lora = extracted(svd), full_lora = extracted(full);
  ASSERT_TRUE(svd_lora && full_lora) << "LoraSave wrote no (or several) files";
  auto lora = io::SafeTensors::open(lora_file);

  // Full differences: applied - base = strength * ratio * delta per weight, so applied - plain LoRA =
  // strength * (ratio - 1) * delta: zero exactly where the block ratio is 1 (the base: time_embed,
  // label_emb), non-zero in the re-weighted blocks.
  int weighted = 0, same_as_plain = 0, untouched = 0;
  for (const auto& name : full_lora->names()) {
    const std::string suffix = ".diff";
    if (name.size() < suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
    ASSERT_EQ(name.rfind("diffusion_model.", 0), 0u) << name;
    const std::string key = name.substr(16, name.size() - 16 - suffix.size()) + ".weight";
    const at::Tensor got = full_lora->get(name).to(at::kFloat);
    const at::Tensor delta = lora_delta(*lora, key, strength, got.sizes());  // the plain LoRA's change
    const double ratio = sdxl_block_ratio(vec, "diffusion_model." + key);
    EXPECT_EQ(test::check_close(got, delta * ratio, 1e-3, 1e-5), "") << key;
    const bool touched = delta.abs().max().item<double>() > 0;
    if (!touched) {
      EXPECT_EQ(got.abs().max().item<double>(), 0.0) << key << ": a weight the LoRA does not touch changed";
      ++untouched;
    } else if (ratio == 1) {
      EXPECT_EQ(test::check_close(got, delta, 1e-3, 1e-5), "") << key << ": should equal the plain LoRA";
      ++same_as_plain;
    } else {
      EXPECT_GT((got - delta).abs().max().item<double>(), 1e-4) << key << ": should differ from the plain LoRA";
      weighted += ratio != 0;
    }
  }
  EXPECT_EQ(same_as_plain, 2) << "time_embed.0 and label_emb.0.0 take the base ratio";
  EXPECT_GT(weighted, 0);
  EXPECT_GT(untouched, 0);
  // As the file saves it (rank-16 SVD of the difference): non-zero exactly on the weights of OUT00 /
  // OUT01 and the base keys, every muted block and untouched weight gives a zero product.
  for (const auto& name : svd_lora->names()) {
    const std::string suffix = ".lora_up.weight";
    if (name.size() < suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
    const std::string base = name.substr(0, name.size() - suffix.size());
    const std::string key = base.substr(16) + ".weight";
    auto up = svd_lora->get(name).to(at::kFloat), down = svd_lora->get(base + ".lora_down.weight").to(at::kFloat);
    const double norm = at::mm(up.flatten(1), down.flatten(1)).abs().max().item<double>();
    const bool expect_change = sdxl_block_ratio(vec, base) != 0 &&
                               lora_delta(*lora, key, 1.0, {up.size(0), down.flatten(1).size(1)}).abs().max().item<double>() > 0;
    EXPECT_EQ(norm > 0, expect_change) << key << " |up @ down| = " << norm;
  }
}
