// ControlNet, upscale-model, DualCFGGuider and CheckpointSave behaviour that the golden data does not
// cover: bad input (wrong family, alpha hints, forbidden pickles, truncated files, unknown
// architectures), sharing and chaining of applied ControlNets, DualCFG's closed forms, and a saved
// checkpoint loading back with the layout of the file it came from.
#include <ATen/ATen.h>
#include <caffe2/serialize/inline_container.h>
#include <gtest/gtest.h>

#include <fstream>

#include "comfy/core/error.hpp"
#include "comfy/core/node.hpp"
#include "comfy/core/types.hpp"
#include "comfy/io/safetensors.hpp"
#include "comfy/models/checkpoint.hpp"
#include "comfy/models/controlnet.hpp"
#include "comfy/models/lora.hpp"
#include "comfy/models/toy_gaussian.hpp"
#include "comfy/models/unet.hpp"
#include "comfy/models/upscale_model.hpp"
#include "comfy/sampling/guider.hpp"
#include "node_runner.hpp"
#include "test_util.hpp"

using namespace comfy;
namespace fs = std::filesystem;

namespace {

fs::path control_dir() { return test::golden_root() / "control"; }

std::shared_ptr<ControlNet> tiny_controlnet() {
  static auto c = [] {
    RuntimeConfig cfg;
    return load_controlnet(control_dir() / "tiny-controlnet.safetensors", cfg);
  }();
  return c;
}

using test::run_node;

std::shared_ptr<Conditioning> cond_of(int64_t width, int entries = 1, uint64_t seed = 1) {
  auto c = std::make_shared<Conditioning>();
  at::manual_seed(seed);
  for (int i = 0; i < entries; ++i) {
    CondEntry e;
    e.cross_attn = at::randn({1, 77, width});
    c->entries.push_back(e);
  }
  return c;
}

std::shared_ptr<const ControlNet> control_of(const Value& cond, size_t i = 0) {
  return cond.as<Conditioning>()->entries.at(i).extra.at("control").as<ControlNet>();
}

// A torch.save zip whose pickle calls os.system: what an attacker's .pth looks like.
void write_evil_pth(const fs::path& p) {
  // PROTO 2, GLOBAL 'os system', ('touch pwned',), REDUCE, STOP
  const std::string pkl = std::string("\x80\x02") + "cos\nsystem\n" + "X\x0b\x00\x00\x00touch pwned" + "\x85" + "R.";
  caffe2::serialize::PyTorchStreamWriter w(p.string());
  w.writeRecord("data.pkl", pkl.data(), pkl.size());
  w.writeEndOfFile();
}

}  // namespace

// ---------------------------------------------------------------- ControlNet

TEST(ControlNetApply, StrengthZeroReturnsTheInputsUnchanged) {
  auto pos = cond_of(32), neg = cond_of(32, 1, 2);
  auto image = at::rand({1, 64, 64, 3});
  auto out = run_node("ControlNetApplyAdvanced", {{"positive", Value(pos)}, {"negative", Value(neg)},
                                                   {"control_net", Value(tiny_controlnet())}, {"image", Value(image)},
                                                   {"strength", Value(0.0)}, {"start_percent", Value(0.0)},
                                                   {"end_percent", Value(1.0)}});
  EXPECT_EQ(out.values.at(0).as<Conditioning>().get(), pos.get());
  EXPECT_EQ(out.values.at(1).as<Conditioning>().get(), neg.get());
  auto old = run_node("ControlNetApply", {{"conditioning", Value(pos)}, {"control_net", Value(tiny_controlnet())},
                                           {"image", Value(image)}, {"strength", Value(0.0)}});
  EXPECT_EQ(old.values.at(0).as<Conditioning>().get(), pos.get());
}

