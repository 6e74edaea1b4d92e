// comfyex-sdxl-edit-groupnode (ComfyUI_examples, edit_models/sdxl_edit_model.png), API and UI form, run
// end to end through the CLI (issue 11, item 5). The workflow loads cosxl_edit.safetensors: an SDXL
// instruct-pix2pix UNet (8 input channels) on the V_PREDICTION_EDM schedule (keys edm_vpred.*). Its
// stand-in here is the tiny golden SDXL checkpoint with input_blocks.0.0.weight widened to 8 channels
// (the first 4 unchanged, 4 more seeded) and the two edm_vpred scalars added.
//
// Overrides (--set): BasicScheduler 3 steps instead of 20; SaveImage prefix n<id>; DualCFGGuider's
// style "regular" (the API file predates that input; its UI twin converts to the same default). The
// LoadImage input is a 48x64 PNG (the tiny VAE halves it: a 24x32 latent).
//
// Properties: the picture has the input's size and is not constant; it depends on the input image
// (the image reaches the model only through InstructPixToPixConditioning's concat latent: the sampled
// latent starts as zeros of its size); the UI file gives the API file's picture bit for bit.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <cmath>

#include "comfy/graph/workflow.hpp"
#include "comfy/io/files.hpp"
#include "comfy/io/png.hpp"
#include "comfy/io/safetensors.hpp"
#include "test_util.hpp"
#include "tiny_models.hpp"

namespace fs = std::filesystem;
using namespace comfy;
using ojson = nlohmann::ordered_json;

namespace {

constexpr int64_t kImageH = 48, kImageW = 64;
constexpr double kSigmaMax = 80.0, kSigmaMin = 0.03;

fs::path real_dir() { return test::shared_dir() / "workflows" / "real"; }

// The tiny SDXL checkpoint as an SDXL edit model (see the file comment).
void write_tiny_cosxl_edit(const fs::path& dst) {
  auto st = io::SafeTensors::open(test::golden_root() / "models" / "tiny-sdxl.safetensors");
  std::map<std::string, at::Tensor> t;
  for (const auto& k : st->names()) t[k] = st->get(k);
  const std::string in0 = "model.diffusion_model.input_blocks.0.0.weight";
  const at::Tensor w = t.at(in0);  // [C, 4, 3, 3]
  ASSERT_EQ(w.size(1), 4);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1234);
  // the same scale as the golden weights: n / sqrt(fan_in), fan_in of the widened conv = 8 * 3 * 3
  auto extra = at::normal(0.0, 1.0 / std::sqrt(72.0), {w.size(0), 4, w.size(2), w.size(3)}, gen);
  t[in0] = at::cat({w, extra.to(w.scalar_type())}, 1).contiguous();
  t["edm_vpred.sigma_max"] = at::scalar_tensor(kSigmaMax, at::kFloat);
  t["edm_vpred.sigma_min"] = at::scalar_tensor(kSigmaMin, at::kFloat);
  io::save_safetensors(dst, t);
}

// A colour ramp with a dark disc; `flipped` mirrors it left to right.
at::Tensor input_image(bool flipped) {
  auto y = at::arange(kImageH, at::kFloat).div(kImageH - 1).view({kImageH, 1}).expand({kImageH, kImageW});
  auto x = at::arange(kImageW, at::kFloat).div(kImageW - 1).view({1, kImageW}).expand({kImageH, kImageW});
  auto disc = ((x - 0.3).pow(2) + (y - 0.5).pow(2)).lt(0.04).to(at::kFloat);
  auto img = at::stack({x * (1 - disc), y * (1 - disc), at::full_like(x, 0.6) * (1 - disc)}, -1);
  return flipped ? img.flip({1}) : img;
}

struct EditRun {
  std::string file;
  test::TempDir tmp;
  fs::path models, input;
  ojson prompt;  // converted
  std::vector<std::string> sets;

