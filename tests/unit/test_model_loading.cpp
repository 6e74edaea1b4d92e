// Model folders, extra_model_paths.yaml, CheckpointLoaderSimple / VAELoader / LoRA / VAE nodes on the tiny
// golden checkpoint.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "comfy/core/error.hpp"
#include "comfy/core/node.hpp"
#include "comfy/core/types.hpp"
#include "comfy/io/files.hpp"
#include "comfy/io/model_folders.hpp"
#include "comfy/io/safetensors.hpp"
#include "comfy/models/checkpoint.hpp"
#include "comfy/models/clip.hpp"
#include "comfy/models/lora.hpp"
#include "comfy/models/random_checkpoint.hpp"
#include "comfy/models/unet.hpp"
#include "comfy/models/vae.hpp"
#include "node_runner.hpp"
#include "test_util.hpp"
#include "tiny_models.hpp"

using namespace comfy;
namespace fs = std::filesystem;

namespace {

fs::path tiny_ckpt() { return test::golden_root() / "nets" / "tiny-sd15.safetensors"; }

void touch(const fs::path& p, const std::string& bytes = "x") {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << bytes;
}

using test::run_node;

struct ModelsDir {
  test::TempDir td;
  RuntimeConfig cfg;
  ModelsDir() {
    cfg.models_dirs = {td.path / "models"};
    fs::create_directories(td.path / "models" / "checkpoints");
    fs::create_directories(td.path / "models" / "loras");
    fs::create_directories(td.path / "models" / "vae");
    fs::create_symlink(tiny_ckpt(), td.path / "models" / "checkpoints" / "tiny.safetensors");
  }
};

}  // namespace

TEST(ModelFolders, ListsAcceptedFilesOfEveryRootSortedAndDeduplicated) {
  test::TempDir td;
  touch(td.path / "a/checkpoints/z.safetensors");
  touch(td.path / "a/checkpoints/sub/y.ckpt");
  touch(td.path / "a/checkpoints/readme.txt");
  touch(td.path / "a/checkpoints/.git/x.safetensors");
  touch(td.path / "b/checkpoints/z.safetensors");
  touch(td.path / "b/checkpoints/A.SFT");
  RuntimeConfig cfg;
  cfg.models_dirs = {td.path / "a", td.path / "b"};
  auto mf = io::ModelFolders::from_config(cfg);
  EXPECT_EQ(mf.list("checkpoints"), (std::vector<std::string>{"A.SFT", "sub/y.ckpt", "z.safetensors"}));
  // First root wins; names cannot climb out of the folder; Windows separators are read as '/'.
  EXPECT_EQ(*mf.resolve("checkpoints", "z.safetensors"), td.path / "a/checkpoints/z.safetensors");
  EXPECT_EQ(*mf.resolve("checkpoints", "sub\\y.ckpt"), td.path / "a/checkpoints/sub/y.ckpt");
  touch(td.path / "a/secret.safetensors");
  EXPECT_FALSE(mf.resolve("checkpoints", "../secret.safetensors"));
  EXPECT_FALSE(mf.resolve("checkpoints", "/etc/passwd"));
  // ComfyUI: relpath(join("/", name), "/") -> "checkpoints/z.safetensors" under the root: not there.
  EXPECT_FALSE(mf.resolve("checkpoints", "../checkpoints/z.safetensors"));
  // Legacy alias: clip -> text_encoders (default paths models/text_encoders and models/clip).
  touch(td.path / "a/clip/te.safetensors");
  EXPECT_EQ(mf.list("clip"), (std::vector<std::string>{"te.safetensors"}));
}

TEST(ModelFolders, ReadsExtraModelPathsYamlLikeComfyUI) {
  test::TempDir td;
  const std::string yaml =
      "# comment\n"
      "a111:\n"
      "    base_path: webui/\n"
      "\n"
      "    checkpoints: models/Stable-diffusion   # trailing comment\n"
      "    vae: models/VAE\n"
      "    loras: |\n"
      "         models/Lora\n"
      "         models/LyCORIS\n"
      "    upscale_models: |\n"
      "                  models/ESRGAN\n"
      "other:\n"
      "    is_default: true\n"
      "    checkpoints: \"rel/ckpts\"\n"
      "    unet: /abs/unet\n"
      "empty:\n";
  fs::path f = td.path / "extra_model_paths.yaml";
  touch(f, yaml);
  RuntimeConfig cfg;
  cfg.models_dirs = {td.path / "models"};
  cfg.extra_model_paths = f;
  auto mf = io::ModelFolders::from_config(cfg);
  EXPECT_EQ(mf.paths("checkpoints"),
            (std::vector<fs::path>{td.path / "rel/ckpts", td.path / "models/checkpoints",
                                   td.path / "webui/models/Stable-diffusion"}));
  EXPECT_EQ(mf.paths("loras"), (std::vector<fs::path>{td.path / "models/loras", td.path / "webui/models/Lora",
                                                      td.path / "webui/models/LyCORIS"}));
  EXPECT_EQ(mf.paths("vae").back(), td.path / "webui/models/VAE");
  EXPECT_EQ(mf.paths("upscale_models").back(), td.path / "webui/models/ESRGAN");
  EXPECT_EQ(mf.paths("diffusion_models").front(), fs::path("/abs/unet"));
}

