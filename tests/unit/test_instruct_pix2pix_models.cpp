// instruct-pix2pix checkpoints (ComfyUI supported_models.SD15_instructpix2pix / SDXL_instructpix2pix,
// model_base.IP2P) and SDXL's V_PREDICTION_EDM model type (keys edm_vpred.*, CosXL): detection from the
// golden tiny checkpoints with the input conv widened to 8 channels, the concat input
// (IP2P.concat_cond: zeros when absent, bilinear center-crop resize, batch repeat, CosXL's process_in),
// and CheckpointSave's keys for a continuous-EDM v-prediction model.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "comfy/core/node.hpp"
#include "comfy/io/safetensors.hpp"
#include "comfy/models/checkpoint.hpp"
#include "comfy/models/model_family.hpp"
#include "comfy/models/state_dict.hpp"
#include "test_util.hpp"

using namespace comfy;
namespace fs = std::filesystem;

namespace {

const std::string kIn0 = "model.diffusion_model.input_blocks.0.0.weight";

TensorMap golden_sd(const std::string& file) {
  TensorMap out;
  for (auto& [k, v] : load_state_dict(test::golden_root() / "models" / file)) out[k] = v.clone();
  return out;
}

// The first conv with `channels` input channels: the file's first min(C, channels) kept, zeros after.
TensorMap with_in_channels(TensorMap sd, int64_t channels) {
  const at::Tensor w = sd.at(kIn0);
  auto out = at::zeros({w.size(0), channels, w.size(2), w.size(3)}, w.options());
  const int64_t keep = std::min(channels, w.size(1));
  out.narrow(1, 0, keep).copy_(w.narrow(1, 0, keep));
  sd[kIn0] = out;
  return sd;
}

// Saved to a temp file and loaded as a checkpoint (the loader's whole path).
LoadedCheckpoint load_from(const TensorMap& sd, const test::TempDir& td, const std::string& name) {
  std::map<std::string, at::Tensor> m(sd.begin(), sd.end());
  io::save_safetensors(td.path / name, m);
  RuntimeConfig cfg;
  return load_checkpoint(td.path / name, cfg, /*want_clip=*/false);
}

std::shared_ptr<Model> ip2p_model(bool process_in) {
  auto m = std::make_shared<Model>();
  m->sampling = std::make_shared<ModelSampling>(ModelSampling::continuous_edm(0.002, 120.0));
  m->latent_format = LatentFormat::sdxl();
  m->ip2p = true;
  m->ip2p_process_in = process_in;
  return m;
}

}  // namespace

TEST(InstructPix2PixDetection, AnEightChannelSDXLIsTheSDXLEditFamilyAndEdmKeysMakeItCosXL) {
  auto sd = with_in_channels(golden_sd("tiny-sdxl.safetensors"), 8);
  auto d = detect_model(sd);
  ASSERT_NE(d.family, nullptr) << d.found;
  EXPECT_EQ(d.family->name, "SDXL_instructpix2pix");
  EXPECT_TRUE(d.family->ip2p);
  EXPECT_EQ(d.prediction, Prediction::EPS);  // diffusers-style edit model
  EXPECT_FALSE(d.continuous_edm);

  sd["edm_vpred.sigma_max"] = at::scalar_tensor(80.0, at::kFloat);
  d = detect_model(sd);
  EXPECT_TRUE(d.continuous_edm);
  EXPECT_EQ(d.prediction, Prediction::V_PREDICTION);
  EXPECT_EQ(d.sigma_max, 80.0);
  EXPECT_EQ(d.sigma_min, 0.002);  // ComfyUI's default when edm_vpred.sigma_min is absent
  EXPECT_NE(d.found.find("v-prediction EDM"), std::string::npos) << d.found;
  sd["edm_vpred.sigma_min"] = at::tensor({0.03f});  // one element, any shape (.item())
  d = detect_model(sd);
  EXPECT_EQ(d.sigma_min, double(0.03f));
}

