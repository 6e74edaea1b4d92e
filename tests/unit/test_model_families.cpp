// Model families (spec models-sdxl-sd2.md): detection and refusal by name, the loaders' answers to bad
// files, the sampling-type nodes (ModelSamplingDiscrete, SDTurboScheduler), the inpainting concat input
// and InpaintModelConditioning. Expectations come from the spec's closed forms and ComfyUI's rules; the
// tiny checkpoints are the golden set's (models/ under the golden root).
#include <ATen/ATen.h>
#include <caffe2/serialize/inline_container.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "comfy/core/error.hpp"
#include "comfy/core/node.hpp"
#include "comfy/core/types.hpp"
#include "comfy/io/safetensors.hpp"
#include "comfy/models/checkpoint.hpp"
#include "comfy/models/lora.hpp"
#include "comfy/models/model_family.hpp"
#include "comfy/models/state_dict.hpp"
#include "comfy/models/unet.hpp"
#include "comfy/models/vae.hpp"
#include "comfy/sampling/ksampler.hpp"
#include "comfy/sampling/schedulers.hpp"
#include "test_util.hpp"

using namespace comfy;

namespace {

std::filesystem::path models_dir() { return test::golden_root() / "models"; }

// The whole checkpoint as an owned map (so tests can change it).
TensorMap golden_sd(const std::string& file) {
  TensorMap out;
  for (auto& [k, v] : load_state_dict(models_dir() / file)) out[k] = v.clone();
  return out;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

RuntimeConfig f32() {
  RuntimeConfig cfg;
  cfg.dtype = at::kFloat;
  return cfg;
}

Value value_of_default(const InputSpec& in) {
  const auto& d = in.default_value;
  if (in.is_combo()) return Value(d.is_string() ? d.get<std::string>() : in.choices().at(0));
  if (in.type == "INT") return Value(d.get<int64_t>());
  if (in.type == "FLOAT") return Value(d.get<double>());
  if (in.type == "BOOLEAN") return Value(d.get<bool>());
  return Value(d.get<std::string>());
}

NodeOutput run_node(const std::string& cls, std::map<std::string, Value> values) {
  static const RuntimeConfig cfg;
  const NodeDef* def = Registry::global().find(cls);
  if (!def) throw std::runtime_error("no node " + cls);
  for (const auto& in : def->schema.inputs)
    if (!values.count(in.name) && (in.is_combo() || !in.default_value.is_null()) && in.group != InputGroup::Hidden)
      values[in.name] = value_of_default(in);
  NodeInputs ni;
  ni.values = std::move(values);
  ExecContext ctx;
  ctx.class_type = cls;
  ctx.config = &cfg;
  return def->execute(ni, ctx);
}

std::shared_ptr<Model> bare_model() {
  auto m = std::make_shared<Model>();
  m->sampling = std::make_shared<ModelSampling>(ModelSampling::discrete());
  return m;
}

// ---------------------------------------------------------------- detection

TEST(ModelFamilyDetection, TheTableIsInComfyUIsOrder) {
  std::vector<std::string> names;
  for (const auto& f : model_families()) names.push_back(f.name);
  EXPECT_EQ(names, (std::vector<std::string>{"SD15_instructpix2pix", "SD15", "SD20", "SD21UnclipH",
                                             "SDXL_instructpix2pix", "SDXLRefiner", "SDXL"}));
}

TEST(ModelFamilyDetection, RefusesAnUnknownContextWidthSayingWhatWasFound) {
  auto sd = golden_sd("tiny-sd15-inpaint.safetensors");
  // The first cross-attention decides context_dim: make it 4096 wide.
  const std::string k = "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight";
  ASSERT_TRUE(sd.count(k));
  sd[k] = at::zeros({sd[k].size(0), 4096});
  auto d = detect_model(sd);
  EXPECT_EQ(d.family, nullptr);
  EXPECT_NE(d.found.find("UNet context_dim 4096, no adm"), std::string::npos) << d.found;
  EXPECT_NE(d.found.find("not a supported model family"), std::string::npos) << d.found;
}

TEST(ModelFamilyDetection, RefusesSD3AndFluxByName) {
  TensorMap sd3{{"model.diffusion_model.joint_blocks.0.x_block.attn.qkv.weight", at::zeros({3, 1})}};
  TensorMap flux{{"model.diffusion_model.double_blocks.0.img_attn.qkv.weight", at::zeros({3, 1})}};
  EXPECT_NE(detect_model(sd3).found.find("SD3"), std::string::npos);
  EXPECT_NE(detect_model(flux).found.find("Flux"), std::string::npos);
  EXPECT_EQ(detect_model(flux).family, nullptr);
  TensorMap lora{{"lora_unet_input_blocks_1_1_proj_in.lora_up.weight", at::zeros({3, 1})}};
  EXPECT_NE(detect_model(lora).found.find("no UNet"), std::string::npos);
}

TEST(ModelFamilyDetection, SDXLVPredAndZtsnrKeysSelectVPredictionAndTheZeroSNRSchedule) {
  auto sd = golden_sd("tiny-sdxl.safetensors");
  EXPECT_EQ(detect_model(sd).prediction, Prediction::EPS);
  sd["v_pred"] = at::empty({0});
  auto d = detect_model(sd);
  EXPECT_EQ(d.prediction, Prediction::V_PREDICTION);
  EXPECT_FALSE(d.zsnr);
  sd["ztsnr"] = at::empty({0});
  EXPECT_TRUE(detect_model(sd).zsnr);
  sd["edm_mean"] = at::zeros({4});
  sd["edm_std"] = at::ones({4});
  EXPECT_EQ(detect_model(sd).family, nullptr);  // Playground 2.5 (EDM): refused by name
}

TEST(ModelFamilyDetection, SD2IsEpsWhenTheNormBiasSpreadIsSmall) {
  auto sd = golden_sd("tiny-sd21-v.safetensors");
  const std::string k = "model.diffusion_model.output_blocks.11.1.transformer_blocks.0.norm1.bias";
  ASSERT_TRUE(sd.count(k));
  EXPECT_EQ(detect_model(sd).prediction, Prediction::V_PREDICTION);  // std 0.2059 > 0.09
  // Population std 0.08 is not "> 0.09"; 0.1 is.
  sd[k] = at::tensor({-0.08f, 0.08f});
  EXPECT_EQ(detect_model(sd).prediction, Prediction::EPS);
  sd[k] = at::tensor({-0.1f, 0.1f});
  EXPECT_EQ(detect_model(sd).prediction, Prediction::V_PREDICTION);
}

TEST(ModelFamilyDetection, ABareUNetFileIsReadWithoutPrefix) {
  TensorMap bare;
  for (auto& [k, v] : golden_sd("tiny-sdxl-refiner.safetensors"))
    if (k.rfind("model.diffusion_model.", 0) == 0) bare[k.substr(22)] = v;
  auto d = detect_model(bare);
  ASSERT_NE(d.family, nullptr) << d.found;
  EXPECT_EQ(d.family->name, "SDXLRefiner");
  EXPECT_EQ(d.unet_prefix, "");
}

// ---------------------------------------------------------------- bad files

TEST(CheckpointBadInput, TruncatedSDXLFileIsAnErrorNamingTheFile) {
  test::TempDir tmp;
  const auto src = models_dir() / "tiny-sdxl.safetensors";
  std::ifstream in(src, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  const auto path = tmp.path / "sdxl-truncated.safetensors";
  std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size() / 2));
  auto msg = error_of([&] { load_checkpoint(path, f32()); });
  EXPECT_NE(msg.find("sdxl-truncated.safetensors"), std::string::npos) << msg;
}

TEST(CheckpointBadInput, SD1TextEncoderNextToAnSDXLUNetIsRefusedAsAMix) {
  test::TempDir tmp;
  std::map<std::string, at::Tensor> mixed;
  for (auto& [k, v] : golden_sd("tiny-sdxl.safetensors"))
    if (k.rfind("conditioner.", 0) != 0) mixed[k] = v;
  for (auto& [k, v] : load_state_dict(test::golden_root() / "nets" / "tiny-sd15.safetensors"))
    if (k.rfind("cond_stage_model.", 0) == 0) mixed[k] = v.clone();
  const auto path = tmp.path / "mixed.safetensors";
  io::save_safetensors(path, mixed);
  auto msg = error_of([&] { load_checkpoint(path, f32()); });
  EXPECT_NE(msg.find("mixed.safetensors"), std::string::npos) << msg;
  EXPECT_NE(msg.find("mixes model families"), std::string::npos) << msg;
  EXPECT_NE(msg.find("SDXL base UNet"), std::string::npos) << msg;
}

TEST(CheckpointBadInput, AMissingUNetWeightIsNamed) {
  test::TempDir tmp;
  auto sd = golden_sd("tiny-sdxl.safetensors");
  const std::string k = "model.diffusion_model.middle_block.0.emb_layers.1.weight";
  ASSERT_EQ(sd.erase(k), 1u);
  const auto path = tmp.path / "missing.safetensors";
  io::save_safetensors(path, std::map<std::string, at::Tensor>(sd.begin(), sd.end()));
  auto msg = error_of([&] { load_checkpoint(path, f32(), false, false); });
  EXPECT_NE(msg.find("middle_block.0.emb_layers.1.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("missing.safetensors"), std::string::npos) << msg;
}

// A pickle (protocol 2) of {"state_dict": os.system("touch <marker>")}.
std::string evil_pickle(const std::filesystem::path& marker) {
  const std::string cmd = "touch " + marker.string();
  static const char head[] = "\x80\x02}q\x00X\x0a\x00\x00\x00state_dictq\x01" "cos\nsystem\nq\x02";
  std::string p(head, sizeof head - 1);  // holds NUL bytes
  p += "X";
  const uint32_t n = uint32_t(cmd.size());
  p.append(reinterpret_cast<const char*>(&n), 4);
  p += cmd;
  p += "\x85R";  // TUPLE1, REDUCE
  p += "s.";     // SETITEM, STOP
  return p;
}

TEST(CheckpointBadInput, ACkptCallingOsSystemIsRefusedByNameAndNeverRun) {
  test::TempDir tmp;
  const auto marker = tmp.path / "pwned";
  // zip (torch >= 1.6) format
  const auto zip_path = tmp.path / "evil.ckpt";
  {
    caffe2::serialize::PyTorchStreamWriter w(zip_path.string());
    const std::string pkl = evil_pickle(marker);
    w.writeRecord("data.pkl", pkl.data(), pkl.size());
    w.writeRecord("version", "3\n", 2);
    w.writeEndOfFile();
  }
  auto msg = error_of([&] { load_state_dict(zip_path); });
  EXPECT_NE(msg.find("os system"), std::string::npos) << msg;
  EXPECT_NE(msg.find("evil.ckpt"), std::string::npos) << msg;
  // legacy format: magic, protocol 1001, sys info, then the object
  const auto legacy_path = tmp.path / "evil-legacy.ckpt";
  {
    std::ofstream f(legacy_path, std::ios::binary);
    f << std::string("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19\x2e", 15);
    f << std::string("\x80\x02M\xe9\x03.", 6);
    f << std::string("\x80\x02}q\x00.", 6);
    f << evil_pickle(marker);
    f << std::string("\x80\x02]q\x00.", 6);
  }
  msg = error_of([&] { load_state_dict(legacy_path); });
  EXPECT_NE(msg.find("os system"), std::string::npos) << msg;
  RuntimeConfig cfg = f32();
  msg = error_of([&] { load_checkpoint(legacy_path, cfg); });
  EXPECT_NE(msg.find("evil-legacy.ckpt"), std::string::npos) << msg;
  EXPECT_FALSE(std::filesystem::exists(marker));
}

TEST(CheckpointBadInput, RefinerFedSDXLBaseConditioningIsAClearError) {
  auto refiner = load_checkpoint(models_dir() / "tiny-sdxl-refiner.safetensors", f32(), false, false).model;
  const int64_t base_width = detect_model(golden_sd("tiny-sdxl.safetensors")).unet.context_dim;  // 80
  auto cond = std::make_shared<Conditioning>();
  CondEntry e;
  e.cross_attn = at::randn({1, 77, base_width});
  e.pooled_output = at::randn({1, 48});
  cond->entries.push_back(e);
  CoreKSamplerArgs a;
  a.model = refiner;
  a.steps = 1;
  a.positive = a.negative = cond;
  auto latent = std::make_shared<Latent>();
  latent->samples = at::zeros({1, 4, 8, 8});
  a.latent = latent;
  auto msg = error_of([&] { common_ksampler(a); });
  EXPECT_NE(msg.find(std::to_string(base_width) + " features per token"), std::string::npos) << msg;
  EXPECT_NE(msg.find("takes " + std::to_string(refiner->net ? 48 : 0)), std::string::npos) << msg;
}

TEST(CheckpointBadInput, SDXLConditioningWithoutPooledOutputIsAClearError) {
  auto sdxl = load_checkpoint(models_dir() / "tiny-sdxl.safetensors", f32(), false, false).model;
  CondEntry e;
  e.cross_attn = at::zeros({1, 77, 80});
  auto msg = error_of([&] { sdxl->encode_adm(e, 64, 64, false); });
  EXPECT_NE(msg.find("pooled_output"), std::string::npos) << msg;
}

TEST(CheckpointBadInput, AnSDXLLoraOnSD15SkipsWhatDoesNotFitAndSaysSo) {
  test::TempDir tmp;
  // kohya names built from the tiny SDXL UNet's own attention weights (rank 2)
  auto xl = golden_sd("tiny-sdxl.safetensors");
  std::map<std::string, at::Tensor> lora;
  for (auto& [k, v] : xl) {
    const std::string p = "model.diffusion_model.";
    if (k.rfind(p, 0) != 0 || k.find("attn2.to_k.weight") == std::string::npos) continue;
    std::string name = "lora_unet_" + k.substr(p.size(), k.size() - p.size() - 7);
    for (auto& ch : name)
      if (ch == '.') ch = '_';
    lora[name + ".lora_up.weight"] = at::ones({v.size(0), 2});
    lora[name + ".lora_down.weight"] = at::ones({2, v.size(1)});
  }
  ASSERT_FALSE(lora.empty());
  const auto path = tmp.path / "sdxl-lora.safetensors";
  io::save_safetensors(path, lora);
  auto st = io::SafeTensors::open(path);
  auto sd15 = load_checkpoint(test::golden_root() / "nets" / "tiny-sd15.safetensors", f32(), false, false).model;
  auto unet = std::dynamic_pointer_cast<UNetModel>(sd15->net);
  ASSERT_TRUE(unet);
  LoraMerge m;
  ASSERT_NO_THROW(m = merge_lora(*st, &unet->config(), &unet->weights(), 1.0, nullptr, 0.0));
  // Every LoRA module either did not match an SD1.5 weight or did not fit it; nothing was changed.
  EXPECT_TRUE(m.unet.empty());
  EXPECT_EQ(m.not_loaded.size() + 2 * m.shape_mismatch.size(), lora.size());
  EXPECT_FALSE(m.shape_mismatch.empty() && m.not_loaded.empty());
}

TEST(CheckpointLoading, ACkptLoadsToTheSameModelAsItsSafetensors) {
  const auto ck = models_dir() / "tiny-sd15.ckpt";
  auto a = load_checkpoint(ck, f32(), false, true);
  auto b = load_checkpoint(test::golden_root() / "nets" / "tiny-sd15.safetensors", f32(), false, true);
  EXPECT_EQ(a.model->family, "SD15");
  ASSERT_TRUE(a.vae);
  auto ua = std::dynamic_pointer_cast<UNetModel>(a.model->net), ub = std::dynamic_pointer_cast<UNetModel>(b.model->net);
  ASSERT_EQ(ua->weights().size(), ub->weights().size());
  for (auto& [k, v] : ub->weights()) EXPECT_TRUE(at::equal(ua->weights().at(k), v)) << k;
}

// ---------------------------------------------------------------- sampling types

TEST(ModelSamplingDiscreteNode, SwitchesThePredictionOnACopy) {
  auto m = bare_model();
  auto out = run_node("ModelSamplingDiscrete", {{"model", Value(m)}, {"sampling", Value(std::string("v_prediction"))}})
                 .values.at(0).as<Model>();
  EXPECT_EQ(out->sampling->prediction, Prediction::V_PREDICTION);
  EXPECT_EQ(m->sampling->prediction, Prediction::EPS);
  // V_PREDICTION closed form (spec M5): x/(s^2+1) - out*s/sqrt(s^2+1)
  auto x = at::full({1, 1, 1, 1}, 2.0f), o = at::full({1, 1, 1, 1}, 0.5f);
  const float s = 3.0f;
  EXPECT_NEAR(out->sampling->calculate_denoised(s, o, x).item<float>(), 2.0 / 10 - 0.5 * 3 / std::sqrt(10.0), 1e-6);
  auto x0 = run_node("ModelSamplingDiscrete", {{"model", Value(m)}, {"sampling", Value(std::string("x0"))}})
                .values.at(0).as<Model>();
  EXPECT_NEAR(x0->sampling->calculate_denoised(s, o, x).item<float>(), 0.5, 0);
}

TEST(ModelSamplingDiscreteNode, ZsnrEndsTheScheduleAtTheRescaledTerminalSigma) {
  auto out = run_node("ModelSamplingDiscrete", {{"model", Value(bare_model())},
                                                {"sampling", Value(std::string("eps"))},
                                                {"zsnr", Value(true)}})
                 .values.at(0).as<Model>();
  const double ab = 4.8973451890853435e-08;
  EXPECT_NEAR(out->sampling->sigma_max(), std::sqrt((1 - ab) / ab), 1e-2);
}

TEST(ModelSamplingDiscreteNode, LcmUsesFiftyDistilledStepsAndTheBoundaryScaling) {
  auto full = ModelSampling::discrete();
  auto out = run_node("ModelSamplingDiscrete", {{"model", Value(bare_model())}, {"sampling", Value(std::string("lcm"))}})
                 .values.at(0).as<Model>();
  const auto& ms = *out->sampling;
  ASSERT_EQ(ms.sigmas_host.size(), 50u);
  EXPECT_EQ(ms.sigmas_host[49], full.sigmas_host[999]);
  EXPECT_EQ(ms.sigmas_host[0], full.sigmas_host[19]);
  EXPECT_EQ(ms.timestep_value(full.sigmas_host[999]), 999.0f);
  EXPECT_EQ(ms.timestep_value(full.sigmas_host[519]), 519.0f);
  // denoised = c_out*(x - out*s) + c_skip*x at t = 10*timestep, sigma_data 0.5
  const float s = full.sigmas_host[519];
  auto x = at::full({1, 1, 1, 1}, 2.0f), o = at::full({1, 1, 1, 1}, 0.5f);
  const double t = 5190.0, c_skip = 0.25 / (t * t + 0.25), c_out = t / std::sqrt(t * t + 0.25);
  EXPECT_NEAR(ms.calculate_denoised(s, o, x).item<float>(), c_out * (2.0 - 0.5 * s) + c_skip * 2.0, 1e-5);
}

TEST(SDTurboSchedulerNode, TakesStepsFromTheTruncatedDenoiseIndex) {
  auto m = bare_model();
  auto sig = run_node("SDTurboScheduler", {{"model", Value(m)}, {"steps", Value(int64_t(10))}, {"denoise", Value(0.3)}})
                 .values.at(0).as_tensor();
  // start 10 - int(3.0000000000000004) = 7: t 299, 199, 99 then 0
  ASSERT_EQ(sig.numel(), 4);
  EXPECT_FLOAT_EQ(sig[0].item<float>(), m->sampling->sigmas_host[299]);
  EXPECT_FLOAT_EQ(sig[2].item<float>(), m->sampling->sigmas_host[99]);
  EXPECT_EQ(sig[3].item<float>(), 0.0f);
  auto zero = run_node("SDTurboScheduler", {{"model", Value(m)}, {"denoise", Value(0.0)}}).values.at(0).as_tensor();
  EXPECT_EQ(zero.numel(), 1);
}

// ---------------------------------------------------------------- inpainting

TEST(InpaintConcat, WithoutAMaskTheWholeImageIsToInpaintOverBlank) {
  auto m = bare_model();
  m->inpaint = true;
  CondEntry e;
  auto cc = m->concat_cond(e, {2, 4, 3, 5}, {}, {});
  ASSERT_TRUE(cc);
  ASSERT_EQ(cc->sizes(), (at::IntArrayRef{2, 5, 3, 5}));
  EXPECT_TRUE(at::equal(cc->select(1, 0), at::ones({2, 3, 5})));
  const float blank[4] = {0.8223f, -0.6876f, 0.6364f, 0.1380f};
  for (int c = 0; c < 4; ++c) EXPECT_TRUE(at::allclose(cc->select(1, c + 1), at::full({2, 3, 5}, blank[c])));
  m->inpaint = false;
  EXPECT_FALSE(m->concat_cond(e, {2, 4, 3, 5}, {}, {}).has_value());
}

TEST(InpaintConcat, TheNoiseMaskIsRoundedAndTheLatentIsTheMaskedImage) {
  auto m = bare_model();
  m->inpaint = true;
  CondEntry e;
  auto latent = at::arange(16, at::kFloat).reshape({1, 4, 2, 2});
  auto mask = at::tensor({0.2f, 0.6f, 0.5f, 1.0f}).reshape({1, 1, 2, 2}).repeat({1, 4, 1, 1});
  auto cc = m->concat_cond(e, {1, 4, 2, 2}, latent, mask);
  ASSERT_TRUE(cc);
  EXPECT_TRUE(at::equal(cc->select(1, 0).flatten(), at::tensor({0.0f, 1.0f, 0.0f, 1.0f})));  // round half to even
  EXPECT_TRUE(at::equal(cc->slice(1, 1), latent));
  // InpaintModelConditioning's entries win, the latent through process_in
  e.extra["concat_latent_image"] = Value(at::ones({1, 4, 2, 2}));
  e.extra["concat_mask"] = Value(at::ones({1, 1, 4, 4}));
  cc = m->concat_cond(e, {1, 4, 2, 2}, latent, mask);
  EXPECT_TRUE(at::equal(cc->select(1, 0), at::ones({1, 2, 2})));
  EXPECT_TRUE(at::allclose(cc->slice(1, 1), at::full({1, 4, 2, 2}, 0.18215f)));
}

struct RecordingVae : VaeNet {
  std::vector<at::Tensor> seen;
  at::Tensor decode(const at::Tensor& latent) override { return at::zeros({latent.size(0), 8, 8, 3}); }
  at::Tensor encode(const at::Tensor& image) override {
    seen.push_back(image.clone());
    return at::full({image.size(0), 4, image.size(1) / 8, image.size(2) / 8}, float(seen.size()));
  }
};

TEST(InpaintModelConditioningNode, PutsTheGreyedImageAndTheMaskIntoBothConditionings) {
  auto vae = std::make_shared<Vae>();
  auto rec = std::make_shared<RecordingVae>();
  vae->net = rec;
  auto cond = std::make_shared<Conditioning>();
  CondEntry e;
  e.cross_attn = at::zeros({1, 77, 8});
  cond->entries.push_back(e);
  auto pixels = at::full({1, 16, 16, 3}, 0.9f);
  auto mask = at::zeros({1, 16, 16});
  mask.slice(1, 0, 8).fill_(1.0);
  auto out = run_node("InpaintModelConditioning", {{"positive", Value(cond)},
                                                   {"negative", Value(cond)},
                                                   {"vae", Value(vae)},
                                                   {"pixels", Value(pixels)},
                                                   {"mask", Value(mask)}});
  ASSERT_EQ(rec->seen.size(), 2u);
  // first encode: masked rows grey (0.5), others unchanged; second: the original pixels
  EXPECT_TRUE(at::allclose(rec->seen[0].slice(1, 0, 8), at::full({1, 8, 16, 3}, 0.5f)));
  EXPECT_TRUE(at::allclose(rec->seen[0].slice(1, 8), at::full({1, 8, 16, 3}, 0.9f)));
  EXPECT_TRUE(at::equal(rec->seen[1], pixels));
  for (int k = 0; k < 2; ++k) {
    const auto& c = out.values.at(size_t(k)).as<Conditioning>()->entries.at(0);
    EXPECT_TRUE(at::equal(c.extra.at("concat_latent_image").as_tensor(), at::full({1, 4, 2, 2}, 1.0f)));
    EXPECT_TRUE(at::equal(c.extra.at("concat_mask").as_tensor(), mask.reshape({1, 1, 16, 16})));
  }
  auto latent = out.values.at(2).as<Latent>();
  EXPECT_TRUE(at::equal(latent->samples, at::full({1, 4, 2, 2}, 2.0f)));
  ASSERT_TRUE(latent->noise_mask);
  auto no_mask = run_node("InpaintModelConditioning", {{"positive", Value(cond)},
                                                       {"negative", Value(cond)},
                                                       {"vae", Value(vae)},
                                                       {"pixels", Value(pixels)},
                                                       {"mask", Value(mask)},
                                                       {"noise_mask", Value(false)}});
  EXPECT_FALSE(no_mask.values.at(2).as<Latent>()->noise_mask.has_value());
}

}  // namespace
