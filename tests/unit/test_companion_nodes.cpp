// The Inspire / Impact companion nodes beyond their golden cases: FloatRange driving a consumer once per
// item through the executor, the block-vector grammar and its bad input, LBW files round-tripping, lazy
// merges, pipes and helpers. Expected values come from closed forms, numpy's documented stream, or the
// definitions in nodes-companions.md.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "comfy/core/node.hpp"
#include "comfy/core/types.hpp"
#include "comfy/exec/executor.hpp"
#include "comfy/io/png.hpp"
#include "comfy/io/safetensors.hpp"
#include "comfy/models/checkpoint.hpp"
#include "comfy/models/lbw.hpp"
#include "comfy/models/model_patcher.hpp"
#include "comfy/models/unet.hpp"
#include "comfy/sampling/noise.hpp"
#include "inspire/lbw_model.hpp"
#include "test_util.hpp"
#include "tiny_models.hpp"

using namespace comfy;
using ojson = nlohmann::ordered_json;

namespace {

struct Env {
  test::TempDir dir;
  RuntimeConfig cfg;
  Env() {
    std::filesystem::create_directories(dir.path / "models" / "loras");
    io::save_safetensors(dir.path / "models" / "loras" / "tiny.safetensors", test::make_tiny_lora(2, true));
    cfg.models_dirs = {dir.path / "models"};
    cfg.output_dir = dir.path / "output";
    cfg.temp_dir = dir.path / "temp";
    cfg.dtype = at::kFloat;
  }
};

NodeOutput run(const std::string& cls, std::map<std::string, Value> values, const RuntimeConfig& cfg,
               const nlohmann::ordered_json* prompt = nullptr) {
  const NodeDef* def = Registry::global().find(cls);
  EXPECT_NE(def, nullptr) << cls;
  NodeInputs in;
  in.values = std::move(values);
  ExecContext ctx;
  ctx.node_id = "7";
  ctx.class_type = cls;
  ctx.config = &cfg;
  ctx.prompt = prompt;
  return def->execute(in, ctx);
}

const LoadedCheckpoint& tiny(const RuntimeConfig& cfg) {
  static const LoadedCheckpoint c = load_checkpoint(test::tiny_sd15_path(), cfg);
  return c;
}

std::map<std::string, Value> lbw_inputs(const RuntimeConfig& cfg, const std::string& vector) {
  return {{"model", Value(tiny(cfg).model)}, {"clip", Value(tiny(cfg).clip)}, {"category_filter", Value("All")},
          {"lora_name", Value("tiny.safetensors")}, {"strength_model", Value(1.0)}, {"strength_clip", Value(1.0)},
          {"inverse", Value(false)}, {"seed", Value(Int(0))}, {"A", Value(4.0)}, {"B", Value(1.0)},
          {"preset", Value("Preset")}, {"block_vector", Value(vector)}, {"bypass", Value(false)}};
}

// ---- FloatRange and list mapping -----------------------------------------------------------------

TEST(FloatRangeList, EachStrengthRunsSeedExplorerOnceWithItsOwnMix) {
  RuntimeConfig cfg;
  Executor ex(Registry::global(), cfg);
  ojson p = ojson::parse(R"({
    "1": {"class_type": "FloatRange //Inspire", "inputs": {"start": 0.0, "stop": 1.0, "step": 0.5, "limit": 100, "ensure_end": true}},
    "2": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
    "3": {"class_type": "SeedExplorer //Inspire", "inputs": {"latent": ["2", 0], "seed_prompt": "12345", "enable_additional": true,
          "additional_seed": 777, "additional_strength": ["1", 0], "noise_mode": "CPU", "initial_batch_seed_mode": "incremental"}}})");
  auto r = ex.execute(p, {"3"});
  EXPECT_EQ(r.stats.executed, 3);
  auto list = r.outputs.at("3").at(0).as<ValueList>();
  ASSERT_EQ(list->items.size(), 3u);
  const auto base = randn_cpu({1, 4, 8, 8}, 12345), v = randn_cpu({1, 4, 8, 8}, 777);
  const double s[] = {0.0, 0.5, 1.0};
  for (size_t i = 0; i < 3; ++i)  // SeedExplorer's plain lerp (no renormalisation)
    EXPECT_TRUE(at::allclose(list->items[i].as_tensor(), (1 - s[i]) * base + s[i] * v, 0, 1e-6)) << "strength " << s[i];
}