TEST(ControlNetApply, AdvancedSharesOneObjectAcrossListsAndChainsOnThePrevious) {
  auto pos = cond_of(32, 2), neg = cond_of(32, 1, 2);
  auto image = at::rand({1, 64, 64, 3});
  auto apply = [&](const Value& p, const Value& n, double s) {
    return run_node("ControlNetApplyAdvanced", {{"positive", p}, {"negative", n},
                                                {"control_net", Value(tiny_controlnet())}, {"image", Value(image)},
                                                {"strength", Value(s)}, {"start_percent", Value(0.1)},
                                                {"end_percent", Value(0.9)}})
        .values;
  };
  auto first = apply(Value(pos), Value(neg), 0.5);
  auto a = control_of(first[0], 0), b = control_of(first[0], 1), c = control_of(first[1], 0);
  EXPECT_EQ(a.get(), b.get());
  EXPECT_EQ(a.get(), c.get());  // positive and negative batch together
  EXPECT_EQ(a->previous, nullptr);
  EXPECT_DOUBLE_EQ(a->strength, 0.5);
  EXPECT_DOUBLE_EQ(a->start_percent, 0.1);
  EXPECT_DOUBLE_EQ(a->end_percent, 0.9);
  EXPECT_EQ(a->cond_hint_original.sizes(), (std::vector<int64_t>{1, 3, 64, 64}));
  auto second = apply(first[0], first[1], 0.8);
  auto d = control_of(second[0], 0);
  EXPECT_EQ(d->previous.get(), a.get());
  EXPECT_EQ(control_of(second[1], 0).get(), d.get());
  EXPECT_FALSE(second[0].as<Conditioning>()->entries[0].extra.at("control_apply_to_uncond").as_bool());
}

TEST(ControlNetApply, ChainedControlNetsAddTheirResiduals) {
  auto ms = std::make_shared<ModelSampling>(ModelSampling::discrete());
  auto image = at::rand({1, 64, 64, 3}).movedim(-1, 1);
  auto one = tiny_controlnet()->with_hint(image, 0.7, 0, 1, nullptr);
  auto two = tiny_controlnet()->with_hint(image.flip({3}), 0.4, 0, 1, one);
  auto alone = tiny_controlnet()->with_hint(image.flip({3}), 0.4, 0, 1, nullptr);
  for (auto* c : {one.get(), two.get(), alone.get()}) c->pre_run(ms);
  ModelConds conds;
  conds.c_crossattn = at::randn({2, 77, 32});
  auto x = at::randn({2, 4, 8, 8});
  auto r1 = one->get_control(x, 3.0f, conds, 2), r2 = two->get_control(x, 3.0f, conds, 2),
       ra = alone->get_control(x, 3.0f, conds, 2);
  ASSERT_TRUE(r1 && r2 && ra);
  ASSERT_EQ(r2->output.size(), 4u);
  for (size_t i = 0; i < r2->output.size(); ++i)
    EXPECT_TRUE(at::allclose(r2->output[i], r1->output[i] + ra->output[i], 1e-5, 1e-5)) << i;
  EXPECT_TRUE(at::allclose(r2->middle[0], r1->middle[0] + ra->middle[0], 1e-5, 1e-5));
}

TEST(ControlNetApply, HintWithAlphaChannelIsRefusedNamingTheInput) {
  try {
    run_node("ControlNetApply", {{"conditioning", Value(cond_of(32))}, {"control_net", Value(tiny_controlnet())},
                                 {"image", Value(at::rand({1, 64, 64, 4}))}, {"strength", Value(1.0)}});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.input_name, "image");
    EXPECT_NE(std::string(e.what()).find("4 channels"), std::string::npos) << e.what();
  }
}

TEST(ControlNetApply, OnePixelHighHintIsResizedToTheLatent) {
  auto ms = std::make_shared<ModelSampling>(ModelSampling::discrete());
  auto hint = at::rand({1, 3, 1, 50});
  auto c = tiny_controlnet()->with_hint(hint, 1.0, 0, 1, nullptr);
  c->pre_run(ms);
  ModelConds conds;
  conds.c_crossattn = at::randn({1, 77, 32});
  auto r = c->get_control(at::randn({1, 4, 8, 8}), 2.0f, conds, 1);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->output[0].sizes(), (std::vector<int64_t>{1, 32, 8, 8}));
  EXPECT_TRUE(at::isfinite(r->middle[0]).all().item<bool>());
}

TEST(ControlNetApply, ControlNetOfAnotherFamilyFailsWithAClearError) {
  auto ms = std::make_shared<ModelSampling>(ModelSampling::discrete());
  auto c = tiny_controlnet()->with_hint(at::rand({1, 3, 64, 64}), 1.0, 0, 1, nullptr);
  c->pre_run(ms);
  ModelConds conds;
  conds.c_crossattn = at::randn({1, 77, 2048});  // an SDXL-width context
  try {
    c->get_control(at::randn({1, 4, 8, 8}), 2.0f, conds, 1);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("another model family"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("tiny-controlnet.safetensors"), std::string::npos) << e.what();
  }
}