  explicit EditRun(std::string f) : file(std::move(f)) {
    models = tmp.path / "models";
    input = tmp.path / "input";
    fs::create_directories(models / "checkpoints");
    fs::create_directories(input);
    prompt = load_workflow_file(real_dir() / file).prompt;
    write_tiny_cosxl_edit(models / "checkpoints" / "cosxl_edit.safetensors");
    for (auto& [id, n] : prompt.items()) {
      const std::string c = n.at("class_type").get<std::string>();
      if (c == "CheckpointLoaderSimple") EXPECT_EQ(n["inputs"]["ckpt_name"], "cosxl_edit.safetensors");
      if (c == "LoadImage") test::write_png(input / n["inputs"]["image"].get<std::string>(), input_image(false));
      if (c == "BasicScheduler") sets.push_back(id + ".steps=3");
      if (c == "SaveImage") sets.push_back(id + ".filename_prefix=n" + id);
      if (c == "DualCFGGuider") sets.push_back(id + ".style=regular");
    }
    test::write_png(input / "flipped.png", input_image(true));
  }
  std::string first_of(const std::string& cls) const {
    for (auto& [id, n] : prompt.items())
      if (n.at("class_type") == cls) return id;
    ADD_FAILURE() << "no " << cls << " in " << file;
    return "";
  }
  // Runs the file (plus `extra` --set values) into tmp/<out>; the pictures by SaveImage id.
  std::map<std::string, at::Tensor> run(const std::string& out, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"run", (real_dir() / file).string(), "--models-dir", models.string(),
                                     "--input-dir", input.string(), "--output-dir", (tmp.path / out).string(),
                                     "--quiet"};
    for (const auto& v : {sets, extra})
      for (const auto& s : v) args.insert(args.end(), {"--set", s});
    auto res = test::run_cli(args);
    EXPECT_EQ(res.exit_code, 0) << file << "\n" << res.out << res.err;
    std::map<std::string, at::Tensor> pics;
    if (!fs::exists(tmp.path / out)) return pics;
    for (auto& e : fs::recursive_directory_iterator(tmp.path / out)) {
      if (e.path().extension() != ".png") continue;
      const std::string stem = e.path().stem().string();  // n<ID>_00001_
      pics[stem.substr(1, stem.find('_') - 1)] = io::decode_png(io::read_file(e.path())).rgb;
    }
    return pics;
  }
};

double mean_abs_diff(const at::Tensor& a, const at::Tensor& b) { return (a - b).abs().mean().item<double>(); }

}  // namespace

TEST(RealEditWorkflow, TheEditFollowsTheInputImageAndTheUiFileGivesTheApiPicture) {
  EditRun api("comfyex-sdxl-edit-groupnode.api.json");
  if (HasFatalFailure()) return;
  const std::string save = api.first_of("SaveImage"), load = api.first_of("LoadImage");
  auto base = api.run("out");
  auto flipped = api.run("flipped", {load + ".image=flipped.png"});
  ASSERT_EQ(base.size(), 1u);
  ASSERT_TRUE(base.count(save)) << "no picture from SaveImage " << save;
  const at::Tensor pic = base.at(save);
  EXPECT_EQ(pic.sizes(), (std::vector<int64_t>{kImageH, kImageW, 3}));
  EXPECT_GT(pic.std().item<double>(), 0.01) << "constant image";
  ASSERT_TRUE(flipped.count(save));
  EXPECT_GT(mean_abs_diff(flipped.at(save), pic), 1e-3) << "the edit ignores the input image";

  EditRun ui("comfyex-sdxl-edit-groupnode.ui.json");
  if (HasFatalFailure()) return;
  auto twin = ui.run("out");
  ASSERT_TRUE(twin.count(save)) << "the UI file saved no picture from node " << save;
  EXPECT_TRUE(at::equal(twin.at(save), pic)) << "UI != API: " << mean_abs_diff(twin.at(save), pic);
}

// The same checkpoint without its edm_vpred keys is a diffusers-style edit model (EPS, image latent
// taken raw): it loads and runs too, and gives another picture.
TEST(RealEditWorkflow, WithoutTheEdmKeysTheModelIsEpsAndGivesAnotherPicture) {
  EditRun api("comfyex-sdxl-edit-groupnode.api.json");
  if (HasFatalFailure()) return;
  const std::string save = api.first_of("SaveImage");
  auto edm = api.run("edm");
  const fs::path ck = api.models / "checkpoints" / "cosxl_edit.safetensors";
  auto st = io::SafeTensors::open(ck);
  std::map<std::string, at::Tensor> t;
  for (const auto& k : st->names())
    if (k.rfind("edm_vpred.", 0) != 0) t[k] = st->get(k);
  st.reset();
  fs::remove(ck);
  io::save_safetensors(api.models / "checkpoints" / "diffusers_edit.safetensors", t);
  auto eps = api.run("eps", {api.first_of("CheckpointLoaderSimple") + ".ckpt_name=diffusers_edit.safetensors"});
  ASSERT_TRUE(edm.count(save) && eps.count(save));
  EXPECT_GT(eps.at(save).std().item<double>(), 0.01);
  EXPECT_GT(mean_abs_diff(eps.at(save), edm.at(save)), 1e-3) << "the EDM keys changed nothing";
}