TEST(FloatRangeList, ShowTextTakesTheWholeListOnceAndReportsIt) {
  RuntimeConfig cfg;
  std::vector<Event> events;
  Executor ex(Registry::global(), cfg, [&](const Event& e) { events.push_back(e); });
  ojson p = ojson::parse(R"({"1": {"class_type": "ShowText|pysssss", "inputs": {"text": "hello"}},
                             "2": {"class_type": "ShowText|pysssss", "inputs": {"text": ["1", 0]}}})");
  auto r = ex.execute(p, {"2"});
  EXPECT_EQ(r.ui_outputs.at("2"), nlohmann::json({{"text", {"hello"}}}));
  bool seen = false;
  for (auto& e : events) seen |= e.type == "executed" && e.data["node"] == "1" && e.data["output"]["text"][0] == "hello";
  EXPECT_TRUE(seen);
}

// ---- block vectors ---------------------------------------------------------------------------------

TEST(LbwVector, NumpyLegacyUniformFollowsTheDocumentedStream) {
  lbw::NumpyLegacyRandom r(0);  // np.random.seed(0); np.random.uniform() -> 0.5488135039273248
  EXPECT_DOUBLE_EQ(r.random_sample(), 0.5488135039273248);
  EXPECT_DOUBLE_EQ(r.random_sample(), 0.7151893663724195);
  EXPECT_EQ(lbw::py_round2(0.125), 0.12);  // exact tie -> even
  EXPECT_EQ(lbw::py_round2(2.675), 2.67);  // 2.675 is 2.67499999... in binary
  EXPECT_EQ(lbw::py_round2(-0.375), -0.38);
}

const std::vector<std::string> kKeys = {
    "diffusion_model.input_blocks.1.1.proj_in.weight", "diffusion_model.input_blocks.1.1.proj_out.weight",
    "diffusion_model.input_blocks.2.1.proj_in.weight", "diffusion_model.middle_block.1.proj_in.weight",
    "diffusion_model.output_blocks.11.1.proj_in.weight", "diffusion_model.time_embed.0.weight",
    "clip_l.transformer.text_model.encoder.layers.0.mlp.fc1.weight"};

TEST(LbwVector, EntriesGoToTheBlocksPresentInOrderAndSubValuesToSuccessiveKeys) {
  auto bw = lbw::block_weights(kKeys, "0.5,0.25 0.75,2,3,4,5,6,7,8,9,10,11", false, 0, 4, 1);
  EXPECT_EQ(bw.populated_vector, "0.5,0.25,2.0,3.0,4.0");
  std::map<std::string, double> r(bw.ratios.begin(), bw.ratios.end());
  EXPECT_EQ(r.at(kKeys[0]), 0.25);
  EXPECT_EQ(r.at(kKeys[1]), 0.75);
  EXPECT_EQ(r.at(kKeys[2]), 2.0);
  EXPECT_EQ(r.at(kKeys[3]), 3.0);
  EXPECT_EQ(r.at(kKeys[4]), 4.0);
  EXPECT_EQ(r.at(kKeys[5]), 0.5);  // others take the base
  EXPECT_EQ(r.at(kKeys[6]), 0.5);
}

TEST(LbwVector, InverseMutesWhatTheVectorKeepsAndPrintsIntegersForZeroAndOne) {
  auto bw = lbw::block_weights(kKeys, "SD-ALL", true, 0, 4, 1);
  EXPECT_EQ(bw.populated_vector, "0,0,0,0,0");
  EXPECT_TRUE(bw.ratios.empty());
  EXPECT_EQ(bw.muted.size(), kKeys.size());
}

