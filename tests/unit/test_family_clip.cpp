// SD2 / SDXL / refiner CLIP objects outside the golden cases: the OpenCLIP key conversion (closed form),
// the split-file loaders (files written here from the golden checkpoints' tensors, checked against the
// golden text_encode cases), CLIPTextEncodeSDXL's chunk padding, SDXL embeddings, and bad input.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "comfy/core/error.hpp"
#include "comfy/core/node.hpp"
#include "comfy/core/types.hpp"
#include "comfy/io/safetensors.hpp"
#include "comfy/models/checkpoint_clip.hpp"
#include "comfy/models/clip_files.hpp"
#include "comfy/models/family_clip.hpp"
#include "node_runner.hpp"
#include "test_util.hpp"
#include "tiny_text_encoders.hpp"

using namespace comfy;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

fs::path models_golden() { return test::golden_root() / "models"; }

TensorMap file_tensors(const std::string& name) { return test::golden_checkpoint_tensors(name); }
TensorMap under(const TensorMap& sd, const std::string& prefix) {
  TensorMap out;
  for (const auto& [k, t] : sd)
    if (k.rfind(prefix, 0) == 0) out[k.substr(prefix.size())] = t;
  return out;
}
using test::deepen_openclip;

using test::run_node;

// Plain CLIPTextEncode cases (no clip-skip, no node parameters) of a golden text family.
std::vector<json> plain_cases(const std::string& family) {
  std::vector<json> out;
  const json manifest = test::load_json(models_golden() / "manifest.json");
  for (const auto& c : manifest["cases"])
    if (c.value("family", "") == family && !c.contains("stop_at_clip_layer") && !c.contains("params")) out.push_back(c);
  return out;
}

// Encodes every plain case of `family` with `clip` and compares with the recorded outputs.
void expect_matches_golden(const std::shared_ptr<const Clip>& clip, const std::string& family, const RuntimeConfig& cfg) {
  auto cases = plain_cases(family);
  ASSERT_FALSE(cases.empty()) << family;
  for (const auto& c : cases) {
    auto gst = test::golden_file("models/" + c["file"].get<std::string>());
    auto cond = run_node("CLIPTextEncode", {{"clip", Value(clip)}, {"text", Value(c["text"].get<std::string>())}}, cfg)
                    .values.at(0).as<Conditioning>();
    const auto& e = cond->entries.at(0);
    EXPECT_EQ(test::check_close(e.cross_attn, gst->get(c["outputs"]["cond"].get<std::string>()), 1e-5, 1e-5), "") << c["id"];
    EXPECT_EQ(test::check_close(*e.pooled_output, gst->get(c["outputs"]["pooled_output"].get<std::string>()), 1e-5, 1e-5), "")
        << c["id"];
  }
}

struct ModelsDir {
  test::TempDir td;
  RuntimeConfig cfg;
  ModelsDir() {
    fs::create_directories(td.path / "models" / "text_encoders");
    cfg.models_dirs = {td.path / "models"};
  }
  void write(const std::string& name, const TensorMap& t, const std::string& folder = "text_encoders") {
    fs::create_directories(td.path / "models" / folder);
    io::save_safetensors(td.path / "models" / folder / name, t);
  }
};

}  // namespace