TEST(InstructPix2PixDetection, AFourChannelSDXLWithEdmKeysIsCosXLNotEdit) {
  auto sd = golden_sd("tiny-sdxl.safetensors");
  sd["edm_vpred.sigma_max"] = at::scalar_tensor(120.0, at::kFloat);
  sd["edm_vpred.sigma_min"] = at::scalar_tensor(0.002, at::kFloat);
  auto d = detect_model(sd);
  ASSERT_NE(d.family, nullptr) << d.found;
  EXPECT_EQ(d.family->name, "SDXL");
  EXPECT_TRUE(d.continuous_edm);
  // bad values: refused with what was found
  sd["edm_vpred.sigma_max"] = at::zeros({2});
  d = detect_model(sd);
  EXPECT_EQ(d.family, nullptr);
  EXPECT_NE(d.found.find("edm_vpred.sigma_max"), std::string::npos) << d.found;
}

TEST(InstructPix2PixDetection, SD15EditIsItsOwnFamilyAndOtherEightChannelUNetsAreRefused) {
  auto sd15 = with_in_channels(golden_sd("tiny-sd15-inpaint.safetensors"), 8);
  auto d = detect_model(sd15);
  ASSERT_NE(d.family, nullptr) << d.found;
  EXPECT_EQ(d.family->name, "SD15_instructpix2pix");
  EXPECT_FALSE(d.inpaint);
  // SD2.x has no instruct-pix2pix class in ComfyUI: refused, saying what was found
  auto sd2 = with_in_channels(golden_sd("tiny-sd21-v.safetensors"), 8);
  d = detect_model(sd2);
  EXPECT_EQ(d.family, nullptr);
  EXPECT_NE(d.found.find("8 input channels"), std::string::npos) << d.found;
  EXPECT_NE(d.found.find("instruct-pix2pix"), std::string::npos) << d.found;
  // 5 channels: nothing
  d = detect_model(with_in_channels(golden_sd("tiny-sdxl.safetensors"), 5));
  EXPECT_EQ(d.family, nullptr);
  EXPECT_NE(d.found.find("5 input channels"), std::string::npos) << d.found;
}

TEST(InstructPix2PixDetection, LoadedCosXLEditSamplesContinuousEdmAndScalesTheImageLatent) {
  test::TempDir td;
  auto sd = with_in_channels(golden_sd("tiny-sdxl.safetensors"), 8);
  auto eps = load_from(sd, td, "edit-eps.safetensors");
  ASSERT_TRUE(eps.model);
  EXPECT_TRUE(eps.model->ip2p);
  EXPECT_FALSE(eps.model->ip2p_process_in);  // diffusers ip2p: the latent raw
  EXPECT_EQ(eps.model->sampling->kind, ModelSampling::Kind::Discrete);
  sd["edm_vpred.sigma_max"] = at::scalar_tensor(80.0, at::kFloat);
  sd["edm_vpred.sigma_min"] = at::scalar_tensor(0.03, at::kFloat);
  auto cos = load_from(sd, td, "cosxl_edit.safetensors");
  EXPECT_EQ(cos.model->family, "SDXL_instructpix2pix");
  EXPECT_TRUE(cos.model->ip2p_process_in);
  EXPECT_EQ(cos.model->latent_format.scale_factor, 0.13025);
  const auto& ms = *cos.model->sampling;
  EXPECT_EQ(ms.kind, ModelSampling::Kind::ContinuousEDM);
  EXPECT_EQ(ms.prediction, Prediction::V_PREDICTION);
  EXPECT_NEAR(ms.sigma_max(), 80.0, 80.0 * 5e-6);
  EXPECT_NEAR(ms.sigma_min(), 0.03, 0.03 * 5e-6);
  // an SD1.5 edit model never scales (SD15_instructpix2pix.process_ip2p_image_in is the identity)
  auto sd15 = load_from(with_in_channels(golden_sd("tiny-sd15-inpaint.safetensors"), 8), td, "ip2p15.safetensors");
  EXPECT_TRUE(sd15.model->ip2p);
  EXPECT_FALSE(sd15.model->ip2p_process_in);
  EXPECT_FALSE(sd15.model->inpaint);
}

// ---------------------------------------------------------------- the concat input

TEST(InstructPix2PixConcat, NoImageLatentIsZeros) {
  auto m = ip2p_model(true);
  CondEntry e;
  auto cc = m->concat_cond(e, {2, 4, 3, 5}, at::ones({2, 4, 3, 5}), {});
  ASSERT_TRUE(cc);
  EXPECT_TRUE(at::equal(*cc, at::zeros({2, 4, 3, 5})));
}