TEST(LbwVector, PercentSpecNeedsTwelveEntriesAfterExpansion) {
  EXPECT_EQ(lbw::expand_block_spec(kKeys, "%default=0.5,in2=0,out=1"), "0.5,0.5,0.0,0.5,1.0");
  try {
    lbw::block_weights(kKeys, "%default=0.5", false, 0, 4, 1);
    FAIL() << "a 5-entry expansion must fail validation";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "[LoraLoaderBlockWeight] invalid block_vector '0.5,0.5,0.5,0.5,0.5'");
  }
}

// A range bound far past the blocks (fuzz_lbw found in1-5555...5 looping to the bound) visits only the
// existing blocks: the same expansion as a bound at the last block, at once.
TEST(LbwVector, PercentSpecRangeWithAHugeBoundStopsAtTheLastBlock) {
  EXPECT_EQ(lbw::expand_block_spec(kKeys, "%default=0.5,in1-99999999999999999999=0"),
            lbw::expand_block_spec(kKeys, "%default=0.5,in1-9=0"));
  EXPECT_EQ(lbw::expand_block_spec(kKeys, "%default=0.5,in2-1=0"), lbw::expand_block_spec(kKeys, "%default=0.5"));
}

// ---- bad input (issue 10 item 6), through the executor: the error names node, class and input ------

void expect_lbw_error(const std::string& vector, const std::string& message) {
  Env env;
  Executor ex(Registry::global(), env.cfg);
  std::filesystem::create_directories(env.dir.path / "models" / "checkpoints");
  std::filesystem::create_symlink(test::tiny_sd15_path(), env.dir.path / "models" / "checkpoints" / "tiny.safetensors");
  ojson p = ojson::parse(R"({"1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "tiny.safetensors"}},
    "5": {"class_type": "LoraLoaderBlockWeight //Inspire", "inputs": {"model": ["1", 0], "clip": ["1", 1],
      "category_filter": "All", "lora_name": "tiny.safetensors", "strength_model": 1.0, "strength_clip": 1.0,
      "inverse": false, "seed": 0, "A": 4.0, "B": 1.0, "preset": "Preset", "block_vector": "", "bypass": false}}})");
  p["5"]["inputs"]["block_vector"] = vector;
  try {
    ex.execute(p, {"5"});
    FAIL() << "block_vector '" << vector << "' should fail";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), message);
    EXPECT_EQ(e.node_id, "5");
    EXPECT_EQ(e.class_type, "LoraLoaderBlockWeight //Inspire");
    EXPECT_EQ(e.input_name, "block_vector");
  }
}

TEST(LbwBadInput, TooFewEntriesIsUpstreamsValueError) {
  expect_lbw_error("1,1,1,1,1", "[LoraLoaderBlockWeight] invalid block_vector '1,1,1,1,1'");
}
TEST(LbwBadInput, ANonNumberIsUpstreamsValueError) {
  expect_lbw_error("1,x,1,1,1,1,1,1,1,1,1,1", "[LoraLoaderBlockWeight] invalid block_vector '1,x,1,1,1,1,1,1,1,1,1,1'");
}
TEST(LbwBadInput, AnUnknownPresetNameIsUpstreamsValueError) {
  expect_lbw_error("SD-NOPE", "[LoraLoaderBlockWeight] invalid block_vector 'SD-NOPE'");
}

// ---- LBW files ------------------------------------------------------------------------------------