TEST(ControlNetLoader, ShuffleFileNamesTurnOnGlobalPoolingAndJunkIsRefused) {
  test::TempDir td;
  fs::copy_file(control_dir() / "tiny-controlnet.safetensors", td.path / "control_v11e_sd15_shuffle.safetensors");
  RuntimeConfig cfg;
  auto c = load_controlnet(td.path / "control_v11e_sd15_shuffle.safetensors", cfg);
  EXPECT_TRUE(c->global_average_pooling);
  EXPECT_FALSE(tiny_controlnet()->global_average_pooling);
  io::save_safetensors(td.path / "junk.safetensors", {{"foo.weight", at::ones({2, 2})}});
  try {
    load_controlnet(td.path / "junk.safetensors", cfg);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not contain a valid controlnet model"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("foo.weight"), std::string::npos) << e.what();
  }
}

TEST(ControlNetLoader, DiffusersLayoutLoadsTheSameNetwork) {
  // The ldm file renamed to diffusers names (unet_to_diffusers + the ControlNet table, spec 1.5).
  auto st = io::SafeTensors::open(control_dir() / "tiny-controlnet-bare.safetensors");
  TensorMap bare;
  for (const auto& n : st->names()) bare[n] = st->get(n);
  const auto& cfg = tiny_controlnet()->net->config();
  std::map<std::string, at::Tensor> dif;
  std::map<std::string, std::string> ldm_to_dif;
  for (const auto& [d, l] : unet_to_diffusers(cfg)) ldm_to_dif[l] = d;
  for (const auto& [k, t] : bare) {
    std::string nk;
    if (ldm_to_dif.count(k)) nk = ldm_to_dif[k];
    else if (k.rfind("middle_block_out.0.", 0) == 0) nk = "controlnet_mid_block." + k.substr(19);
    else if (k.rfind("zero_convs.", 0) == 0) {
      const auto rest = k.substr(11);
      nk = "controlnet_down_blocks." + rest.substr(0, rest.find('.')) + rest.substr(rest.find('.') + 2);
    } else if (k.rfind("input_hint_block.", 0) == 0) {
      const auto rest = k.substr(17);
      const int idx = std::stoi(rest.substr(0, rest.find('.')));
      const std::string suffix = rest.substr(rest.find('.'));
      nk = idx == 0 ? "controlnet_cond_embedding.conv_in" + suffix
           : idx == 14 ? "controlnet_cond_embedding.conv_out" + suffix
                       : "controlnet_cond_embedding.blocks." + std::to_string(idx / 2 - 1) + suffix;
    } else {
      continue;
    }
    dif[nk] = t.clone();
  }
  test::TempDir td;
  io::save_safetensors(td.path / "diffusion_pytorch_model.safetensors", dif);
  RuntimeConfig rc;
  auto c = load_controlnet(td.path / "diffusion_pytorch_model.safetensors", rc);
  const auto& a = c->net->weights();
  const auto& b = tiny_controlnet()->net->weights();
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [k, t] : b) {
    ASSERT_TRUE(a.count(k)) << k;
    EXPECT_TRUE(at::equal(a.at(k), t)) << k;
  }
}

// ---------------------------------------------------------------- upscale models

TEST(UpscaleModel, ForbiddenPickleGlobalIsRefusedWithoutRunningIt) {
  test::TempDir td;
  write_evil_pth(td.path / "evil.pth");
  const auto cwd = fs::current_path();
  fs::current_path(td.path);
  try {
    load_upscale_model(td.path / "evil.pth", c10::Device(c10::kCPU));
    ADD_FAILURE() << "evil.pth was loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("evil.pth"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("os"), std::string::npos) << e.what();
  }
  fs::current_path(cwd);
  EXPECT_FALSE(fs::exists(td.path / "pwned"));
}

TEST(UpscaleModel, TruncatedFileIsRefusedNamingTheFile) {
  test::TempDir td;
  std::ifstream f(control_dir() / "esrgan-old-x4.safetensors", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), {});
  std::ofstream(td.path / "cut.safetensors", std::ios::binary).write(bytes.data(), std::streamsize(bytes.size() / 2));
  try {
    load_upscale_model(td.path / "cut.safetensors", c10::Device(c10::kCPU));
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cut.safetensors"), std::string::npos) << e.what();
  }
}

TEST(UpscaleModel, UnknownArchitectureIsRefusedNamingWhatWasFound) {
  TensorMap sd = {{"layers.0.residual_group.blocks.0.norm1.weight", at::ones({4})}, {"conv_first.weight", at::ones({4, 3, 3, 3})}};
  try {
    upscale_model_from_state_dict(sd, c10::Device(c10::kCPU), "swinir.pth");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("swinir.pth"), std::string::npos) << m;
    EXPECT_NE(m.find("ESRGAN"), std::string::npos) << m;
    EXPECT_NE(m.find("layers.0.residual_group"), std::string::npos) << m;
  }
}