TEST(OpenClipKeys, InProjSplitsIntoQkvAndTextProjectionIsTransposed) {
  const int64_t W = 4, P = 3;
  TensorMap sd;
  sd["token_embedding.weight"] = at::randn({10, W});
  sd["positional_embedding"] = at::randn({77, W});
  sd["transformer.resblocks.0.attn.in_proj_weight"] = at::arange(3 * W * W, at::kFloat).reshape({3 * W, W});
  sd["transformer.resblocks.0.attn.in_proj_bias"] = at::arange(3 * W, at::kFloat);
  sd["transformer.resblocks.0.ln_1.weight"] = at::ones({W});
  sd["transformer.resblocks.0.mlp.c_fc.weight"] = at::randn({2 * W, W});
  sd["transformer.resblocks.0.mlp.c_proj.bias"] = at::randn({W});
  sd["ln_final.bias"] = at::randn({W});
  sd["text_projection"] = at::arange(W * P, at::kFloat).reshape({W, P});
  sd["logit_scale"] = at::tensor(4.6f);
  ASSERT_TRUE(is_openclip_layout(sd));
  auto hf = openclip_to_clip_text(sd);
  const auto& ipw = sd["transformer.resblocks.0.attn.in_proj_weight"];
  EXPECT_TRUE(at::equal(hf.at("encoder.layers.0.self_attn.q_proj.weight"), ipw.slice(0, 0, W)));
  EXPECT_TRUE(at::equal(hf.at("encoder.layers.0.self_attn.k_proj.weight"), ipw.slice(0, W, 2 * W)));
  EXPECT_TRUE(at::equal(hf.at("encoder.layers.0.self_attn.v_proj.weight"), ipw.slice(0, 2 * W, 3 * W)));
  EXPECT_TRUE(at::equal(hf.at("encoder.layers.0.self_attn.v_proj.bias"), at::arange(2 * W, 3 * W, at::kFloat)));
  EXPECT_TRUE(at::equal(hf.at("encoder.layers.0.layer_norm1.weight"), sd["transformer.resblocks.0.ln_1.weight"]));
  EXPECT_TRUE(at::equal(hf.at("encoder.layers.0.mlp.fc1.weight"), sd["transformer.resblocks.0.mlp.c_fc.weight"]));
  EXPECT_TRUE(at::equal(hf.at("encoder.layers.0.mlp.fc2.bias"), sd["transformer.resblocks.0.mlp.c_proj.bias"]));
  EXPECT_TRUE(at::equal(hf.at("embeddings.position_embedding.weight"), sd["positional_embedding"]));
  EXPECT_TRUE(at::equal(hf.at("final_layer_norm.bias"), sd["ln_final.bias"]));
  // x @ text_projection == Linear(x) with weight = text_projection^T
  auto x = at::randn({2, W});
  EXPECT_TRUE(at::allclose(at::linear(x, hf.at("text_projection.weight")), at::matmul(x, sd["text_projection"])));
  EXPECT_EQ(hf.count("transformer.resblocks.0.attn.in_proj_weight"), 0u);
}

TEST(CheckpointClip, EachKindFindsItsEncodersOrNone) {
  RuntimeConfig cfg;
  auto sdxl = file_tensors("tiny-sdxl.safetensors");
  auto clip = load_checkpoint_clip(sdxl, ClipKind::SDXL, cfg, "tiny-sdxl");
  ASSERT_TRUE(clip);
  auto enc = std::dynamic_pointer_cast<FamilyClipEncoder>(clip->encoder);
  ASSERT_TRUE(enc);
  ASSERT_EQ(enc->parts().size(), 2u);
  EXPECT_EQ(enc->parts()[0].model->config().hidden, 32);  // CLIP-L
  EXPECT_EQ(enc->parts()[1].model->config().hidden, 48);  // bigG
  EXPECT_EQ(enc->parts()[1].model->config().projection, 48);
  EXPECT_EQ(enc->parts()[1].model->config().activation, ClipActivation::Gelu);
  EXPECT_EQ(enc->parts()[0].model->config().activation, ClipActivation::QuickGelu);
  // an SDXL file holds no SD2 / refiner tower
  EXPECT_EQ(load_checkpoint_clip(sdxl, ClipKind::SD2, cfg, "tiny-sdxl"), nullptr);
  EXPECT_EQ(load_checkpoint_clip(sdxl, ClipKind::SDXLRefiner, cfg, "tiny-sdxl"), nullptr);
}

TEST(ClipLoaders, DualClipLoaderSdxlFromSplitFilesMatchesGolden) {
  ModelsDir md;
  auto sdxl = file_tensors("tiny-sdxl.safetensors");
  md.write("clip_l.safetensors", under(sdxl, "conditioner.embedders.0.transformer."));  // text_model.* (HF layout)
  md.write("clip_g.safetensors", deepen_openclip(under(sdxl, "conditioner.embedders.1.model."), 32));
  // either order: the file with encoder.layers.30 is bigG
  for (auto [a, b] : {std::pair{"clip_l.safetensors", "clip_g.safetensors"}, std::pair{"clip_g.safetensors", "clip_l.safetensors"}}) {
    auto clip = run_node("DualCLIPLoader", {{"clip_name1", Value(a)}, {"clip_name2", Value(b)}, {"type", Value("sdxl")}}, md.cfg)
                    .values.at(0).as<Clip>();
    expect_matches_golden(clip, "sdxl_text", md.cfg);
  }
}