TEST(LbwFiles, SavedModelLoadsBackAndAppliesTheSameWeights) {
  Env env;
  auto made = run("MakeLBW //Inspire", lbw_inputs(env.cfg, "1,0.5,1 0,1,1,1,1,1,1,1,1,1"), env.cfg);
  auto lbw = made.values.at(0).as<lbw::LbwModel>();
  ASSERT_FALSE(lbw->blocks.empty());
  run("SaveLBW //Inspire", {{"lbw_model", made.values.at(0)}, {"filename_prefix", Value("sub/test")}}, env.cfg);
  auto file = env.dir.path / "models" / "lbw_models" / "sub" / "test_00001_.lbw.safetensors";
  ASSERT_TRUE(std::filesystem::exists(file));
  auto st = io::SafeTensors::open(file);
  EXPECT_EQ(st->metadata().at("format"), "Inspire LBW 1.0");
  EXPECT_EQ(st->metadata().at("muted_blocks").front(), '[');
  auto blocks = nlohmann::json::parse(st->metadata().at("blocks"));
  const auto& first = blocks[lbw->blocks[0].patch->model_key];
  EXPECT_EQ(first[0][0], "lora");
  EXPECT_EQ(first[0][1][0], "t1");
  EXPECT_EQ(first[1].get<double>(), lbw->blocks[0].ratio);

  auto loaded = run("LoadLBW //Inspire", {{"lbw_model", Value("sub/test_00001_.lbw.safetensors")}}, env.cfg);
  auto back = loaded.values.at(0).as<lbw::LbwModel>();
  ASSERT_EQ(back->blocks.size(), lbw->blocks.size());
  EXPECT_EQ(back->muted, lbw->muted);
  for (size_t i = 0; i < back->blocks.size(); ++i) {
    EXPECT_EQ(back->blocks[i].patch->model_key, lbw->blocks[i].patch->model_key);
    EXPECT_EQ(back->blocks[i].ratio, lbw->blocks[i].ratio);
    EXPECT_TRUE(at::equal(back->blocks[i].patch->up, lbw->blocks[i].patch->up));
  }
  auto apply = [&](const Value& m) {
    return run("ApplyLBW //Inspire", {{"model", Value(tiny(env.cfg).model)}, {"clip", Value(tiny(env.cfg).clip)},
                                      {"strength_model", Value(0.7)}, {"strength_clip", Value(0.3)}, {"lbw_model", m}},
               env.cfg);
  };
  auto a = apply(made.values.at(0)), b = apply(loaded.values.at(0));
  auto ua = resolve_unet(a.values[0].as<Model>()->net), ub = resolve_unet(b.values[0].as<Model>()->net);
  for (auto& [k, w] : ua->weights()) EXPECT_TRUE(at::equal(w, ub->weights().at(k))) << k;
}

// ---- merges ---------------------------------------------------------------------------------------

TEST(ModelMerge, IsLazyUntilUsedAndMovesBetweenTheModels) {
  Env env;
  auto lora = run("LoraLoaderBlockWeight //Inspire", lbw_inputs(env.cfg, "SD-ALL"), env.cfg).values[0].as<Model>();
  auto base = tiny(env.cfg).model;
  auto merged = run("ModelMergeSimple", {{"model1", Value(base)}, {"model2", Value(lora)}, {"ratio", Value(0.25)}}, env.cfg)
                    .values[0].as<Model>();
  auto patched = std::dynamic_pointer_cast<PatchedUNet>(merged->net);
  ASSERT_TRUE(patched);
  EXPECT_FALSE(patched->built());
  auto u1 = resolve_unet(base->net), u2 = resolve_unet(lora->net);
  auto built = patched->unet();
  for (auto& [k, w1] : u1->weights()) {
    auto expected = 0.25 * w1 + 0.75 * u2->weights().at(k);
    EXPECT_TRUE(at::allclose(built->weights().at(k), expected, 1e-6, 1e-6)) << k;
  }
  // ratio 1.0 is model1 itself, bit for bit (0 * W2 added).
  auto ident = run("ModelMergeSimple", {{"model1", Value(base)}, {"model2", Value(lora)}, {"ratio", Value(1.0)}}, env.cfg)
                   .values[0].as<Model>();
  auto iu = resolve_unet(ident->net);
  for (auto& [k, w1] : u1->weights()) EXPECT_TRUE(at::equal(iu->weights().at(k), w1)) << k;
}

TEST(ModelMerge, DifferentFamiliesAreRefusedNamingModel2) {
  Env env;
  auto shapes = std::make_shared<Model>(*tiny(env.cfg).model);
  shapes->family = "SDXL";
  try {
    run("ModelMergeAdd", {{"model1", Value(tiny(env.cfg).model)}, {"model2", Value(shapes)}}, env.cfg);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.input_name, "model2");
    EXPECT_NE(std::string(e.what()).find("different model families"), std::string::npos);
  }
}

