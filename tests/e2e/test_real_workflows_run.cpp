// Every workflow of ../shared/workflows/real/ that SOURCES.md marks runnable (plus the files runnable
// since: the inpaint, ControlNet, merging and SDXL-Turbo pairs) runs end to end through the CLI on tiny
// golden checkpoints, one test per file, each file on a checkpoint of its own family (issue 9 item 8).
//
// Each case builds a models folder from the names the converted prompt asks for:
// * checkpoints: each name stands for a tiny golden checkpoint of the same family (stand_in_for):
//   SDXL base / Turbo -> models/tiny-sdxl, SDXL refiner -> models/tiny-sdxl-refiner, the 512
//   inpainting model -> models/tiny-sd15-inpaint (9-channel UNet), v2-1_768-ema-pruned.ckpt ->
//   models/tiny-sd21-v (v-prediction by ComfyUI's heuristic) pickled here into a real torch zip .ckpt
//   by Python torch (tests/support/py/safetensors_to_ckpt.py), any other .ckpt -> models/tiny-sd15.ckpt,
//   any other .safetensors -> nets/tiny-sd15; all linked under the exact name the workflow asks for;
// * VAE: the SD1.5 checkpoint's first_stage_model.* tensors under their bare names (the stand-alone VAE
//   layout); a VAE name that is a pickle in the real world ("animevae.pt") is renamed with --set;
// * LoRA: a kohya-named LoRA for the tiny UNet and CLIP (tests/support/tiny_models);
// * embedding:NAME: NAME.safetensors (ComfyUI's lookup appends the extension) holding token
//   embedding rows of the text encoder the prompt is encoded with (OpenCLIP-H rows for SD2.1);
// * LoadImage: a PNG under the exact name in a temp input folder (with a transparent square for the
//   inpaint mask).
// Sizes are divided by 8 and steps cut to 3 (KSamplerAdvanced: 8, start/end scaled) with --set; batch
// sizes are 1. SaveImage prefixes are set to "n<node id>" so each file can be traced back to its node;
// PreviewImage pictures land in the temp folder next to the output folder (OUTPUT_DIR/../temp).
// comfyex-inpaint.api.json predates grow_mask_by and comfyex-sdxl-turbo.api.json SDTurboScheduler's
// denoise (ComfyUI would answer required_input_missing): they are given the defaults (6, 1.0) with
// --set, which is what their UI twins convert to.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <fstream>
#include <future>
#include <regex>

#include "comfy/core/node.hpp"
#include "comfy/graph/workflow.hpp"
#include "comfy/io/files.hpp"
#include "comfy/io/png.hpp"
#include "comfy/io/safetensors.hpp"
#include "comfy/models/vae.hpp"
#include "test_util.hpp"
#include "tiny_models.hpp"

namespace fs = std::filesystem;
using namespace comfy;
using ojson = nlohmann::ordered_json;

namespace {

fs::path real_dir() { return test::shared_dir() / "workflows" / "real"; }

constexpr int64_t kTinyVaeFactor = 2;  // golden nets README: the tiny VAE's spatial factor
constexpr int64_t kImageH = 48, kImageW = 64;  // LoadImage inputs

bool ends_with(const std::string& s, const std::string& t) {
  return s.size() >= t.size() && s.compare(s.size() - t.size(), t.size(), t) == 0;
}

// A smooth colour ramp with a dark disc: not constant, easy to tell apart from noise.
at::Tensor input_image(bool with_alpha_hole) {
  auto y = at::arange(kImageH, at::kFloat).div(kImageH - 1).view({kImageH, 1}).expand({kImageH, kImageW});
  auto x = at::arange(kImageW, at::kFloat).div(kImageW - 1).view({1, kImageW}).expand({kImageH, kImageW});
  auto disc = ((x - 0.3).pow(2) + (y - 0.5).pow(2)).lt(0.04).to(at::kFloat);
  auto img = at::stack({x * (1 - disc), y * (1 - disc), at::full_like(x, 0.6) * (1 - disc)}, -1);
  if (!with_alpha_hole) return img;
  // Transparent = masked (LoadImage's mask is 1 - alpha): a 16x16 square right of centre.
  auto alpha = at::ones({kImageH, kImageW, 1});
  alpha.slice(0, 16, 32).slice(1, 36, 52).fill_(0.0);
  return at::cat({img, alpha}, -1);
}
at::Tensor inpaint_mask() {  // [H, W], 1 where the input image is transparent
  auto m = at::zeros({kImageH, kImageW});
  m.slice(0, 16, 32).slice(1, 36, 52).fill_(1.0);
  return m;
}

const char* kSd1TokenKey = "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight";

// The tiny golden checkpoint a real checkpoint name stands for: one of the same family (golden models
// README). `weights` is the golden .safetensors holding its tensors (for the token rows of an embedding
// and the VAE), `form` how the file under the workflow's name is made.
struct StandIn {
  enum Form { Link, GoldenSd15Ckpt, Pickled };
  std::string weights;
  std::string token_key;  // the text encoder's token embedding ("" for SDXL's two encoders)
  Form form = Link;
};
StandIn stand_in_for(const std::string& ckpt_name) {
  if (ckpt_name == "sd_xl_base_1.0.safetensors" || ckpt_name == "sd_xl_turbo_1.0_fp16.safetensors")
    return {"models/tiny-sdxl.safetensors", ""};
  if (ckpt_name == "sd_xl_refiner_1.0.safetensors") return {"models/tiny-sdxl-refiner.safetensors", ""};
  if (ckpt_name == "512-inpainting-ema.safetensors") return {"models/tiny-sd15-inpaint.safetensors", kSd1TokenKey};
  if (ckpt_name == "v2-1_768-ema-pruned.ckpt")
    return {"models/tiny-sd21-v.safetensors", "cond_stage_model.model.token_embedding.weight", StandIn::Pickled};
  // models/tiny-sd15.ckpt holds exactly nets/tiny-sd15's tensors (golden models README)
  if (ends_with(ckpt_name, ".ckpt")) return {"nets/tiny-sd15.safetensors", kSd1TokenKey, StandIn::GoldenSd15Ckpt};
  return {"nets/tiny-sd15.safetensors", kSd1TokenKey};
}

// tiny-sd21-v as a real pickled checkpoint: torch.save({"state_dict": ...}) by Python torch, which reads
// the safetensors file on its own. Written once per process; without Python torch the path is empty and
// `no_python` says so (a skip); a failing script is a test failure.
fs::path pickled_sd21_v(std::string* no_python) {
  static test::TempDir dir;
  static const fs::path path = []() -> fs::path {
    const std::string py = test::python_with_torch();
    if (py.empty()) return {};
    const fs::path out = dir.path / "tiny-sd21-v.ckpt", log = dir.path / "log.txt";
    const std::string cmd = py + " '" + (test::source_dir() / "tests/support/py/safetensors_to_ckpt.py").string() +
                            "' '" + fs::absolute(test::golden_root() / "models/tiny-sd21-v.safetensors").string() +
                            "' '" + out.string() + "' >'" + log.string() + "' 2>&1";
    const int rc = std::system(cmd.c_str());
    EXPECT_EQ(rc, 0) << "safetensors_to_ckpt.py: " << (fs::exists(log) ? io::read_file(log) : "");
    return rc == 0 ? out : fs::path();
  }();
  if (test::python_with_torch().empty()) *no_python = "no python3 with torch to write v2-1_768-ema-pruned.ckpt";
  return path;
}

// One prepared run: models, inputs, the --set overrides and the prompt as it will run.
struct RealRun {
  std::string file;
  test::TempDir tmp;
  fs::path models, input;
  ojson prompt;                                    // converted, with the overrides applied
  std::vector<std::pair<std::string, ojson>> sets;  // "id.input" -> value
  bool ui = false;
  std::string cannot_run;  // why the case cannot be set up on this machine (a skip, never a pass)