TEST(ModelFolders, YamlBlockScalarKeepsHashTextAndExpandsVariables) {
  test::TempDir td;
  setenv("COMFY_TEST_MODELS_BASE", (td.path / "base").c_str(), 1);
  io::ModelFolders mf;
  mf.load_yaml_text("s:\n  base_path: $COMFY_TEST_MODELS_BASE\n  loras: |\n    x # not a comment\n", td.path);
  EXPECT_EQ(mf.paths("loras"), (std::vector<fs::path>{td.path / "base/x # not a comment"}));
  EXPECT_THROW(mf.load_yaml_text("s:\n  a: 1\n   b: 2\n", td.path), Error);
}

TEST(CheckpointLoaderSimple, LoadsTheTinySd15CheckpointIntoModelClipAndVae) {
  ModelsDir md;
  auto out = run_node("CheckpointLoaderSimple", {{"ckpt_name", Value("tiny.safetensors")}}, md.cfg);
  ASSERT_EQ(out.values.size(), 3u);
  auto model = out.values[0].as<Model>();
  EXPECT_EQ(model->family, "SD15");
  auto unet = std::dynamic_pointer_cast<const UNetModel>(model->net);
  ASSERT_TRUE(unet);
  EXPECT_EQ(unet->config().model_channels, 32);
  EXPECT_EQ(unet->config().context_dim, 32);
  EXPECT_TRUE(out.values[1].as<Clip>()->encoder);
  EXPECT_TRUE(out.values[2].as<Vae>()->net);
  // The combo lists the file (after the always-present embedded model).
  auto choices = Registry::global().find("CheckpointLoaderSimple")->schema.find_input("ckpt_name")->choices(md.cfg);
  EXPECT_EQ(choices, (std::vector<std::string>{"builtin:shapes", "tiny.safetensors"}));
}

TEST(CheckpointLoaderSimple, MissingFileIsComfyUIsFileNotFoundMessage) {
  ModelsDir md;
  try {
    run_node("CheckpointLoaderSimple", {{"ckpt_name", Value("nope.safetensors")}}, md.cfg);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "Model in folder 'checkpoints' with filename 'nope.safetensors' not found.");
    EXPECT_EQ(e.input_name, "ckpt_name");
  }
  // Validation sees the files of the run's folders through the combo's choices.
  auto ch = Registry::global().find("CheckpointLoaderSimple")->schema.find_input("ckpt_name")->choices(md.cfg);
  EXPECT_EQ(ch, (std::vector<std::string>{"builtin:shapes", "tiny.safetensors"}));
}