TEST(ClipMerge, HalfRatioIsTheMeanRoundedToTheTextEncodersFloat16) {
  Env env;
  auto lora_clip = run("LoraLoaderBlockWeight //Inspire", lbw_inputs(env.cfg, "SD-ALL"), env.cfg).values[1].as<Clip>();
  auto base = tiny(env.cfg).clip;
  auto merged = run("CLIPMergeSimple", {{"clip1", Value(base)}, {"clip2", Value(lora_clip)}, {"ratio", Value(0.5)}}, env.cfg)
                    .values[0].as<Clip>();
  const auto& w1 = *base->encoder->lora_weights();
  const auto& w2 = *lora_clip->encoder->lora_weights();
  const auto& wm = *merged->encoder->lora_weights();
  const std::string k = "clip_l.transformer.text_model.encoder.layers.1.mlp.fc1.weight";  // the module the tiny LoRA patches
  EXPECT_FALSE(at::equal(w1.at(k), w2.at(k)));
  EXPECT_TRUE(at::equal(wm.at(k), (0.5 * w1.at(k) + 0.5 * w2.at(k)).to(at::kHalf).to(at::kFloat)));
}

// ---- pipes and helpers ----------------------------------------------------------------------------

TEST(BasicPipe, CarriesTheFiveObjectsThrough) {
  RuntimeConfig cfg;
  auto cond = std::make_shared<Conditioning>();
  std::map<std::string, Value> in = {{"model", Value(std::make_shared<Model>())}, {"clip", Value(std::make_shared<Clip>())},
                                     {"vae", Value(std::make_shared<Vae>())}, {"positive", Value(cond)},
                                     {"negative", Value("NegativePlaceholder")}};
  auto pipe = run("ToBasicPipe", in, cfg).values.at(0);
  auto out = run("FromBasicPipe_v2", {{"basic_pipe", pipe}}, cfg).values;
  ASSERT_EQ(out.size(), 6u);
  EXPECT_EQ(out[0].as_object(), pipe.as_object());
  EXPECT_EQ(out[1].as_object(), in["model"].as_object());
  EXPECT_EQ(out[4].as_object(), in["positive"].as_object());
  EXPECT_EQ(out[5].as_string(), "NegativePlaceholder");
  EXPECT_EQ(run("ImpactNegativeConditioningPlaceholder", {}, cfg).values.at(0).as_string(), "NegativePlaceholder");
}

TEST(SdxlEmptyLatentImage, ReadsBothKeyFormsAndFallsBackTo1024) {
  RuntimeConfig cfg;
  auto shape = [&](const std::string& key, const char* channels) {
    std::map<std::string, Value> in = {{"resolution", Value(key)}, {"batch_size", Value(Int(2))}};
    if (channels) in["channels"] = Value(channels);
    return run("SDXL Empty Latent Image", in, cfg).values.at(0).as<Latent>()->samples.sizes().vec();
  };
  EXPECT_EQ(shape("[SDXL] 832 x 1216 (0.68)", "4"), (std::vector<int64_t>{2, 4, 152, 104}));
  EXPECT_EQ(shape("512 x 912 (0.56) ★", nullptr), (std::vector<int64_t>{2, 4, 114, 64}));
  EXPECT_EQ(shape("something else", "16"), (std::vector<int64_t>{2, 16, 128, 128}));
}

TEST(ImageListToImageBatch, ConcatenatesAndRefusesMixedSizesClearly) {
  RuntimeConfig cfg;
  auto a = at::rand({1, 8, 8, 3}), b = at::rand({2, 8, 8, 3});
  auto l = std::make_shared<ValueList>(std::vector<Value>{Value(a), Value(b)});
  auto out = run("ImageListToImageBatch", {{"images", Value(l)}}, cfg).values.at(0).as_tensor();
  EXPECT_TRUE(at::equal(out, at::cat({a, b}, 0)));
  auto mixed = std::make_shared<ValueList>(std::vector<Value>{Value(a), Value(at::rand({1, 16, 8, 3}))});
  try {
    run("ImageListToImageBatch", {{"images", Value(mixed)}}, cfg);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.input_name, "images");
  }
}