TEST(InstructPix2PixConcat, TheImageLatentIsCroppedResizedRepeatedAndScaled) {
  // Same aspect, half size: bilinear (align_corners False) at scale 1/2 is the mean of each 2x2 block.
  auto img = at::arange(1 * 4 * 4 * 6, at::kFloat).reshape({1, 4, 4, 6});
  CondEntry e;
  e.extra["concat_latent_image"] = Value(img);
  auto raw = ip2p_model(false)->concat_cond(e, {2, 4, 2, 3}, {}, {});
  ASSERT_TRUE(raw);
  auto blocks = at::avg_pool2d(img, {2, 2});
  EXPECT_TRUE(at::allclose(*raw, blocks.repeat({2, 1, 1, 1}), 1e-5, 1e-5));
  // CosXL: times the SDXL scale factor
  auto scaled = ip2p_model(true)->concat_cond(e, {2, 4, 2, 3}, {}, {});
  EXPECT_TRUE(at::allclose(*scaled, *raw * 0.13025, 1e-6, 1e-6));
  // Wider than the noise: the centre columns (1 and 2 of 4) at the same height, no resize
  auto wide = at::arange(1 * 4 * 2 * 4, at::kFloat).reshape({1, 4, 2, 4});
  e.extra["concat_latent_image"] = Value(wide);
  auto crop = ip2p_model(false)->concat_cond(e, {1, 4, 2, 2}, {}, {});
  EXPECT_TRUE(at::allclose(*crop, wide.narrow(3, 1, 2)));
  // A model without concat inputs ignores the entry (ComfyUI's BaseModel: no concat_keys)
  auto plain = ip2p_model(false);
  plain->ip2p = false;
  EXPECT_FALSE(plain->concat_cond(e, {1, 4, 2, 2}, {}, {}).has_value());
}

// ---------------------------------------------------------------- CheckpointSave

TEST(InstructPix2PixSave, EdmSigmasComeFromTheSamplingAndThePredictKeyFromTheLoadedModelType) {
  test::TempDir td;
  RuntimeConfig cfg;
  cfg.output_dir = td.path;
  auto ck = load_checkpoint(test::golden_root() / "nets" / "tiny-sd15.safetensors", cfg);
  ASSERT_EQ(ck.model->model_type, ModelType::EPS);
  auto save = [&](ModelType type, const std::string& prefix) {
    auto model = std::make_shared<Model>(*ck.model);  // as ModelSamplingContinuousEDM v_prediction leaves it
    model->sampling = std::make_shared<ModelSampling>(ModelSampling::continuous_edm(0.03, 80.0));
    model->model_type = type;
    NodeInputs in;
    in.values = {{"model", Value(model)}, {"clip", Value(ck.clip)}, {"vae", Value(ck.vae)},
                 {"filename_prefix", Value("checkpoints/" + prefix)}};
    ExecContext ctx;
    ctx.config = &cfg;
    Registry::global().find("CheckpointSave")->execute(in, ctx);
    return io::SafeTensors::open(td.path / "checkpoints" / (prefix + "_00001_.safetensors"));
  };
  // comfy_extras save_checkpoint: edm_vpred.* = torch.tensor(model_sampling.sigma_max).float() (0-d
  // float32) for any continuous-EDM v-prediction sampling; predict_key from model.model_type.
  for (auto [type, key] : {std::pair{ModelType::EPS, "epsilon"}, std::pair{ModelType::V_PREDICTION_EDM, ""}}) {
    auto f = save(type, key[0] ? "patched" : "cosxl");
    const auto names = f->names();
    EXPECT_EQ(std::count(names.begin(), names.end(), "v_pred"), 0);
    auto mx = f->get("edm_vpred.sigma_max"), mn = f->get("edm_vpred.sigma_min");
    EXPECT_EQ(mx.dim(), 0);
    EXPECT_EQ(mx.scalar_type(), at::kFloat);
    EXPECT_NEAR(mx.item<double>(), 80.0, 80.0 * 5e-6);
    EXPECT_NEAR(mn.item<double>(), 0.03, 0.03 * 5e-6);
    const auto& md = f->metadata();
    if (key[0]) EXPECT_EQ(md.at("modelspec.predict_key"), key);
    else EXPECT_EQ(md.count("modelspec.predict_key"), 0u);  // V_PREDICTION_EDM: none
  }
}