TEST(ClipLoaders, ClipLoaderTellsSd2AndRefinerEncodersApartAndMatchesGolden) {
  ModelsDir md;
  md.write("vit_h.safetensors", deepen_openclip(under(file_tensors("tiny-sd21-v.safetensors"), "cond_stage_model.model."), 24));
  md.write("bigg.safetensors", deepen_openclip(under(file_tensors("tiny-sdxl-refiner.safetensors"), "conditioner.embedders.0.model."), 32));
  auto h = run_node("CLIPLoader", {{"clip_name", Value("vit_h.safetensors")}, {"type", Value("stable_diffusion")}}, md.cfg)
               .values.at(0).as<Clip>();
  EXPECT_EQ(std::dynamic_pointer_cast<FamilyClipEncoder>(h->encoder)->family(), ClipFamily::SD2);
  expect_matches_golden(h, "sd2_text", md.cfg);
  auto g = run_node("CLIPLoader", {{"clip_name", Value("bigg.safetensors")}, {"type", Value("stable_diffusion")}}, md.cfg)
               .values.at(0).as<Clip>();
  EXPECT_EQ(std::dynamic_pointer_cast<FamilyClipEncoder>(g->encoder)->family(), ClipFamily::SDXLRefiner);
  expect_matches_golden(g, "refiner_text", md.cfg);
}

TEST(ClipLoaders, ClipLoaderClipLFileEncodesLikeTheCheckpoint) {
  ModelsDir md;
  auto sd15 = file_tensors("tiny-sd15-inpaint.safetensors");
  md.write("clip_l.safetensors", under(sd15, "cond_stage_model.transformer."));
  auto split = run_node("CLIPLoader", {{"clip_name", Value("clip_l.safetensors")}, {"type", Value("stable_diffusion")}}, md.cfg)
                   .values.at(0).as<Clip>();
  auto ckpt = load_checkpoint_clip(sd15, ClipKind::SD1, md.cfg, "tiny-sd15-inpaint");
  auto a = split->encoder->encode("a (red:1.2) cube", std::nullopt).at(0);
  auto b = ckpt->encoder->encode("a (red:1.2) cube", std::nullopt).at(0);
  EXPECT_TRUE(at::equal(a.cross_attn, b.cross_attn));
  EXPECT_EQ(a.cross_attn.size(2), 32);
}

TEST(ClipLoaders, UnknownLayoutNamesWhatWasFound) {
  ModelsDir md;
  md.write("vae.safetensors", {{"encoder.conv_in.weight", at::zeros({4, 3, 3, 3})}, {"decoder.conv_out.bias", at::zeros({3})}});
  try {
    run_node("CLIPLoader", {{"clip_name", Value("vae.safetensors")}, {"type", Value("stable_diffusion")}}, md.cfg);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("vae.safetensors"), std::string::npos) << msg;
    EXPECT_NE(msg.find("2 tensors (decoder.conv_out.bias, encoder.conv_in.weight)"), std::string::npos) << msg;
    EXPECT_EQ(e.input_name, "clip_name");
  }
}

TEST(ClipLoaders, DualSdxlNeedsOneClipLAndOneBigG) {
  ModelsDir md;
  auto sdxl = file_tensors("tiny-sdxl.safetensors");
  md.write("l1.safetensors", under(sdxl, "conditioner.embedders.0.transformer."));
  md.write("l2.safetensors", under(sdxl, "conditioner.embedders.0.transformer."));
  try {
    run_node("DualCLIPLoader", {{"clip_name1", Value("l1.safetensors")}, {"clip_name2", Value("l2.safetensors")}, {"type", Value("sdxl")}},
             md.cfg);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("l1.safetensors: CLIP-L, l2.safetensors: CLIP-L"), std::string::npos) << msg;
  }
  try {
    run_node("CLIPLoader", {{"clip_name", Value("l1.safetensors")}, {"type", Value("wan")}}, md.cfg);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'wan' is not supported"), std::string::npos) << e.what();
  }
}