  void set(const std::string& id, const std::string& input, const ojson& v) {
    prompt[id]["inputs"][input] = v;
    for (auto& s : sets)
      if (s.first == id + "." + input) {
        s.second = v;
        return;
      }
    sets.emplace_back(id + "." + input, v);
  }
  std::string cls(const std::string& id) const { return prompt.at(id).at("class_type").get<std::string>(); }
};

// The checkpoint name of the loader whose CLIP reaches `clip_link` (through CLIP-passing nodes).
std::string checkpoint_name_of_clip(const RealRun& r, ojson clip_link) {
  for (;;) {
    const auto& node = r.prompt.at(clip_link.at(0).get<std::string>());
    if (node.at("class_type") == "CheckpointLoaderSimple") return node.at("inputs").at("ckpt_name").get<std::string>();
    clip_link = node.at("inputs").at("clip");
  }
}

std::string slug(const std::string& file) { return file.substr(0, file.find('.')); }

int64_t scaled(int64_t v, int64_t lo) { return std::max<int64_t>(lo, (v / 8 + 7) / 8 * 8); }

std::unique_ptr<RealRun> prepare(const std::string& file) {
  auto r = std::make_unique<RealRun>();
  r->file = file;
  r->ui = ends_with(file, ".ui.json");
  r->models = r->tmp.path / "models";
  r->input = r->tmp.path / "input";
  for (const char* d : {"checkpoints", "vae", "loras", "embeddings", "controlnet"}) fs::create_directories(r->models / d);
  fs::create_directories(r->input);
  r->prompt = load_workflow_file(real_dir() / file).prompt;

  const fs::path ckpt = fs::absolute(test::tiny_sd15_path());
  io::save_safetensors(r->models / "vae" / "tiny-vae.safetensors", test::tiny_vae_tensors());
  const auto lora = test::make_tiny_lora(4, /*text_encoder=*/true);

  std::vector<std::string> ids;
  for (auto& [id, _] : r->prompt.items()) ids.push_back(id);
  for (const auto& id : ids) {
    const std::string c = r->cls(id);
    auto& in = r->prompt[id]["inputs"];
    auto str = [&](const char* k) { return in.at(k).get<std::string>(); };
    if (c == "CheckpointLoaderSimple") {
      const std::string name = str("ckpt_name");
      const fs::path dst = r->models / "checkpoints" / name;
      const StandIn stand_in = stand_in_for(name);
      fs::path src = fs::absolute(test::golden_root() / stand_in.weights);
      if (stand_in.form == StandIn::GoldenSd15Ckpt) src = fs::absolute(test::golden_root() / "models" / "tiny-sd15.ckpt");
      if (stand_in.form == StandIn::Pickled) src = pickled_sd21_v(&r->cannot_run);
      if (src.empty()) {
        if (r->cannot_run.empty()) ADD_FAILURE() << "no stand-in file for " << name;
        return r;
      }
      fs::create_directories(dst.parent_path());
      if (!fs::exists(dst)) fs::create_symlink(src, dst);
    } else if (c == "VAELoader") {
      const std::string name = str("vae_name");
      if (ends_with(name, ".safetensors"))
        io::save_safetensors(r->models / "vae" / name, test::tiny_vae_tensors(), {}, true);
      else
        r->set(id, "vae_name", "tiny-vae.safetensors");
    } else if (c == "ControlNetLoader") {
      // the tiny golden ControlNet (made for the tiny UNet) under the workflow's name
      const fs::path dst = r->models / "controlnet" / str("control_net_name");
      fs::create_directories(dst.parent_path());
      if (!fs::exists(dst)) fs::create_symlink(fs::absolute(test::golden_root() / "control" / "tiny-controlnet.safetensors"), dst);
    } else if (c == "LoraLoader" || c == "LoraLoaderModelOnly") {
      const std::string name = str("lora_name");
      EXPECT_TRUE(ends_with(name, ".safetensors")) << name;
      io::save_safetensors(r->models / "loras" / name, lora, {}, true);
    } else if (c == "CLIPTextEncode" && in.at("text").is_string()) {
      // embedding:NAME -> the embedding of the word "cat" (one vector) for the encoder of this prompt
      std::smatch m;
      std::string text = str("text");
      for (std::regex re("embedding:([^\\s,]+)"); std::regex_search(text, m, re); text = m.suffix()) {
        std::string name = m[1];
        if (!ends_with(name, ".safetensors")) name += ".safetensors";
        const StandIn enc = stand_in_for(checkpoint_name_of_clip(*r, in.at("clip")));
        if (enc.token_key.empty()) {
          ADD_FAILURE() << "no embedding rule for " << enc.weights;
          continue;
        }
        io::save_safetensors(r->models / "embeddings" / name,
                             test::embedding_of_tokens({test::clip_token_id("cat</w>")}, enc.weights, enc.token_key),
                             {}, true);
      }
    } else if (c == "LoadImage") {
      test::write_png(r->input / str("image"), input_image(file.find("inpaint") != std::string::npos));
    } else if (c == "EmptyLatentImage") {
      r->set(id, "width", scaled(in.at("width").get<int64_t>(), 16));
      r->set(id, "height", scaled(in.at("height").get<int64_t>(), 16));
      r->set(id, "batch_size", 1);
    } else if (c == "LatentUpscale") {
      r->set(id, "width", scaled(in.at("width").get<int64_t>(), 64));
      r->set(id, "height", scaled(in.at("height").get<int64_t>(), 64));
    } else if (c == "ConditioningSetArea") {
      for (const char* k : {"width", "height"}) r->set(id, k, scaled(in.at(k).get<int64_t>(), 64));
      for (const char* k : {"x", "y"}) r->set(id, k, scaled(in.at(k).get<int64_t>(), 0));
    } else if (c == "KSampler" || c == "KSampler //Inspire") {
      r->set(id, "steps", 3);
    } else if (c == "KSamplerAdvanced") {
      // keep where the split between two samplers falls, relative to the total; 8 steps so that the
      // refiner's share starts at a noise level like the file's (step 20 of 25 -> 6 of 8, sigma ~0.2;
      // with 4 it would be the last step alone, sigma 0.03, and the refiner would barely act)
      const double old = double(in.at("steps").get<int64_t>()), steps = 8;
      r->set(id, "steps", 8);
      for (const char* k : {"start_at_step", "end_at_step"})
        r->set(id, k, int64_t(std::llround(double(in.at(k).get<int64_t>()) * steps / old)));
    } else if (c == "SaveImage") {
      r->set(id, "filename_prefix", "n" + id);
    } else if (c == "VAEEncodeForInpaint" && !in.contains("grow_mask_by")) {
      // The API file predates grow_mask_by (its UI twin gets the default 6 on conversion); ComfyUI
      // would refuse it with required_input_missing, so the input is given here.
      r->set(id, "grow_mask_by", 6);
    } else if (c == "SDTurboScheduler" && !in.contains("denoise")) {
      // Likewise comfyex-sdxl-turbo.api.json predates SDTurboScheduler's denoise: the default 1.0.
      r->set(id, "denoise", 1.0);
    }
  }
  if (slug(file) == "comfyex-model-merging-basic") {
    // The two merged checkpoints must differ: the .safetensors one becomes the tiny model with its
    // UNet weights scaled by a seeded random factor in [0.8, 1.2].
    for (const auto& id : ids) {
      if (r->cls(id) != "CheckpointLoaderSimple") continue;
      const std::string name = r->prompt[id]["inputs"]["ckpt_name"].get<std::string>();
      if (!ends_with(name, ".safetensors")) continue;
      auto st = io::SafeTensors::open(ckpt);
      std::map<std::string, at::Tensor> t;
      at::manual_seed(11);
      for (const auto& k : st->names()) {
        auto v = st->get(k).clone();
        if (k.rfind("model.diffusion_model.", 0) == 0 && v.is_floating_point()) v = v * (0.8 + 0.4 * at::rand_like(v));
        t[k] = v;
      }
      fs::remove(r->models / "checkpoints" / name);
      io::save_safetensors(r->models / "checkpoints" / name, t);
    }
  }
  return r;
}

struct Saved {
  at::Tensor rgb;  // [H, W, 3]
  io::PngTextChunks text;
};

std::vector<std::string> ids_of_class(const ojson& prompt, const char* cls) {
  std::vector<std::string> ids;
  for (auto& [id, n] : prompt.items())
    if (n.at("class_type") == cls) ids.push_back(id);
  return ids;
}

// Runs the prepared workflow (or `workflow`, an edited copy; plus `extra` overrides) into
// tmp/<out_name>/output (previews: tmp/<out_name>/temp); returns the pictures by SaveImage /
// PreviewImage node id.
std::map<std::string, Saved> run(RealRun& r, const std::string& out_name,
                                 const std::vector<std::pair<std::string, ojson>>& extra = {},
                                 const fs::path& workflow = {}) {
  const fs::path out = r.tmp.path / out_name / "output", temp = r.tmp.path / out_name / "temp";
  std::vector<std::string> args = {"run", (workflow.empty() ? real_dir() / r.file : workflow).string(),
                                   "--models-dir", r.models.string(), "--input-dir", r.input.string(),
                                   "--output-dir", out.string(), "--quiet"};
  auto add = [&](const std::pair<std::string, ojson>& s) {
    args.push_back("--set");
    args.push_back(s.first + "=" + (s.second.is_string() ? s.second.get<std::string>() : s.second.dump()));
  };
  for (const auto& s : r.sets) add(s);
  for (const auto& s : extra) add(s);
  auto res = test::run_cli(args);
  EXPECT_EQ(res.exit_code, 0) << r.file << "\n" << res.out << res.err;
  std::map<std::string, Saved> pictures;
  auto read = [&](const fs::path& dir, auto&& id_of) {
    if (!fs::exists(dir)) return;
    for (auto& e : fs::recursive_directory_iterator(dir)) {
      if (e.path().extension() != ".png") continue;
      const std::string id = id_of(e.path().stem().string());
      EXPECT_FALSE(pictures.count(id)) << "two images from node " << id;
      auto bytes = io::read_file(e.path());
      pictures[id] = Saved{io::decode_png(bytes).rgb, io::read_png_text(bytes)};
    }
  };
  read(out, [](const std::string& stem) { return stem.substr(1, stem.find('_') - 1); });  // n<ID>_00001_
  // ComfyUI_temp_<random>_00001_: nothing names the node, so a file may have one PreviewImage
  const auto previews = ids_of_class(r.prompt, "PreviewImage");
  EXPECT_LE(previews.size(), 1u) << r.file;
  if (!previews.empty()) read(temp, [&](const std::string&) { return previews[0]; });
  return pictures;
}

// The latent size [h, w] (latent pixels) reaching `link`, read off the prompt with the node semantics.
std::pair<int64_t, int64_t> latent_hw(const RealRun& r, const ojson& link) {
  const std::string id = link.at(0).get<std::string>();
  const auto& in = r.prompt.at(id).at("inputs");
  const std::string c = r.cls(id);
  if (c == "EmptyLatentImage") return {in.at("height").get<int64_t>() / 8, in.at("width").get<int64_t>() / 8};
  if (c == "LatentUpscale") return {in.at("height").get<int64_t>() / 8, in.at("width").get<int64_t>() / 8};
  if (c == "KSampler" || c == "KSamplerAdvanced" || c == "KSampler //Inspire" || c == "SamplerCustom")
    return latent_hw(r, in.at("latent_image"));
  if (c == "VAEEncode" || c == "VAEEncodeForInpaint") {
    // LoadImage -> image cropped to multiples of 8, encoded by the factor-2 VAE
    return {kImageH / 8 * 8 / kTinyVaeFactor, kImageW / 8 * 8 / kTinyVaeFactor};
  }
  ADD_FAILURE() << "no size rule for " << c;
  return {0, 0};
}
std::pair<int64_t, int64_t> saved_image_hw(const RealRun& r, const std::string& save_id) {
  const auto& decode = r.prompt.at(save_id).at("inputs").at("images");
  const std::string did = decode.at(0).get<std::string>();
  EXPECT_EQ(r.cls(did), "VAEDecode");
  auto [h, w] = latent_hw(r, r.prompt.at(did).at("inputs").at("samples"));
  return {h * kTinyVaeFactor, w * kTinyVaeFactor};
}

double mean_abs_diff(const at::Tensor& a, const at::Tensor& b) { return (a - b).abs().mean().item<double>(); }

// What every file must do: exit 0, one PNG per SaveImage / PreviewImage with the size the prompt
// implies, carrying the executed prompt (and the workflow for UI files), not a constant picture.
std::map<std::string, Saved> run_and_check(RealRun& r, const std::string& out_name = "out") {
  auto saved = run(r, out_name);
  std::set<std::string> save_nodes;
  for (const char* cls : {"SaveImage", "PreviewImage"})
    for (const auto& id : ids_of_class(r.prompt, cls)) save_nodes.insert(id);
  EXPECT_FALSE(save_nodes.empty());
  EXPECT_EQ(saved.size(), save_nodes.size()) << r.file;
  for (const auto& id : save_nodes) {
    auto it = saved.find(id);
    if (it == saved.end()) {
      ADD_FAILURE() << r.file << ": no image from node " << id;
      continue;
    }
    const auto& img = it->second.rgb;
    auto [h, w] = saved_image_hw(r, id);
    EXPECT_EQ(img.sizes(), (std::vector<int64_t>{h, w, 3})) << r.file << " node " << id;
    EXPECT_GT(img.std().item<double>(), 0.01) << r.file << " node " << id << ": constant image";
    const auto& text = it->second.text;
    if (text.empty()) {
      ADD_FAILURE() << r.file << " node " << id << ": no text chunks";
      continue;
    }
    EXPECT_EQ(text[0].first, "prompt");
    auto prompt = nlohmann::json::parse(text[0].second);
    // the prompt that ran: every node, with our overrides
    EXPECT_EQ(prompt.size(), r.prompt.size());
    for (const auto& [key, v] : r.sets) {
      const auto dot = key.find('.');
      EXPECT_EQ(prompt[key.substr(0, dot)]["inputs"][key.substr(dot + 1)], nlohmann::json(v)) << key;
    }
    bool has_workflow = false;
    for (const auto& [k, t] : text)
      if (k == "workflow") has_workflow = nlohmann::json::parse(t).contains("nodes");
    EXPECT_EQ(has_workflow, r.ui) << r.file;
  }
  return saved;
}


const std::vector<std::string>& runnable_files() {
  static const std::vector<std::string> v = {
      "comfy-script-basic.api.json",
      "comfyex-area-composition-subject.api.json",
      "comfyex-area-composition-subject.ui.json",
      "comfyex-controlnet.api.json",
      "comfyex-controlnet.ui.json",
      "comfyex-embedding.api.json",
      "comfyex-embedding.ui.json",
      "comfyex-hiresfix-latent.api.json",
      "comfyex-hiresfix-latent.ui.json",
      "comfyex-img2img.api.json",
      "comfyex-img2img.ui.json",
      "comfyex-inpaint.api.json",
      "comfyex-inpaint.ui.json",
      "comfyex-lora.api.json",
      "comfyex-model-merging-basic.api.json",
      "comfyex-model-merging-basic.ui.json",
      "comfyex-lora.ui.json",
      "linc-default-txt2img.ui.json",
      "linc-multi-lora.ui.json",
      "comfy-tests-sdxl-default.api.json",
      "comfyex-sdxl-base-refiner.api.json",
      "comfyex-sdxl-base-refiner.ui.json",
      "comfyex-sdxl-turbo.api.json",
      "comfyex-sdxl-turbo.ui.json",
  };
  return v;
}

// Pictures of the files run so far in this process, by file and SaveImage id.
std::map<std::string, at::Tensor>& pictures_of(const std::string& file) {
  static std::map<std::string, std::map<std::string, at::Tensor>> cache;
  return cache[file];
}

std::string first_of_class(const RealRun& r, const std::string& cls) {
  for (auto& [id, n] : r.prompt.items())
    if (n.at("class_type") == cls) return id;
  ADD_FAILURE() << "no " << cls << " in " << r.file;
  return "";
}


// Extra runs of one file with a few inputs changed (or an edited copy of the API file), compared with
// the plain run.
struct Variant {
  std::string name;
  std::vector<std::pair<std::string, ojson>> sets;
  fs::path workflow = {};  // "" = the file itself
};

// A copy of the (API) prompt with ModelSamplingDiscrete(sampling) between each checkpoint loader's
// MODEL and every node using it, written to tmp/<name>.api.json: ComfyUI's own way to read the same
// weights with another prediction type.
fs::path with_model_sampling(const RealRun& r, const std::string& name, const std::string& sampling) {
  ojson p = r.prompt;
  for (const auto& loader : ids_of_class(r.prompt, "CheckpointLoaderSimple")) {
    const std::string ms = "ms" + loader;
    for (auto& [id, n] : p.items())
      for (auto& [k, v] : n["inputs"].items())
        if (v == ojson::array({loader, 0})) v = ojson::array({ms, 0});
    p[ms] = {{"class_type", "ModelSamplingDiscrete"},
             {"inputs", {{"model", ojson::array({loader, 0})}, {"sampling", sampling}, {"zsnr", false}}}};
  }
  const fs::path path = r.tmp.path / (name + ".api.json");
  std::ofstream(path) << p.dump(1);
  return path;
}

// The two KSamplerAdvanced of an SDXL base + refiner file (base: fed by EmptyLatentImage, refiner: fed
// by the base) and the VAEDecode of the refiner's latent.
struct RefinerChain {
  std::string base, refiner, decode;
};
RefinerChain refiner_chain(const RealRun& r) {
  RefinerChain c;
  for (const auto& id : ids_of_class(r.prompt, "KSamplerAdvanced")) {
    const std::string from = r.prompt[id]["inputs"]["latent_image"][0].get<std::string>();
    (r.cls(from) == "EmptyLatentImage" ? c.base : c.refiner) = id;
  }
  for (const auto& id : ids_of_class(r.prompt, "VAEDecode"))
    if (r.prompt[id]["inputs"]["samples"][0] == c.refiner) c.decode = id;
  EXPECT_FALSE(c.base.empty() || c.refiner.empty() || c.decode.empty()) << r.file;
  EXPECT_EQ(r.prompt[c.refiner]["inputs"]["latent_image"][0], c.base) << r.file;
  return c;
}
using Pictures = std::map<std::string, Saved>;

// Which variant runs a file gets (writing any extra input files they read).
std::vector<Variant> variants_for(RealRun& r) {
  const std::string s = slug(r.file);
  if (s == "comfy-script-basic" || s == "linc-default-txt2img")
    return {{"seed2", {{first_of_class(r, "KSampler") + ".seed", 12345}}}};
  if (s == "comfyex-lora" || s == "linc-multi-lora") {
    Variant zero{"lora0", {}};
    for (auto& [id, n] : r.prompt.items())
      if (n.at("class_type") == "LoraLoader") {
        zero.sets.emplace_back(id + ".strength_model", 0.0);
        zero.sets.emplace_back(id + ".strength_clip", 0.0);
      }
    return {zero};
  }
  // SD2.1-768-v: the same weights read as v-prediction and as eps (ModelSamplingDiscrete inserted)
  auto v_and_eps = [&r](std::vector<Variant> v) {
    v.push_back({"v", {}, with_model_sampling(r, "v", "v_prediction")});
    v.push_back({"eps", {}, with_model_sampling(r, "eps", "eps")});
    return v;
  };
  if (s == "comfyex-embedding") {
    // the prompt with the embedding replaced by the word "cat" / "dog"
    const std::string id = first_of_class(r, "CLIPTextEncode"), emb = "embedding:SDA768.pt";
    std::string text = r.prompt[id]["inputs"]["text"].get<std::string>();
    const auto pos = text.find(emb);
    if (pos == std::string::npos) {
      ADD_FAILURE() << "no " << emb << " in " << text;
      return {};
    }
    std::string cat = text, dog = text;
    return v_and_eps({{"cat", {{id + ".text", cat.replace(pos, emb.size(), "cat")}}},
                      {"dog", {{id + ".text", dog.replace(pos, emb.size(), "dog")}}}});
  }
  if (s == "comfyex-hiresfix-latent") {
    for (auto& [id, n] : r.prompt.items())
      if (n.at("class_type") == "KSampler" && r.cls(n["inputs"]["latent_image"][0].get<std::string>()) == "LatentUpscale") {
        return v_and_eps({{"pass2off", {{id + ".denoise", 0.0}}}});
      }
    ADD_FAILURE() << "no second pass";
    return {};
  }
  if (s == "comfyex-sdxl-base-refiner" || s == "comfy-tests-sdxl-default") {
    // "base": the base latent decoded by the same VAE, no refiner; "empty": the refiner's step range
    // made empty (start_at_step = steps). comfy-tests-sdxl-default's own refiner range (32.. of 20
    // steps) is empty already: there "refine" lets the refiner start at step 2.
    const auto c = refiner_chain(r);
    const Variant base{"base", {{c.decode + ".samples", ojson::array({c.base, 0})}}};
    if (s == "comfy-tests-sdxl-default") return {base, {"refine", {{c.refiner + ".start_at_step", 2}}}};
    return {base, {"empty", {{c.refiner + ".start_at_step", r.prompt[c.refiner]["inputs"]["steps"]}}}};
  }
  if (s == "comfyex-sdxl-turbo")  // SDTurboScheduler with 2 steps instead of 1
    return {{"steps2", {{first_of_class(r, "SDTurboScheduler") + ".steps", 2}}}};
  if (s == "comfyex-model-merging-basic") {
    // ratio 1 / 0 against each model alone (the sampler fed straight from its loader)
    const std::string merge = first_of_class(r, "ModelMergeSimple"), ks = first_of_class(r, "KSampler");
    const ojson m1 = r.prompt[merge]["inputs"]["model1"], m2 = r.prompt[merge]["inputs"]["model2"];
    return {{"r1", {{merge + ".ratio", 1.0}}}, {"r0", {{merge + ".ratio", 0.0}}},
            {"m1", {{ks + ".model", m1}}}, {"m2", {{ks + ".model", m2}}}};
  }
  if (s == "comfyex-controlnet") {
    // strength 0, and the sampler's positive taken straight from the prompt (no ControlNet at all)
    const std::string apply = first_of_class(r, "ControlNetApply"), ks = first_of_class(r, "KSampler");
    const ojson text_link = r.prompt[apply]["inputs"]["conditioning"];
    return {{"s0", {{apply + ".strength", 0.0}}}, {"nocn", {{ks + ".positive", text_link}}}};
  }
  if (s == "comfyex-area-composition-subject")
    return {{"area0", {{first_of_class(r, "ConditioningSetArea") + ".strength", 0.0}}}};
  if (s == "comfyex-img2img") {
    test::write_png(r.input / "flipped.png", input_image(false).flip({1}));
    return {{"flipped", {{first_of_class(r, "LoadImage") + ".image", "flipped.png"}}}};
  }
  if (s == "comfyex-inpaint")  // another seed, and the sampler handing the latent back
    return {{"seed2", {{first_of_class(r, "KSampler") + ".seed", 12345}}},
            {"denoise0", {{first_of_class(r, "KSampler") + ".denoise", 0.0}}}};
  return {};
}

// tiny-sd21-v is v-prediction by ComfyUI's heuristic (std of output_blocks.11.1...norm1.bias 0.206 >
// 0.09): ModelSamplingDiscrete(v_prediction) on the loaded model changes no picture, bit for bit, while
// ModelSamplingDiscrete(eps) -- the same weights read as eps -- changes the first.
template <class Pic>
void check_v_prediction(const RealRun& r, const Pictures& saved, Pic& pic) {
  for (const auto& [id, p] : saved)
    EXPECT_TRUE(at::equal(pic("v", id), p.rgb)) << r.file << " node " << id << ": the loader did not read v-prediction, "
                                                << mean_abs_diff(pic("v", id), p.rgb);
  const auto& [id, p] = *saved.begin();
  EXPECT_GT(mean_abs_diff(pic("eps", id), p.rgb), 1e-3) << "eps and v readings of the same weights agree";
}

// One independent property of each file's pictures, from the plain run and its variants.
void check_content(RealRun& r, const Pictures& saved, std::map<std::string, Pictures>& v) {
  const std::string s = slug(r.file);
  const std::string save = saved.begin()->first;
  const auto& base = saved.begin()->second.rgb;
  auto pic = [&](const std::string& variant, const std::string& id) -> at::Tensor {
    auto it = v[variant].find(id);
    if (it == v[variant].end()) {
      ADD_FAILURE() << r.file << ": variant " << variant << " saved no picture from node " << id;
      return at::zeros_like(base);
    }
    return it->second.rgb;
  };
  if (s == "comfy-script-basic" || s == "linc-default-txt2img") {
    EXPECT_GT(mean_abs_diff(pic("seed2", save), base), 1e-3) << "another seed, the same picture";
  } else if (s == "comfyex-lora" || s == "linc-multi-lora") {
    EXPECT_GT(mean_abs_diff(pic("lora0", save), base), 1e-3) << "the LoRA changed nothing";
  } else if (s == "comfyex-embedding") {
    // The embedding holds the OpenCLIP-H token embedding of "cat": the picture is the one for the word
    // itself, and another word gives another picture (so the comparison can fail).
    EXPECT_TRUE(at::equal(pic("cat", save), base)) << "embedding != its word: " << mean_abs_diff(pic("cat", save), base);
    EXPECT_GT(mean_abs_diff(pic("dog", save), base), 1e-3);
    check_v_prediction(r, saved, pic);
  } else if (s == "comfyex-hiresfix-latent") {
    // Two passes (sizes checked before: the second is 1.5x the first). With the second sampler at
    // denoise 0 the first picture stays bit for bit and the second one changes.
    ASSERT_EQ(saved.size(), 2u);
    std::string first = saved.begin()->first, second = std::next(saved.begin())->first;
    if (saved.at(first).rgb.size(0) > saved.at(second).rgb.size(0)) std::swap(first, second);
    EXPECT_TRUE(at::equal(pic("pass2off", first), saved.at(first).rgb));
    EXPECT_GT(mean_abs_diff(pic("pass2off", second), saved.at(second).rgb), 1e-3);
    check_v_prediction(r, saved, pic);
  } else if (s == "comfyex-sdxl-base-refiner") {
    // The refiner with an empty step range hands the base latent back (ComfyUI's KSamplerAdvanced),
    // bit for bit; the file's own refiner pass changes it.
    EXPECT_TRUE(at::equal(pic("empty", save), pic("base", save))) << mean_abs_diff(pic("empty", save), pic("base", save));
    EXPECT_GT(mean_abs_diff(base, pic("base", save)), 1e-3) << "the refiner pass changed nothing";
  } else if (s == "comfy-tests-sdxl-default") {
    // As shipped the refiner's range (step 32 of 20) is empty: the picture is the base latent's, bit for
    // bit; started at step 2 the refiner changes it.
    EXPECT_TRUE(at::equal(base, pic("base", save))) << mean_abs_diff(base, pic("base", save));
    EXPECT_GT(mean_abs_diff(pic("refine", save), base), 1e-3) << "the refiner pass changed nothing";
  } else if (s == "comfyex-sdxl-turbo") {
    // SDTurboScheduler's 1 step (sigmas 14.6146, 0) and 2 steps (t 999, 899) give other pictures
    EXPECT_GT(mean_abs_diff(pic("steps2", save), base), 1e-3) << "SDTurboScheduler's steps changed nothing";
  } else if (s == "comfyex-model-merging-basic") {
    // ratio is model1's share: 1 gives model1, 0 model2 (bit for bit), 0.5 something between
    EXPECT_TRUE(at::equal(pic("r1", save), pic("m1", save))) << mean_abs_diff(pic("r1", save), pic("m1", save));
    EXPECT_TRUE(at::equal(pic("r0", save), pic("m2", save))) << mean_abs_diff(pic("r0", save), pic("m2", save));
    const double d1 = mean_abs_diff(base, pic("m1", save)), d2 = mean_abs_diff(base, pic("m2", save)),
                 d12 = mean_abs_diff(pic("m1", save), pic("m2", save));
    EXPECT_GT(d12, 1e-3) << "the two models give the same picture";
    EXPECT_GT(d1, 1e-3);
    EXPECT_GT(d2, 1e-3);
  } else if (s == "comfyex-controlnet") {
    // ControlNet strength 0 is no ControlNet (bit for bit); the real strength changes the picture.
    EXPECT_TRUE(at::equal(pic("s0", save), pic("nocn", save))) << mean_abs_diff(pic("s0", save), pic("nocn", save));
    EXPECT_GT(mean_abs_diff(base, pic("nocn", save)), 1e-3) << "the ControlNet changed nothing";
  } else if (s == "comfyex-area-composition-subject") {
    EXPECT_GT(mean_abs_diff(pic("area0", save), base), 1e-3) << "the area prompt took no part";
  } else if (s == "comfyex-img2img") {
    EXPECT_GT(mean_abs_diff(pic("flipped", save), base), 1e-3) << "the picture ignores the input image";
  } else if (s == "comfyex-inpaint") {
    // Only the masked square is sampled: another seed changes it, and far from the (grown) mask the
    // picture barely moves (not at all in the latent; the decoder mixes a little across).
    auto mask = inpaint_mask();  // 48x64, the output's size too
    auto near = at::max_pool2d(mask.view({1, 1, kImageH, kImageW}), {17, 17}, {1, 1}, {8, 8}).view({kImageH, kImageW});
    auto far = (1 - near).to(at::kBool).unsqueeze(-1).expand({kImageH, kImageW, 3});
    auto inside = mask.to(at::kBool).unsqueeze(-1).expand({kImageH, kImageW, 3});
    auto d = (pic("seed2", save) - base).abs();
    const double d_in = d.masked_select(inside).mean().item<double>();
    const double d_far = d.masked_select(far).mean().item<double>();
    EXPECT_GT(d_in, 1e-2);
    EXPECT_LT(d_far, 0.25 * d_in) << "inside " << d_in << ", far outside " << d_far;
    // With denoise 0 the sampler hands the latent back: the picture is the VAE round trip of the input
    // with the masked square grey (what VAEEncodeForInpaint encodes), computed here with the VAE alone.
    // (With sampling, the far region is not compared with the round trip: the tiny random VAE's
    // decoder attends globally, and large sampled latents inside the mask shift every pixel.)
    const std::string load = first_of_class(r, "LoadImage");
    auto px = io::decode_png(io::read_file(r.input / r.prompt[load]["inputs"]["image"].get<std::string>())).rgb;
    RuntimeConfig cfg;
    // the VAE of the inpainting checkpoint itself
    const std::string ckpt = r.prompt[first_of_class(r, "CheckpointLoaderSimple")]["inputs"]["ckpt_name"];
    auto vae = load_vae(test::golden_file(stand_in_for(ckpt).weights), "first_stage_model.", cfg);
    auto round_trip = [&](const at::Tensor& p) { return vae->net->decode(vae->net->encode(p.unsqueeze(0)))[0]; };
    auto grey = round_trip(at::where(inside, at::full_like(px, 0.5), px));
    auto plain = round_trip(px);
    const auto d0 = pic("denoise0", save);
    const double to_grey = mean_abs_diff(d0, grey), to_plain = mean_abs_diff(d0, plain);
    EXPECT_LT(to_grey, 1.0 / 255) << "not the round trip of the greyed input";
    EXPECT_GT(to_plain, 4 * to_grey) << "the grey square made no difference";
  }
}

}  // namespace