TEST(UpscaleModel, TilingMatchesTheWholeImageAwayFromSeamsAndKeepsTheSize) {
  auto m = load_upscale_model(control_dir() / "esrgan-old-x2.pth", c10::Device(c10::kCPU));
  at::manual_seed(3);
  auto image = at::rand({1, 37, 70, 3});
  auto whole = upscale_image_with_model(*m, image);          // one tile
  auto tiled = upscale_image_with_model(*m, image, 24, 8);   // many tiles
  EXPECT_EQ(tiled.sizes(), (std::vector<int64_t>{1, 74, 140, 3}));
  // Tiles see less context at their borders, so values differ near seams but stay close on average.
  EXPECT_LT((tiled - whole).abs().mean().item<double>(), 0.02);
  EXPECT_GE(tiled.min().item<double>(), 0.0);
  EXPECT_LE(tiled.max().item<double>(), 1.0);
  // An RGBA image is refused (the model takes 3 channels).
  EXPECT_THROW(upscale_image_with_model(*m, at::rand({1, 8, 8, 4})), Error);
}

// ---------------------------------------------------------------- DualCFGGuider

TEST(DualCFGGuider, RegularAndNestedFollowTheirClosedForms) {
  auto model = make_toy_gaussian_model();
  auto P = toy_conditioning(true), N = toy_conditioning(false);
  auto M = std::make_shared<Conditioning>(*P);
  M->entries[0].cross_attn = (P->entries[0].cross_attn + N->entries[0].cross_attn) * 0.5;
  auto x = at::randn({1, 4, 8, 8});
  const float sigma = 2.5f;
  auto single = [&](std::shared_ptr<const Conditioning> c) {
    CFGGuider g(model, c, nullptr, 1.0);
    g.prepare(x.sizes(), x.device());
    return g(x, sigma);
  };
  auto p = single(P), m = single(M), n = single(N);
  for (bool nested : {false, true}) {
    const double c1 = 3.0, c2 = 1.7;
    CFGGuider g(model, P, N, c1);
    g.set_dual(M, c1, c2, nested);
    g.prepare(x.sizes(), x.device());
    auto got = g(x, sigma);
    auto want = nested ? n + ((m + (p - m) * c1) - n) * c2 : (n + (m - n) * c2) + (p - m) * c1;
    EXPECT_TRUE(at::allclose(got, want, 1e-5, 1e-5)) << (nested ? "nested" : "regular");
    EXPECT_GT((got - p).abs().max().item<double>(), 1e-3);
  }
  // cfg2 == 1 skips the negative (its value cannot matter), cfg1 == 1 too: the positive alone.
  CFGGuider g(model, P, N, 1.0);
  g.set_dual(M, 1.0, 1.0, false);
  g.prepare(x.sizes(), x.device());
  EXPECT_TRUE(at::allclose(g(x, sigma), p, 1e-6, 1e-6));
  EXPECT_EQ(g.model_calls(), 1);
}

// ---------------------------------------------------------------- CheckpointSave