TEST(ClipTextEncodeSdxl, ShorterTextIsPaddedWithEmptyPromptChunks) {
  RuntimeConfig cfg;
  std::shared_ptr<const Clip> clip = load_checkpoint_clip(file_tensors("tiny-sdxl.safetensors"), ClipKind::SDXL, cfg, "tiny-sdxl");
  std::string long_text;
  for (int i = 0; i < 60; ++i) long_text += "castle" + std::to_string(i) + " ";
  auto out = run_node("CLIPTextEncodeSDXL",
                      {{"clip", Value(clip)}, {"width", Value(int64_t(1024))}, {"height", Value(int64_t(768))},
                       {"crop_w", Value(int64_t(0))}, {"crop_h", Value(int64_t(0))}, {"target_width", Value(int64_t(1024))},
                       {"target_height", Value(int64_t(768))}, {"text_g", Value(long_text)}, {"text_l", Value("a cat")}},
                      cfg)
                 .values.at(0).as<Conditioning>();
  const auto& e = out->entries.at(0);
  ASSERT_GT(e.cross_attn.size(1), 77);  // text_g needs several chunks
  // the l half (channels 0..31) of every extra chunk is the l encoding of "" (chunks encode independently)
  auto empty = clip->encoder->encode("", std::nullopt).at(0).cross_attn;  // [1, 77, 80]
  auto cat = clip->encoder->encode("a cat", std::nullopt).at(0).cross_attn;
  // (batches of different sizes round differently in the last bits: compare at the golden tolerance)
  EXPECT_EQ(test::check_close(e.cross_attn.slice(1, 0, 77).slice(2, 0, 32), cat.slice(2, 0, 32), 1e-5, 1e-5), "");
  for (int64_t k = 1; k < e.cross_attn.size(1) / 77; ++k)
    EXPECT_EQ(test::check_close(e.cross_attn.slice(1, 77 * k, 77 * (k + 1)).slice(2, 0, 32), empty.slice(2, 0, 32), 1e-5, 1e-5), "") << k;
  // the g half comes from text_g alone
  auto g = clip->encoder->encode(long_text, std::nullopt).at(0).cross_attn;
  EXPECT_EQ(test::check_close(e.cross_attn.slice(2, 32, 80), g.slice(2, 32, 80), 1e-5, 1e-5), "");
  EXPECT_EQ(e.extra.at("height").as_i64(), 768);
}

TEST(ClipTextEncodeSdxl, NeedsAnSdxlClip) {
  RuntimeConfig cfg;
  std::shared_ptr<const Clip> sd2 = load_checkpoint_clip(file_tensors("tiny-sd21-v.safetensors"), ClipKind::SD2, cfg, "tiny-sd21-v");
  try {
    run_node("CLIPTextEncodeSDXL",
             {{"clip", Value(sd2)}, {"width", Value(int64_t(1024))}, {"height", Value(int64_t(1024))}, {"crop_w", Value(int64_t(0))},
              {"crop_h", Value(int64_t(0))}, {"target_width", Value(int64_t(1024))}, {"target_height", Value(int64_t(1024))},
              {"text_g", Value("a")}, {"text_l", Value("b")}},
             cfg);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("KeyError"), std::string::npos) << e.what();
    EXPECT_EQ(e.input_name, "clip");
  }
}

TEST(FamilyClip, SdxlEmbeddingFileGivesEachEncoderItsOwnVector) {
  ModelsDir md;
  auto l = at::randn({1, 32}), g = at::randn({2, 48});
  md.write("sdxl_emb.safetensors", {{"clip_l", l}, {"clip_g", g}}, "embeddings");
  auto clip = load_checkpoint_clip(file_tensors("tiny-sdxl.safetensors"), ClipKind::SDXL, md.cfg, "tiny-sdxl");
  auto tokens = clip->encoder->tokenize_sets("a embedding:sdxl_emb cat");
  const auto& tl = tokens.at("l").at(0);
  const auto& tg = tokens.at("g").at(0);
  // [start, a, emb..., cat, end, pad...]
  ASSERT_TRUE(tl[2].embedding.defined());
  EXPECT_TRUE(at::equal(tl[2].embedding, l[0]));
  ASSERT_TRUE(tg[2].embedding.defined() && tg[3].embedding.defined());
  EXPECT_TRUE(at::equal(tg[3].embedding, g[1]));
  EXPECT_EQ(tg.back().id, 0);  // g pads with 0
  EXPECT_EQ(tl.back().id, 49407);
  // the vectors reach the encoders: a different vector changes the cond of both halves
  auto with = clip->encoder->encode_sets(tokens, std::nullopt).at(0).cross_attn;
  auto tokens2 = tokens;
  tokens2["l"][0][2].embedding = at::zeros({32});
  tokens2["g"][0][2].embedding = at::zeros({48});
  auto other = clip->encoder->encode_sets(tokens2, std::nullopt).at(0).cross_attn;
  EXPECT_FALSE(at::allclose(with.slice(2, 0, 32), other.slice(2, 0, 32)));
  EXPECT_FALSE(at::allclose(with.slice(2, 32, 80), other.slice(2, 32, 80)));
}