class RealWorkflowRun : public ::testing::TestWithParam<std::string> {};

TEST_P(RealWorkflowRun, RunsOnTheTinyCheckpoint) {
  const std::string file = GetParam();
  ASSERT_TRUE(fs::exists(real_dir() / file)) << file;
  ASSERT_TRUE(fs::exists(test::tiny_sd15_path()));
  auto r = prepare(file);
  if (HasFatalFailure()) return;
  if (!r->cannot_run.empty()) GTEST_SKIP() << r->cannot_run;
  const std::string s = slug(file);
  const std::string twin = s + ".api.json";
  const bool has_twin = r->ui && std::count(runnable_files().begin(), runnable_files().end(), twin);

  // The variants run as separate processes next to the plain run (process start-up dominates).
  std::map<std::string, std::future<Pictures>> pending;
  if (!has_twin)
    for (auto& v : variants_for(*r))
      pending[v.name] = std::async(std::launch::async, [&r, v] { return run(*r, v.name, v.sets, v.workflow); });
  auto saved = run_and_check(*r);
  std::map<std::string, Pictures> variants;
  for (auto& [name, f] : pending) variants[name] = f.get();
  if (HasFailure() || saved.empty()) return;
  auto& pictures = pictures_of(file);
  for (auto& [id, img] : saved) pictures[id] = img.rgb;

  if (has_twin) {
    // A UI file with an API twin (the same PNG's two chunks) gives exactly the twin's pictures; the
    // content properties are checked on the API form.
    auto& expected = pictures_of(twin);
    if (expected.empty()) {  // the twin has not run in this process (e.g. a filter): run it
      auto t = prepare(twin);
      ASSERT_TRUE(t->cannot_run.empty()) << t->cannot_run;
      for (auto& [id, img] : run(*t, "out")) expected[id] = img.rgb;
    }
    EXPECT_EQ(expected.size(), saved.size());
    for (auto& [id, img] : saved) {
      ASSERT_TRUE(expected.count(id)) << id;
      EXPECT_TRUE(at::equal(expected[id], img.rgb)) << file << " node " << id << " differs from " << twin;
    }
    return;
  }
  check_content(*r, saved, variants);
}