TEST(CheckpointSave, WritesTheCheckpointLayoutWithMetadataAndLoadsBack) {
  test::TempDir td;
  RuntimeConfig cfg;
  cfg.output_dir = td.path;
  const fs::path src = test::golden_root() / "nets" / "tiny-sd15.safetensors";
  auto ck = load_checkpoint(src, cfg);
  NodeInputs in;
  in.values = {{"model", Value(ck.model)}, {"clip", Value(ck.clip)}, {"vae", Value(ck.vae)},
               {"filename_prefix", Value("checkpoints/merged")}};
  nlohmann::ordered_json prompt = {{"1", {{"class_type", "CheckpointSave"}, {"inputs", {{"x", 1}}}}}};
  nlohmann::json extra = {{"workflow", {{"nodes", nlohmann::json::array()}}}};
  ExecContext ctx;
  ctx.config = &cfg;
  ctx.prompt = &prompt;
  ctx.extra_pnginfo = &extra;
  const NodeDef* def = Registry::global().find("CheckpointSave");
  def->execute(in, ctx);
  def->execute(in, ctx);  // never overwrites: the counter moves on
  const fs::path out = td.path / "checkpoints" / "merged_00001_.safetensors";
  ASSERT_TRUE(fs::exists(out));
  EXPECT_TRUE(fs::exists(td.path / "checkpoints" / "merged_00002_.safetensors"));

  auto a = io::SafeTensors::open(out), b = io::SafeTensors::open(src);
  // The same keys as the checkpoint it came from (the layout ComfyUI loads), minus what ComfyUI drops.
  std::set<std::string> want;
  for (const auto& k : b->names())
    if (k.rfind("model.diffusion_model.", 0) == 0 || k.rfind("first_stage_model.", 0) == 0 ||
        (k.rfind("cond_stage_model.transformer.text_model.", 0) == 0 && k.find("position_ids") == std::string::npos))
      want.insert(k);
  const auto names = a->names();
  std::set<std::string> got(names.begin(), names.end());
  EXPECT_EQ(got, want);
  for (const auto& k : a->names()) {
    if (k.rfind("cond_stage_model.", 0) == 0) {
      EXPECT_EQ(a->info(k).dtype, "F16") << k;  // ComfyUI keeps CLIP weights in fp16
      EXPECT_TRUE(at::equal(a->get(k), b->get(k).to(at::kHalf))) << k;
    } else {
      EXPECT_TRUE(at::equal(a->get(k), b->get(k).to(at::kFloat))) << k;
    }
  }
  const auto& md = a->metadata();
  EXPECT_EQ(md.at("modelspec.predict_key"), "epsilon");
  EXPECT_EQ(md.at("prompt"), R"({"1": {"class_type": "CheckpointSave", "inputs": {"x": 1}}})");
  EXPECT_EQ(md.at("workflow"), R"({"nodes": []})");
  EXPECT_EQ(md.count("modelspec.architecture"), 0u);  // SD1.x: no modelspec architecture
  // And we load it back as a checkpoint.
  auto again = load_checkpoint(out, cfg);
  EXPECT_EQ(again.model->family, "SD15");
}

// SDXL, the SDXL refiner and SD2.1: the text encoders go out in the layout of the real checkpoints
// (OpenCLIP names with q/k/v joined, text_projection transposed, CLIP-L's position_ids): the golden tiny
// checkpoints carry that layout, so the saved file has exactly their keys and fp16 values, and loads back
// to the same encoder weights.
TEST(CheckpointSave, SavesSdxlRefinerAndSd2TextEncodersInTheirCheckpointLayout) {
  for (const char* file : {"tiny-sdxl.safetensors", "tiny-sdxl-refiner.safetensors", "tiny-sd21-v.safetensors"}) {
    SCOPED_TRACE(file);
    test::TempDir td;
    RuntimeConfig cfg;
    cfg.output_dir = td.path;
    const fs::path src = test::golden_root() / "models" / file;
    auto ck = load_checkpoint(src, cfg);
    NodeInputs in;
    in.values = {{"model", Value(ck.model)}, {"clip", Value(ck.clip)}, {"vae", Value(ck.vae)},
                 {"filename_prefix", Value("checkpoints/saved")}};
    ExecContext ctx;
    ctx.config = &cfg;
    Registry::global().find("CheckpointSave")->execute(in, ctx);
    const fs::path out = td.path / "checkpoints" / "saved_00001_.safetensors";
    ASSERT_TRUE(fs::exists(out));
    auto a = io::SafeTensors::open(out), b = io::SafeTensors::open(src);
    std::set<std::string> got, want;
    for (const auto& k : a->names()) got.insert(k);
    for (const auto& k : b->names())
      if (k != "v_pred") want.insert(k);
    if (ck.model->model_type == ModelType::V_PREDICTION) want.insert("v_pred");
    EXPECT_EQ(got, want);
    int clip_keys = 0;
    for (const auto& k : a->names()) {
      if (k.rfind("cond_stage_model.", 0) != 0 && k.rfind("conditioner.", 0) != 0) continue;
      ++clip_keys;
      if (k.size() > 11 && k.compare(k.size() - 11, 11, "logit_scale") == 0) {
        // ComfyUI's SDClipModel.logit_scale: float32 4.6055, never read from the file
        EXPECT_EQ(a->info(k).dtype, "F32") << k;
        EXPECT_FLOAT_EQ(a->get(k).item<float>(), 4.6055f);
        continue;
      }
      EXPECT_EQ(a->info(k).dtype, b->info(k).dtype) << k;
      EXPECT_TRUE(at::equal(a->get(k), b->get(k))) << k;
    }
    EXPECT_GT(clip_keys, 20);
    auto again = load_checkpoint(out, cfg);
    EXPECT_EQ(again.model->family, ck.model->family);
    const auto *w0 = ck.clip->encoder->lora_weights(), *w1 = again.clip->encoder->lora_weights();
    ASSERT_TRUE(w0 && w1);
    ASSERT_EQ(w0->size(), w1->size());
    for (const auto& [k, t] : *w0) {
      ASSERT_TRUE(w1->count(k)) << k;
      EXPECT_TRUE(at::equal(t, w1->at(k))) << k;
    }
  }
}