TEST(RegionalSeedExplorerColorMask, AnInvalidColourIsUpstreamsError) {
  RuntimeConfig cfg;
  std::map<std::string, Value> in = {{"color_mask", Value(at::zeros({1, 8, 8, 3}))}, {"mask_color", Value("#GG0000")},
                                     {"noise", Value(at::zeros({1, 4, 8, 8}))}, {"seed_prompt", Value("1:0.5")},
                                     {"enable_additional", Value(false)}, {"additional_seed", Value(Int(0))},
                                     {"additional_strength", Value(0.0)}, {"noise_mode", Value("CPU")}};
  try {
    run("RegionalSeedExplorerColorMask //Inspire", in, cfg);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "[ERROR] Invalid mask_color value. mask_color should be a color value for RGB");
    EXPECT_EQ(e.input_name, "mask_color");
  }
  in["mask_color"] = Value("red");  // CSS names work like hex: red pixels -> 1
  in["color_mask"] = Value(at::tensor({1.f, 0.f, 0.f}).repeat({1, 8, 8, 1}));
  auto out = run("RegionalSeedExplorerColorMask //Inspire", in, cfg);
  EXPECT_TRUE(at::equal(out.values.at(1).as_tensor(), at::ones({1, 8, 8})));
}

std::string base64(const std::string& s) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < s.size(); i += 3) {
    uint32_t v = (uint8_t(s[i]) << 16) | (uint8_t(s[i + 1]) << 8) | uint8_t(s[i + 2]);
    for (int k = 3; k >= 0; --k) out.push_back(t[(v >> (6 * k)) & 63]);
  }
  if (i < s.size()) {
    uint32_t v = uint8_t(s[i]) << 16 | (i + 1 < s.size() ? uint8_t(s[i + 1]) << 8 : 0);
    out.push_back(t[(v >> 18) & 63]);
    out.push_back(t[(v >> 12) & 63]);
    out += i + 1 < s.size() ? std::string(1, t[(v >> 6) & 63]) + "=" : "==";
  }
  return out;
}

TEST(ImageReceiver, DecodesTheWorkflowDataUrlOrGivesAnEmptyImage) {
  RuntimeConfig cfg;
  auto img = (at::arange(4 * 6 * 3).reshape({4, 6, 3}).to(at::kFloat) / 255.0);
  std::map<std::string, Value> in = {{"image", Value("#DATA")}, {"link_id", Value(Int(0))}, {"save_to_workflow", Value(true)},
                                     {"image_data", Value("data:image/png;base64," + base64(io::encode_png(img)))},
                                     {"trigger_always", Value(false)}};
  auto out = run("ImageReceiver", in, cfg).values;
  EXPECT_TRUE(at::allclose(out.at(0).as_tensor(), img.unsqueeze(0), 0, 1e-6));
  EXPECT_TRUE(at::equal(out.at(1).as_tensor(), at::zeros({1, 64, 64})));
  in["image_data"] = Value("data:image/png;base64,bm90IGEgcG5n");
  out = run("ImageReceiver", in, cfg).values;
  EXPECT_TRUE(at::equal(out.at(0).as_tensor(), at::zeros({1, 64, 64, 3})));
}

TEST(PreviewBridgeLatent, PassesTheLatentWithAFullMaskAndWritesAPreview) {
  Env env;
  auto l = std::make_shared<Latent>();
  l->samples = at::randn({1, 4, 8, 16});
  auto out = run("PreviewBridgeLatent", {{"latent", Value(l)}, {"image", Value("")}, {"preview_method", Value("Latent2RGB-SD15")}},
                 env.cfg);
  EXPECT_EQ(out.values.at(0).as_object().get(), l.get());
  EXPECT_TRUE(at::equal(out.values.at(1).as_tensor(), at::ones({1, 8, 16})));
  ASSERT_EQ(out.ui["images"].size(), 1u);
  EXPECT_TRUE(std::filesystem::exists(env.cfg.temp_dir / out.ui["images"][0]["filename"].get<std::string>()));
  try {
    run("PreviewBridgeLatent", {{"latent", Value(l)}, {"image", Value("")}, {"preview_method", Value("Latent2RGB-FLUX.1")}},
        env.cfg);
    FAIL() << "a 4-channel latent with a 16-channel method needs vae_opt";
  } catch (const Error& e) {
    EXPECT_EQ(e.input_name, "preview_method");
  }
}

}  // namespace