std::string file_test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string s;
  for (char c : info.param) s += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(Files, RealWorkflowRun, ::testing::ValuesIn(runnable_files()), file_test_name);

// The list above covers every file SOURCES.md marks runnable (so a new runnable file needs a case).
TEST(RealWorkflowRun, CoversEveryRunnableFileOfSourcesMd) {
  std::ifstream f(real_dir() / "SOURCES.md");
  std::string line;
  std::set<std::string> yes;
  std::regex row("^\\| `([^`]+)` \\| yes \\|");
  std::smatch m;
  while (std::getline(f, line))
    if (std::regex_search(line, m, row)) yes.insert(m[1]);
  ASSERT_GE(yes.size(), 13u);
  // Files SOURCES.md lists as missing nodes that are implemented since: the inpaint pair
  // (VAEEncodeForInpaint), the ControlNet pair (ControlNetLoader / ControlNetApply), the merging
  // pair (ModelMergeSimple) and the SDXL-Turbo pair (SDTurboScheduler).
  std::set<std::string> listed(runnable_files().begin(), runnable_files().end());
  for (const auto& y : yes) EXPECT_TRUE(listed.count(y)) << y << " is runnable but has no run case";
  for (const auto& l : listed)
    if (!yes.count(l))
      EXPECT_TRUE(l.find("inpaint") != std::string::npos || l.find("controlnet") != std::string::npos ||
                  l.find("model-merging") != std::string::npos || l.find("sdxl-turbo") != std::string::npos)
          << l << " is not marked runnable";
}