TEST(CheckpointLoaderSimple, TruncatedCheckpointNamesTheInputAndFile) {
  ModelsDir md;
  auto bytes = io::read_file(tiny_ckpt());
  touch(md.td.path / "models/checkpoints/cut.safetensors", bytes.substr(0, bytes.size() / 2));
  try {
    run_node("CheckpointLoaderSimple", {{"ckpt_name", Value("cut.safetensors")}}, md.cfg);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.input_name, "ckpt_name");
    EXPECT_NE(std::string(e.what()).find("cut.safetensors"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
  }
}

// A 2-level SDXL-style UNet (adm, linear projections) is neither SDXL base (3 levels) nor the refiner
// (4 levels): refused, saying what was found.
TEST(CheckpointLoaderSimple, RefusesAnUnknownAdmLayoutNamingWhatItFound) {
  ModelsDir md;
  fs::create_symlink(test::golden_root() / "nets/tiny-sdxl-unet.safetensors",
                     md.td.path / "models/checkpoints/xl.safetensors");
  try {
    run_node("CheckpointLoaderSimple", {{"ckpt_name", Value("xl.safetensors")}}, md.cfg);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.input_name, "ckpt_name");
    EXPECT_NE(std::string(e.what()).find("adm 48"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("2 levels"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("not a supported model family"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("xl.safetensors"), std::string::npos) << e.what();
  }
}

TEST(VAELoader, LoadsAStandaloneVaeFile) {
  ModelsDir md;
  auto st = io::SafeTensors::open(tiny_ckpt());
  std::map<std::string, at::Tensor> vae;
  for (auto& [k, t] : tensors_under(*st, "first_stage_model.")) vae[k] = t;
  io::save_safetensors(md.td.path / "models/vae/v.safetensors", vae);
  auto out = run_node("VAELoader", {{"vae_name", Value("v.safetensors")}}, md.cfg);
  auto from_file = out.values[0].as<Vae>();
  auto from_ckpt = load_vae(st, "first_stage_model.", md.cfg);
  auto z = at::randn({1, 4, 4, 6});
  EXPECT_TRUE(at::equal(from_file->net->decode(z), from_ckpt->net->decode(z)));
}

// ---- LoRA

// The LoRA for the tiny UNet is built by tests/support/tiny_models (shared with the e2e tests).
using test::make_tiny_lora;

TEST(LoraLoader, MergesUpTimesDownScaledByAlphaOverRankWithoutTouchingTheInput) {
  ModelsDir md;
  const int64_t rank = 4;
  auto lora = make_tiny_lora(rank);
  io::save_safetensors(md.td.path / "models/loras/l.safetensors", lora);
  auto base = run_node("CheckpointLoaderSimple", {{"ckpt_name", Value("tiny.safetensors")}}, md.cfg).values[0].as<Model>();
  auto base_unet = std::dynamic_pointer_cast<const UNetModel>(base->net);
  const TensorMap before = [&] {
    TensorMap m;
    for (auto& [k, v] : base_unet->weights()) m[k] = v.clone();
    return m;
  }();
  const double strength = 0.7;
  auto out = run_node("LoraLoaderModelOnly",
                      {{"model", Value(base)}, {"lora_name", Value("l.safetensors")}, {"strength_model", Value(strength)}},
                      md.cfg);
  auto patched = std::dynamic_pointer_cast<const UNetModel>(out.values[0].as<Model>()->net);
  ASSERT_TRUE(patched);
  ASSERT_NE(patched.get(), base_unet.get());

  struct Expect { std::string key, lora; double alpha; };
  for (auto& e : {Expect{"input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight",
                         "lora_unet_input_blocks_1_1_transformer_blocks_0_attn1_to_q", double(rank)},
                  Expect{"middle_block.1.transformer_blocks.0.ff.net.2.weight",
                         "lora_unet_mid_block_attentions_0_transformer_blocks_0_ff_net_2", 3.0},
                  Expect{"input_blocks.3.0.in_layers.2.weight", "lora_unet_down_blocks_1_resnets_0_conv1", double(rank)}}) {
    auto up = lora[e.lora + ".lora_up.weight"].to(at::kDouble), down = lora[e.lora + ".lora_down.weight"].to(at::kDouble);
    auto W = before.at(e.key).to(at::kDouble);
    auto expected = W + strength * (e.alpha / double(rank)) * at::mm(up.flatten(1), down.flatten(1)).reshape(W.sizes());
    EXPECT_TRUE(at::allclose(patched->weights().at(e.key).to(at::kDouble), expected, 1e-6, 1e-6)) << e.key;
    EXPECT_TRUE(at::equal(base_unet->weights().at(e.key), before.at(e.key))) << "input modified: " << e.key;
    EXPECT_FALSE(at::equal(patched->weights().at(e.key), before.at(e.key))) << e.key;
  }
  // Untouched weights are shared, not copied.
  EXPECT_TRUE(patched->weights().at("out.2.weight").is_same(base_unet->weights().at("out.2.weight")));
  // The patched model runs and differs from the base.
  auto x = at::randn({1, 4, 8, 8}), t = at::full({1}, 500.0), ctx = at::randn({1, 7, 32});
  EXPECT_FALSE(at::allclose(patched->forward(x, t, ctx), base_unet->forward(x, t, ctx)));
}

TEST(LoraLoader, ZeroStrengthReturnsTheInputsUnchanged) {
  ModelsDir md;
  io::save_safetensors(md.td.path / "models/loras/l.safetensors", make_tiny_lora(2));
  auto ck = run_node("CheckpointLoaderSimple", {{"ckpt_name", Value("tiny.safetensors")}}, md.cfg);
  auto out = run_node("LoraLoader",
                      {{"model", ck.values[0]}, {"clip", ck.values[1]}, {"lora_name", Value("l.safetensors")},
                       {"strength_model", Value(0.0)}, {"strength_clip", Value(0.0)}},
                      md.cfg);
  EXPECT_EQ(out.values[0].as_object().get(), ck.values[0].as_object().get());
  EXPECT_EQ(out.values[1].as_object().get(), ck.values[1].as_object().get());
}

TEST(LoraKeys, DiffusersNamesCoverEveryUNetWeightOfSd15) {
  // unet_to_diffusers over the full SD1.5 config maps onto every .weight of the real layout except the
  // ones diffusers names the same way (none) — check that it reaches each block kind.
  auto m = unet_to_diffusers(UNetConfig::sd15());
  EXPECT_EQ(m.at("down_blocks.0.attentions.1.transformer_blocks.0.attn2.to_k.weight"),
            "input_blocks.2.1.transformer_blocks.0.attn2.to_k.weight");
  EXPECT_EQ(m.at("down_blocks.0.downsamplers.0.conv.weight"), "input_blocks.3.0.op.weight");
  EXPECT_EQ(m.at("up_blocks.0.upsamplers.0.conv.weight"), "output_blocks.2.1.conv.weight");
  EXPECT_EQ(m.at("up_blocks.1.upsamplers.0.conv.weight"), "output_blocks.5.2.conv.weight");
  EXPECT_EQ(m.at("up_blocks.3.attentions.2.proj_out.weight"), "output_blocks.11.1.proj_out.weight");
  EXPECT_EQ(m.at("mid_block.resnets.1.conv2.weight"), "middle_block.2.out_layers.3.weight");
  EXPECT_EQ(m.count("up_blocks.0.attentions.0.proj_in.weight"), 0u);  // no transformers at the deepest level
}

// ---- VAE nodes

TEST(VAEDecodeTiled, TiledScaleBlendsTilesBackIntoTheWholeImage) {
  // With a per-pixel function (nearest x2 upscale) every tiling must reproduce the untiled result.
  auto z = at::randn({2, 3, 13, 21});
  auto fn = [](const at::Tensor& t) { return at::upsample_nearest2d(t, {t.size(2) * 2, t.size(3) * 2}); };
  auto whole = fn(z);
  for (auto [tx, ty, ov] : {std::tuple<int, int, int>{8, 8, 2}, {5, 16, 1}, {32, 4, 2}, {6, 6, 0}}) {
    auto tiled = tiled_scale(z, fn, tx, ty, ov, 2, 3);
    EXPECT_TRUE(at::allclose(tiled, whole, 1e-5, 1e-6)) << tx << "x" << ty << " overlap " << ov;
  }
}

TEST(VAEDecodeTiled, NodeMatchesPlainDecodeWhenOneTileCoversTheLatent) {
  ModelsDir md;
  auto ck = run_node("CheckpointLoaderSimple", {{"ckpt_name", Value("tiny.safetensors")}}, md.cfg);
  auto l = std::make_shared<Latent>();
  l->samples = at::randn({1, 4, 6, 10});
  auto plain = run_node("VAEDecode", {{"samples", Value(l)}, {"vae", ck.values[2]}}, md.cfg).values[0].as_tensor();
  auto tiled = run_node("VAEDecodeTiled",
                        {{"samples", Value(l)}, {"vae", ck.values[2]}, {"tile_size", Value(512)}, {"overlap", Value(64)},
                         {"temporal_size", Value(64)}, {"temporal_overlap", Value(8)}},
                        md.cfg).values[0].as_tensor();
  EXPECT_EQ(plain.sizes(), (std::vector<int64_t>{1, 12, 20, 3}));
  EXPECT_TRUE(at::allclose(plain, tiled, 1e-5, 1e-5));
}

TEST(VAEDecode, FallsBackToTiledDecodingWhenOutOfMemory) {
  auto st = io::SafeTensors::open(tiny_ckpt());
  RuntimeConfig cfg;
  auto vae = std::dynamic_pointer_cast<AutoencoderKL>(load_vae(st, "first_stage_model.", cfg)->net);
  auto z = at::randn({1, 4, 70, 9});  // taller than one 64-latent-pixel tile
  auto expected = vae->decode_tiled(z, 64, 64, 16);
  vae->simulate_oom = true;
  auto got = vae->decode(z);
  EXPECT_TRUE(at::equal(got, expected));
}

TEST(VAEEncode, NodeCropsToMultiplesOfEightAndReturnsTheMean) {
  ModelsDir md;
  auto ck = run_node("CheckpointLoaderSimple", {{"ckpt_name", Value("tiny.safetensors")}}, md.cfg);
  auto img = at::rand({1, 20, 27, 4});
  auto out = run_node("VAEEncode", {{"pixels", Value(img)}, {"vae", ck.values[2]}}, md.cfg).values[0].as<Latent>();
  // The tiny VAE's true factor is 2: 16x24 pixels -> 8x12 latent.
  EXPECT_EQ(out->samples.sizes(), (std::vector<int64_t>{1, 4, 8, 12}));
}

TEST(MakeCheckpoint, TinyRandomCheckpointLoadsThroughCheckpointLoaderSimple) {
  ModelsDir md;
  RandomCheckpointOptions opt;
  opt.tiny = true;
  const size_t n = write_random_checkpoint(md.td.path / "models/checkpoints/rnd.safetensors", opt);
  // Same key set as the tiny golden checkpoint (UNet + CLIP + VAE in the SD1.5 layout).
  auto golden = io::SafeTensors::open(tiny_ckpt());
  auto made = io::SafeTensors::open(md.td.path / "models/checkpoints/rnd.safetensors");
  EXPECT_EQ(made->names(), golden->names());
  EXPECT_EQ(n, golden->names().size());
  for (const auto& k : golden->names()) EXPECT_EQ(made->info(k).shape, golden->info(k).shape) << k;
  EXPECT_EQ(made->info("model.diffusion_model.out.2.weight").dtype, "F16");
  auto out = run_node("CheckpointLoaderSimple", {{"ckpt_name", Value("rnd.safetensors")}}, md.cfg);
  auto l = std::make_shared<Latent>();
  l->samples = at::zeros({1, 4, 4, 4});
  auto img = run_node("VAEDecode", {{"samples", Value(l)}, {"vae", out.values[2]}}, md.cfg).values[0].as_tensor();
  EXPECT_EQ(img.sizes(), (std::vector<int64_t>{1, 8, 8, 3}));
  // Never overwrites.
  EXPECT_THROW(write_random_checkpoint(md.td.path / "models/checkpoints/rnd.safetensors", opt), Error);
}

// An fp16 UNet loaded for fp32 on the CPU keeps the file's tensors until its first use, then converts
// them: the result is bit for bit an eager load's, whoever calls first (two threads at once here).
// The UNet of a tiny random fp16 checkpoint (make-checkpoint --tiny) as zero-copy views of the file.
struct TinyFp16Unet {
  test::TempDir td;
  std::shared_ptr<io::SafeTensors> st;
  TensorMap views;
  TinyFp16Unet() {
    RandomCheckpointOptions opt;
    opt.tiny = true;
    write_random_checkpoint(td.path / "rnd.safetensors", opt);
    st = io::SafeTensors::open(td.path / "rnd.safetensors");
    views = tensors_under(*st, "model.diffusion_model.");
  }
};

TEST(UNetLoad, Fp16FileIsConvertedAtFirstUseToExactlyTheEagerLoadsWeights) {
  TinyFp16Unet f;
  const TensorMap& views = f.views;
  ASSERT_EQ(views.at("out.2.weight").scalar_type(), at::kHalf);

  auto lazy = UNetModel::load(views, c10::Device(c10::kCPU), at::kFloat, "UNet of rnd.safetensors");
  EXPECT_FALSE(lazy->materialized());
  EXPECT_EQ(lazy->dtype(), at::kFloat);
  MapWeights w(views, c10::Device(c10::kCPU), at::kFloat, "eager");
  UNetModel eager(UNetConfig::detect(views), w);
  std::vector<std::string> eager_keys;
  for (const auto& [k, _] : eager.weights()) eager_keys.push_back(k);
  EXPECT_EQ(lazy->keys(), eager_keys);
  EXPECT_FALSE(lazy->materialized()) << "listing the keys converts nothing";

  at::manual_seed(3);
  auto x = at::randn({1, 4, 8, 8}), t = at::full({1}, 500.0f), ctx = at::randn({1, 7, 32});
  at::Tensor a, b;
  std::thread t1([&] { a = lazy->forward(x, t, ctx); });
  std::thread t2([&] { b = lazy->forward(x, t, ctx); });
  t1.join();
  t2.join();
  EXPECT_TRUE(lazy->materialized());
  const auto ref = eager.forward(x, t, ctx);
  EXPECT_TRUE(at::equal(a, ref));
  EXPECT_TRUE(at::equal(b, ref));
  ASSERT_EQ(lazy->weights().size(), eager.weights().size());
  for (const auto& [k, v] : eager.weights()) {
    EXPECT_EQ(lazy->weights().at(k).scalar_type(), at::kFloat) << k;
    EXPECT_TRUE(at::equal(lazy->weights().at(k), v)) << k;
  }
}

TEST(UNetLoad, DeferredLoadStillRefusesAWrongShapeAtLoadNamingTheKey) {
  TinyFp16Unet f;
  TensorMap& views = f.views;
  views["out.2.bias"] = at::zeros({5}, at::kHalf);
  try {
    UNetModel::load(views, c10::Device(c10::kCPU), at::kFloat, "UNet of rnd.safetensors");
    FAIL() << "a wrong shape must be refused by the load itself";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("out.2.bias"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("rnd.safetensors"), std::string::npos) << e.what();
  }
  views.erase("out.2.bias");
  EXPECT_THROW(UNetModel::load(views, c10::Device(c10::kCPU), at::kFloat, "UNet of rnd.safetensors"), Error);
}

TEST(LoraLoader, UNetOnlyLoraPatchesTheModelAndPassesTheClipThrough) {
  ModelsDir md;
  io::save_safetensors(md.td.path / "models/loras/l.safetensors", make_tiny_lora(2));
  auto ck = run_node("CheckpointLoaderSimple", {{"ckpt_name", Value("tiny.safetensors")}}, md.cfg);
  auto out = run_node("LoraLoader",
                      {{"model", ck.values[0]}, {"clip", ck.values[1]}, {"lora_name", Value("l.safetensors")},
                       {"strength_model", Value(1.0)}, {"strength_clip", Value(1.0)}},
                      md.cfg);
  EXPECT_NE(out.values[0].as_object().get(), ck.values[0].as_object().get());
  // ComfyUI's load_lora_for_models returns clip.clone() (golden lora_loader_sdxl: clip_is_input false):
  // a new CLIP object sharing the unpatched text encoder
  auto clip_out = out.values[1].as<Clip>();
  EXPECT_NE(clip_out.get(), ck.values[1].as<Clip>().get());
  EXPECT_EQ(clip_out->encoder.get(), ck.values[1].as<Clip>()->encoder.get());
}

TEST(LoraLoader, TextEncoderLoraPatchesTheClipCopyOnWrite) {
  ModelsDir md;
  const int64_t rank = 2;
  std::map<std::string, at::Tensor> lora;
  // text_model.encoder.layers.1.mlp.fc1.weight is [64, 32] in the tiny CLIP
  lora["lora_te_text_model_encoder_layers_1_mlp_fc1.lora_up.weight"] = at::randn({64, rank}) * 0.1;
  lora["lora_te_text_model_encoder_layers_1_mlp_fc1.lora_down.weight"] = at::randn({rank, 32}) * 0.1;
  lora["lora_te_text_model_encoder_layers_1_mlp_fc1.alpha"] = at::scalar_tensor(1.0);
  io::save_safetensors(md.td.path / "models/loras/te.safetensors", lora);
  auto ck = run_node("CheckpointLoaderSimple", {{"ckpt_name", Value("tiny.safetensors")}}, md.cfg);
  auto clip = ck.values[1].as<Clip>();
  ASSERT_TRUE(clip->encoder->lora_weights());
  const std::string key = "clip_l.transformer.text_model.encoder.layers.1.mlp.fc1.weight";  // ComfyUI's name
  auto W = clip->encoder->lora_weights()->at(key).clone();
  auto out = run_node("LoraLoader",
                      {{"model", ck.values[0]}, {"clip", ck.values[1]}, {"lora_name", Value("te.safetensors")},
                       {"strength_model", Value(1.0)}, {"strength_clip", Value(-0.5)}},
                      md.cfg);
  // no UNet keys: a clone of the model (as ComfyUI's model.clone()) with the same network
  EXPECT_EQ(out.values[0].as<Model>()->net.get(), ck.values[0].as<Model>()->net.get());
  auto patched = out.values[1].as<Clip>();
  ASSERT_NE(patched.get(), clip.get());
  auto up = lora.at("lora_te_text_model_encoder_layers_1_mlp_fc1.lora_up.weight").to(at::kDouble);
  auto down = lora.at("lora_te_text_model_encoder_layers_1_mlp_fc1.lora_down.weight").to(at::kDouble);
  auto expected = W.to(at::kDouble) - 0.5 * (1.0 / double(rank)) * at::mm(up, down);
  // ComfyUI keeps text-encoder weights in float16: the merged weight is rounded to that grid
  // (within half a float16 ulp, 2^-11 relative, of the exact merge).
  const auto got = patched->encoder->lora_weights()->at(key);
  EXPECT_TRUE(at::equal(got, got.to(at::kHalf).to(at::kFloat)));
  EXPECT_TRUE(at::allclose(got.to(at::kDouble), expected, 4.9e-4, 1e-7));
  EXPECT_FALSE(at::allclose(got.to(at::kDouble), W.to(at::kDouble), 1e-3, 1e-3));  // it did change
  EXPECT_TRUE(at::equal(clip->encoder->lora_weights()->at(key), W));  // the input CLIP is untouched
  // Every other weight is the original tensor itself, not a copy.
  for (const auto& [k, t] : *clip->encoder->lora_weights())
    if (k != key) EXPECT_TRUE(patched->encoder->lora_weights()->at(k).is_same(t)) << k;
}

namespace {
// The BPE vocabulary beside the golden data, else in ../shared (as the golden CLIP tests find it).
fs::path vocab_dir() {
  for (const auto& d : {test::golden_root().parent_path() / "tokenizers" / "sd1", test::shared_dir() / "tokenizers" / "sd1"})
    if (fs::exists(d / "vocab.json")) return d;
  return test::shared_dir() / "tokenizers" / "sd1";
}

// The tiny checkpoint's CLIP text model as a bare text-encoder file (keys "text_model...."), with
// `replaced` weights and every tensor in `dtype`.
fs::path write_clip_file(const fs::path& path, const std::map<std::string, at::Tensor>& replaced, at::ScalarType dtype) {
  auto st = io::SafeTensors::open(tiny_ckpt());
  std::map<std::string, at::Tensor> m;
  const std::string prefix = "cond_stage_model.transformer.";
  for (const auto& name : st->names())
    if (name.compare(0, prefix.size(), prefix) == 0) {
      auto t = st->get(name);
      if (at::isFloatingType(t.scalar_type())) t = t.to(dtype);
      m[name.substr(prefix.size())] = t;
    }
  for (const auto& [k, v] : replaced) m[k] = v.to(dtype);
  io::save_safetensors(path, m);
  return path;
}
}  // namespace

TEST(LoraLoader, TextEncoderLoraGivesTheCondOfTheMergedWeightsAndLeavesTheInputClipAlone) {
  ModelsDir md;
  const int64_t rank = 3;
  const double strength = 0.8, alpha = 2.0;
  std::map<std::string, at::Tensor> lora;
  // encoder.layers.0.self_attn.q_proj.weight [32, 32] and encoder.layers.2.mlp.fc2.weight [32, 64]
  lora["lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight"] = at::randn({32, rank}) * 0.2;
  lora["lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight"] = at::randn({rank, 32}) * 0.2;
  lora["lora_te_text_model_encoder_layers_0_self_attn_q_proj.alpha"] = at::scalar_tensor(alpha);
  lora["lora_te_text_model_encoder_layers_2_mlp_fc2.lora_up.weight"] = at::randn({32, rank}) * 0.2;
  lora["lora_te_text_model_encoder_layers_2_mlp_fc2.lora_down.weight"] = at::randn({rank, 64}) * 0.2;
  lora["lora_te_text_model_encoder_layers_2_mlp_fc2.alpha"] = at::scalar_tensor(alpha);
  io::save_safetensors(md.td.path / "models/loras/te.safetensors", lora);
  md.cfg.tokenizer_dir = vocab_dir();

  auto ck = run_node("CheckpointLoaderSimple", {{"ckpt_name", Value("tiny.safetensors")}}, md.cfg);
  auto clip = ck.values[1].as<Clip>();
  const std::string prompt = "a photo of a (red:1.2) cat";
  const auto before = clip->encoder->encode(prompt, -1).at(0).cross_attn.clone();

  // Independent truth: a text-encoder file holding W + strength * (alpha / rank) * up @ down, loaded fresh.
  std::map<std::string, at::Tensor> merged;
  for (const auto& [name, key] : {std::pair<std::string, std::string>{"lora_te_text_model_encoder_layers_0_self_attn_q_proj",
                                                                      "text_model.encoder.layers.0.self_attn.q_proj.weight"},
                                  {"lora_te_text_model_encoder_layers_2_mlp_fc2", "text_model.encoder.layers.2.mlp.fc2.weight"}}) {
    auto W = clip->encoder->lora_weights()->at("clip_l.transformer." + key).to(at::kDouble);
    auto up = lora.at(name + ".lora_up.weight").to(at::kDouble), down = lora.at(name + ".lora_down.weight").to(at::kDouble);
    merged[key] = W + strength * (alpha / double(rank)) * at::mm(up, down);
  }
  auto ref_st = io::SafeTensors::open(write_clip_file(md.td.path / "merged_te.safetensors", merged, at::kFloat));
  auto ref = load_sd1_clip(ref_st, "", md.cfg);

  auto out = run_node("LoraLoader",
                      {{"model", ck.values[0]}, {"clip", ck.values[1]}, {"lora_name", Value("te.safetensors")},
                       {"strength_model", Value(1.0)}, {"strength_clip", Value(strength)}},
                      md.cfg);
  auto patched = out.values[1].as<Clip>();
  const auto got = patched->encoder->encode(prompt, -1).at(0);
  const auto want = ref->encoder->encode(prompt, -1).at(0);
  EXPECT_EQ(test::check_close(got.cross_attn, want.cross_attn, 1e-5, 1e-5), "");
  EXPECT_EQ(test::check_close(*got.pooled_output, *want.pooled_output, 1e-5, 1e-5), "");
  EXPECT_FALSE(at::allclose(got.cross_attn, before, 1e-3, 1e-3));
  // The input CLIP still gives its own cond.
  EXPECT_TRUE(at::equal(clip->encoder->encode(prompt, -1).at(0).cross_attn, before));
}

TEST(LoraLoader, ClipPatchedWithUnchangedWeightsEncodesExactlyLikeTheOriginal) {
  ModelsDir md;
  md.cfg.tokenizer_dir = vocab_dir();
  auto ck = run_node("CheckpointLoaderSimple", {{"ckpt_name", Value("tiny.safetensors")}}, md.cfg);
  auto clip = ck.values[1].as<Clip>();
  const std::string key = "clip_l.transformer.text_model.encoder.layers.1.self_attn.v_proj.weight";
  // What a strength-0 merge computes: W + 0 * diff.
  auto same = clip->encoder->with_weights({{key, clip->encoder->lora_weights()->at(key) + 0.0}});
  ASSERT_TRUE(same);
  for (const char* prompt : {"a photo of a cat", "(dog:0.7), tree"}) {
    auto a = clip->encoder->encode(prompt, -2).at(0), b = same->encode(prompt, -2).at(0);
    EXPECT_TRUE(at::equal(a.cross_attn, b.cross_attn)) << prompt;
    EXPECT_TRUE(at::equal(*a.pooled_output, *b.pooled_output)) << prompt;
  }
}

TEST(LoraLoader, PatchedClipWeightIsRoundedToTheStorageDtypeOfItsFile) {
  // ComfyUI patches the stored (here fp16) weight: the merged value is cast back to fp16.
  test::TempDir td;
  RuntimeConfig cfg;
  auto st = io::SafeTensors::open(write_clip_file(td.path / "te16.safetensors", {}, at::kHalf));
  auto clip = load_sd1_clip(st, "", cfg);
  const std::string key = "clip_l.transformer.text_model.encoder.layers.0.mlp.fc1.weight";
  const auto W = clip->encoder->lora_weights()->at(key);
  ASSERT_EQ(W.scalar_type(), at::kFloat);  // computed in float32
  auto v = W + at::randn(W.sizes()) * 1e-3;
  auto patched = clip->encoder->with_weights({{key, v}});
  const auto got = patched->lora_weights()->at(key);
  EXPECT_TRUE(at::equal(got, v.to(at::kHalf).to(at::kFloat)));
  EXPECT_FALSE(at::equal(got, v));
  EXPECT_THROW(clip->encoder->with_weights({{"clip_l.transformer.text_model.no.such.weight", v}}), Error);
  EXPECT_THROW(clip->encoder->with_weights({{"text_model.encoder.layers.0.mlp.fc1.weight", v}}), Error);  // not a state-dict name
}

namespace {
// Every floating weight of the tiny CLIP nudged off the float16 grid (the golden weights lie on it).
std::map<std::string, at::Tensor> off_grid_clip_weights() {
  auto st = io::SafeTensors::open(tiny_ckpt());
  const std::string prefix = "cond_stage_model.transformer.";
  std::map<std::string, at::Tensor> m;
  auto gen = at::detail::createCPUGenerator(5);
  for (const auto& name : st->names())
    if (name.compare(0, prefix.size(), prefix) == 0) {
      auto t = st->get(name);
      if (at::isFloatingType(t.scalar_type()))
        m[name.substr(prefix.size())] = t.to(at::kFloat) * (1 + at::randn(t.sizes(), gen) * 1e-3);
    }
  return m;
}
}  // namespace

TEST(ClipLoading, TextEncoderWeightsAreKeptInFloat16LikeComfyUIUnlessFp32TextEnc) {
  test::TempDir td;
  RuntimeConfig cfg;
  cfg.tokenizer_dir = vocab_dir();
  const auto w = off_grid_clip_weights();
  std::map<std::string, at::Tensor> rounded;
  for (const auto& [k, v] : w) rounded[k] = v.to(at::kHalf).to(at::kFloat);
  ASSERT_FALSE(at::equal(rounded.begin()->second, w.begin()->second));
  auto raw_st = io::SafeTensors::open(write_clip_file(td.path / "raw.safetensors", w, at::kFloat));
  auto rounded_st = io::SafeTensors::open(write_clip_file(td.path / "rounded.safetensors", rounded, at::kFloat));
  const std::string prompt = "a (red:1.1) cat on a mat";

  // Default (ComfyUI's text_encoder_dtype = float16): the fp32 file acts as its float16 rounding.
  auto def = load_sd1_clip(raw_st, "", cfg)->encoder->encode(prompt, -1).at(0);
  RuntimeConfig fp32 = cfg;
  fp32.text_encoder_fp32 = true;
  auto want = load_sd1_clip(rounded_st, "", fp32)->encoder->encode(prompt, -1).at(0);
  EXPECT_TRUE(at::equal(def.cross_attn, want.cross_attn));
  EXPECT_TRUE(at::equal(*def.pooled_output, *want.pooled_output));
  // --fp32-text-enc reads the file's values as they are.
  auto exact = load_sd1_clip(raw_st, "", fp32)->encoder->encode(prompt, -1).at(0);
  EXPECT_FALSE(at::equal(exact.cross_attn, want.cross_attn));
  EXPECT_EQ(test::check_close(exact.cross_attn, want.cross_attn, 1e-2, 1e-2), "");
}