// ---------------------------------------------------------------- instruct-pix2pix

namespace {
bool starts(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }

// An SDXL ControlNet in the ldm layout, made from the tiny SDXL checkpoint's UNet encoder (time_embed,
// label_emb, input_blocks, middle_block) plus the tiny SD1 ControlNet's hint block (its last conv gives
// 32 channels, the tiny SDXL's model_channels) and one 1x1 zero conv per input block and for the middle
// block, scaled by `zero_conv_scale` (0 = the untrained state: no control at all).
fs::path write_tiny_sdxl_controlnet(const fs::path& dir, double zero_conv_scale) {
  auto unet = io::SafeTensors::open(test::golden_root() / "models" / "tiny-sdxl.safetensors");
  auto sd1cn = io::SafeTensors::open(control_dir() / "tiny-controlnet.safetensors");
  std::map<std::string, at::Tensor> sd;
  const std::string up = "model.diffusion_model.";
  for (const auto& k : unet->names()) {
    if (!starts(k, up.c_str())) continue;
    const std::string rest = k.substr(up.size());
    if (starts(rest, "input_blocks.") || starts(rest, "middle_block.") || starts(rest, "time_embed.") ||
        starts(rest, "label_emb."))
      sd["control_model." + rest] = unet->get(k).to(at::kFloat);
  }
  for (const auto& k : sd1cn->names())
    if (starts(k, "control_model.input_hint_block.")) sd[k] = sd1cn->get(k).to(at::kFloat);
  auto width = [&](const std::string& block) -> int64_t {  // output channels of a block
    for (const char* leaf : {".0.out_layers.3.weight", ".2.out_layers.3.weight", ".0.op.weight", ".0.weight"})
      if (sd.count("control_model." + block + leaf)) return sd["control_model." + block + leaf].size(0);
    ADD_FAILURE() << "no width for " << block;
    return 1;
  };
  at::manual_seed(21);
  auto zero_conv = [&](const std::string& name, int64_t c) {
    sd["control_model." + name + ".weight"] = at::randn({c, c, 1, 1}) * (0.3 * zero_conv_scale);
    sd["control_model." + name + ".bias"] = at::randn({c}) * (0.1 * zero_conv_scale);
  };
  int blocks = 0;
  while (sd.count("control_model.input_blocks." + std::to_string(blocks) + ".0.weight") ||
         sd.count("control_model.input_blocks." + std::to_string(blocks) + ".0.in_layers.0.weight") ||
         sd.count("control_model.input_blocks." + std::to_string(blocks) + ".0.op.weight"))
    ++blocks;
  EXPECT_EQ(blocks, 9) << "SDXL has 9 input blocks";
  for (int i = 0; i < blocks; ++i) zero_conv("zero_convs." + std::to_string(i) + ".0", width("input_blocks." + std::to_string(i)));
  zero_conv("middle_block_out.0", width("middle_block"));
  const fs::path p = dir / ("sdxl-cn-" + std::to_string(int(zero_conv_scale * 10)) + ".safetensors");
  io::save_safetensors(p, sd);
  return p;
}
}  // namespace