// A checkpoint of no family we know (the nets golden set's 2-level SDXL-style UNet: adm, but neither
// SDXL's 3 levels nor the refiner's 4) is refused with a message saying what was found and the file.
TEST(RealWorkflowRun, UnknownFamilyCheckpointIsRefusedWithAClearMessage) {
  auto r = prepare("comfy-tests-sdxl-default.api.json");
  const fs::path sdxl = fs::absolute(test::golden_root() / "nets" / "tiny-sdxl-unet.safetensors");
  ASSERT_TRUE(fs::exists(sdxl));
  fs::remove(r->models / "checkpoints" / "sd_xl_base_1.0.safetensors");
  fs::create_symlink(sdxl, r->models / "checkpoints" / "sd_xl_base_1.0.safetensors");
  std::vector<std::string> args = {"run", (real_dir() / r->file).string(), "--models-dir", r->models.string(),
                                   "--output-dir", (r->tmp.path / "out").string(), "--quiet"};
  for (const auto& [k, v] : r->sets) {
    args.push_back("--set");
    args.push_back(k + "=" + (v.is_string() ? v.get<std::string>() : v.dump()));
  }
  auto res = test::run_cli(args);
  EXPECT_NE(res.exit_code, 0);
  EXPECT_NE(res.err.find("adm 48"), std::string::npos) << res.err;
  EXPECT_NE(res.err.find("not a supported model family"), std::string::npos) << res.err;
  EXPECT_NE(res.err.find("sd_xl_base_1.0.safetensors"), std::string::npos) << res.err;
}