// SDXL ControlNets (issue 11 item 1): the ControlNet takes the adm vector through its own label_emb and
// its residuals reach the SDXL UNet. All-zero zero convs are no control at all (bit for bit the picture
// without it); trained ones change the picture; the hint steers it.
TEST(ControlNetSdxl, SdxlControlNetSteersTheSdxlModelAndZeroConvsAreNoControl) {
  test::TempDir td;
  RuntimeConfig cfg;
  auto ck = load_checkpoint(test::golden_root() / "models" / "tiny-sdxl.safetensors", cfg);
  auto zero = load_controlnet(write_tiny_sdxl_controlnet(td.path, 0.0), cfg);
  auto trained = load_controlnet(write_tiny_sdxl_controlnet(td.path, 1.0), cfg);
  auto encode = [&](const std::string& text) {
    return run_node("CLIPTextEncode", {{"clip", Value(ck.clip)}, {"text", Value(text)}}).values.at(0);
  };
  const Value pos = encode("a red circle"), neg = encode("blurry");
  auto latent = std::make_shared<Latent>();
  latent->samples = at::zeros({1, 4, 16, 16});
  auto sample = [&](const Value& p, const Value& n) {
    return run_node("KSampler", {{"model", Value(ck.model)}, {"seed", Value(int64_t(5))}, {"steps", Value(int64_t(3))},
                                 {"cfg", Value(5.0)}, {"sampler_name", Value("euler")}, {"scheduler", Value("normal")},
                                 {"positive", p}, {"negative", n}, {"latent_image", Value(latent)},
                                 {"denoise", Value(1.0)}})
        .values.at(0)
        .as<Latent>()
        ->samples;
  };
  at::manual_seed(4);
  const auto hint = at::rand({1, 32, 32, 3});
  auto with = [&](std::shared_ptr<ControlNet> cn, const at::Tensor& image) {
    auto o = run_node("ControlNetApplyAdvanced", {{"positive", pos}, {"negative", neg}, {"control_net", Value(cn)},
                                                  {"image", Value(image)}, {"strength", Value(1.0)},
                                                  {"start_percent", Value(0.0)}, {"end_percent", Value(1.0)}})
                 .values;
    return sample(o.at(0), o.at(1));
  };
  const auto plain = sample(pos, neg);
  EXPECT_TRUE(at::equal(with(zero, hint), plain)) << "zero convs must add exactly nothing";
  const auto a = with(trained, hint), b = with(trained, hint.flip({2}));
  EXPECT_GT((a - plain).abs().mean().item<double>(), 1e-4) << "the SDXL ControlNet changed nothing";
  EXPECT_GT((a - b).abs().mean().item<double>(), 1e-5) << "the hint image does not steer the picture";
  // with an SD1.5-width context (the tiny SD1.5's 32) the SDXL ControlNet fails naming the family mismatch
  auto c = trained->with_hint(hint.movedim(-1, 1), 1.0, 0, 1, nullptr);
  c->pre_run(std::make_shared<ModelSampling>(ModelSampling::discrete()));
  ModelConds conds;
  conds.c_crossattn = at::randn({1, 77, 32});
  try {
    c->get_control(at::randn({1, 4, 8, 8}), 2.0f, conds, 1);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("another model family"), std::string::npos) << e.what();
  }
}

TEST(InstructPixToPix, ConcatLatentReachesAnEightChannelUNetAndTheOutputDependsOnTheImage) {
  RuntimeConfig cfg;
  auto ck = load_checkpoint(test::golden_root() / "nets" / "tiny-sd15.safetensors", cfg);
  auto base = std::dynamic_pointer_cast<UNetModel>(ck.model->net);
  ASSERT_TRUE(base);
  UNetConfig uc = base->config();
  uc.in_channels = 8;  // the SD1.5 instruct-pix2pix layout: noisy latent + image latent
  RandomWeights w(5, at::kFloat);
  auto ip2p = std::make_shared<Model>(*ck.model);
  ip2p->net = std::make_shared<UNetModel>(uc, w);
  ip2p->ip2p = true;  // what detection sets for an 8-channel SD1.5 UNet (SD15_instructpix2pix)
  auto run = [&](const at::Tensor& image) {
    auto out = run_node("InstructPixToPixConditioning",
                        {{"positive", Value(cond_of(32))}, {"negative", Value(cond_of(32, 1, 2))},
                         {"vae", Value(ck.vae)}, {"pixels", Value(image)}})
                   .values;
    for (int i = 0; i < 2; ++i)
      EXPECT_TRUE(out[size_t(i)].as<Conditioning>()->entries[0].extra.at("concat_latent_image").is_tensor());
    auto latent = out[2].as<Latent>();
    EXPECT_EQ(at::count_nonzero(latent->samples).item<int64_t>(), 0);
    return run_node("KSampler", {{"model", Value(ip2p)}, {"seed", Value(int64_t(3))}, {"steps", Value(int64_t(2))},
                                 {"cfg", Value(4.0)}, {"sampler_name", Value("euler")}, {"scheduler", Value("normal")},
                                 {"positive", out[0]}, {"negative", out[1]}, {"latent_image", out[2]},
                                 {"denoise", Value(1.0)}})
        .values.at(0)
        .as<Latent>()
        ->samples;
  };
  at::manual_seed(9);
  auto img = at::rand({1, 19, 21, 3});  // cropped to 16x16 (offsets 1, 2) before encoding
  auto a = run(img), b = run(img), c = run(img.flip({2}));
  EXPECT_EQ(a.size(1), 4);
  EXPECT_TRUE(at::equal(a, b));
  EXPECT_GT((a - c).abs().mean().item<double>(), 1e-4) << "the edit ignores the input image";
}

// ---------------------------------------------------------------- LoraSave

TEST(LoraSave, ExtractsLowRankDifferencesAndFullDiffs) {
  RuntimeConfig base_cfg;
  auto ck = load_checkpoint(test::golden_root() / "nets" / "tiny-sd15.safetensors", base_cfg);
  auto unet = std::dynamic_pointer_cast<UNetModel>(ck.model->net);
  ASSERT_TRUE(unet);
  // A difference model: zero everywhere but a rank-1 linear and a rank-1 3x3 conv (a b^T with b of
  // constant magnitude and small a, so ComfyUI's 0.99-quantile clamp of U·S and Vh leaves the leading
  // triplet intact and the reconstruction is exact up to fp16), and one bias.
  at::manual_seed(4);
  auto sign_vec = [](int64_t n) { return (at::randint(0, 2, {n}).to(at::kFloat) * 2 - 1) * 0.01; };
  TensorMap diff;
  for (const auto& [k, t] : unet->weights()) diff[k] = at::zeros_like(t);
  const std::string lin = "input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight";
  const std::string conv = "input_blocks.3.0.in_layers.2.weight";
  const std::string bias = "input_blocks.3.0.in_layers.2.bias";
  diff[lin] = at::outer(at::randn({32}) * 0.05, sign_vec(32));
  diff[conv] = at::outer(at::randn({64}) * 0.02, sign_vec(32 * 9)).reshape({64, 32, 3, 3});
  diff[bias] = at::randn({64});
  auto model = std::make_shared<Model>(*ck.model);
  model->net = unet->with_weights(diff);

  test::TempDir td;
  RuntimeConfig cfg;
  cfg.output_dir = td.path;
  ExecContext ctx;
  ctx.config = &cfg;
  const NodeDef* def = Registry::global().find("LoraSave");
  auto save = [&](const std::string& type) {
    NodeInputs in;
    in.values = {{"filename_prefix", Value("loras/x_" + type)}, {"rank", Value(int64_t(4))},
                 {"lora_type", Value(type)}, {"bias_diff", Value(true)}, {"model_diff", Value(model)}};
    def->execute(in, ctx);
    return io::SafeTensors::open(td.path / "loras" / ("x_" + type + "_00001_.safetensors"));
  };
  auto std_file = save("standard");
  auto up = [&](const std::string& k) { return std_file->get("diffusion_model." + k.substr(0, k.size() - 7) + ".lora_up.weight"); };
  auto down = [&](const std::string& k) { return std_file->get("diffusion_model." + k.substr(0, k.size() - 7) + ".lora_down.weight"); };
  EXPECT_EQ(std_file->info("diffusion_model." + lin.substr(0, lin.size() - 7) + ".lora_up.weight").dtype, "F16");
  EXPECT_EQ(up(conv).sizes(), (std::vector<int64_t>{64, 4, 1, 1}));
  EXPECT_EQ(down(conv).sizes(), (std::vector<int64_t>{4, 32, 3, 3}));
  auto rel = [](const at::Tensor& a, const at::Tensor& b) { return ((a - b).norm() / b.norm()).item<double>(); };
  // up @ down reproduces the low-rank differences (fp16 factors)
  EXPECT_LT(rel(at::matmul(up(lin).to(at::kFloat), down(lin).to(at::kFloat)), diff[lin]), 5e-3);
  EXPECT_LT(rel(at::matmul(up(conv).to(at::kFloat).flatten(1), down(conv).to(at::kFloat).flatten(1)).view({64, 32, 3, 3}),
                diff[conv]),
            5e-3);
  EXPECT_TRUE(at::equal(std_file->get("diffusion_model." + bias.substr(0, bias.size() - 5) + ".diff_b"),
                        diff[bias].to(at::kHalf)));
  // norms (1-D weights) go out as .diff
  EXPECT_TRUE(std_file->contains("diffusion_model.out.0.diff"));

  auto full_file = save("full_diff");
  EXPECT_TRUE(at::equal(full_file->get("diffusion_model." + conv.substr(0, conv.size() - 7) + ".diff"),
                        diff[conv].to(at::kHalf)));
  EXPECT_FALSE(full_file->contains("diffusion_model." + lin.substr(0, lin.size() - 7) + ".lora_up.weight"));

  // Nothing connected: nothing written.
  NodeInputs none;
  none.values = {{"filename_prefix", Value("loras/none")}, {"rank", Value(int64_t(4))},
                 {"lora_type", Value("standard")}, {"bias_diff", Value(true)}};
  def->execute(none, ctx);
  EXPECT_FALSE(fs::exists(td.path / "loras" / "none_00001_.safetensors"));
}
