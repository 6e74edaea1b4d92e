// VAEEncodeForInpaint (ComfyUI nodes.py) and the samplers' handling of a latent's noise_mask
// (KSamplerX0Inpaint, sampling.md 3.5): expectations written out by hand for small masks.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "comfy/core/node.hpp"
#include "comfy/core/types.hpp"
#include "comfy/models/checkpoint.hpp"
#include "comfy/models/vae.hpp"
#include "test_util.hpp"

using namespace comfy;

namespace {

// A VAE that records the image it is asked to encode and returns zeros of the latent's shape.
struct RecordingVae : VaeNet {
  at::Tensor seen;
  at::Tensor decode(const at::Tensor& latent) override { return at::zeros({latent.size(0), 8, 8, 3}); }
  at::Tensor encode(const at::Tensor& image) override {
    seen = image.clone();
    return at::zeros({image.size(0), 4, image.size(1) / 8, image.size(2) / 8});
  }
};

Value value_of_default(const InputSpec& in) {
  const auto& d = in.default_value;
  if (in.is_combo()) return Value(d.is_string() ? d.get<std::string>() : in.choices().at(0));
  if (in.type == "INT") return Value(d.get<int64_t>());
  if (in.type == "FLOAT") return Value(d.get<double>());
  if (in.type == "BOOLEAN") return Value(d.get<bool>());
  return Value(d.get<std::string>());
}

// Runs a node with the given inputs; widget inputs not given take their schema defaults.
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

std::shared_ptr<Vae> recording_vae() {
  auto v = std::make_shared<Vae>();
  v->net = std::make_shared<RecordingVae>();
  return v;
}

std::shared_ptr<const Latent> encode_for_inpaint(const std::shared_ptr<Vae>& vae, const at::Tensor& pixels,
                                                 const at::Tensor& mask, int64_t grow) {
  return run_node("VAEEncodeForInpaint", {{"pixels", Value(pixels)},
                                          {"vae", Value(vae)},
                                          {"mask", Value(mask)},
                                          {"grow_mask_by", Value(grow)}})
      .values.at(0)
      .as<Latent>();
}

}  // namespace

TEST(VAEEncodeForInpaint, SchemaMatchesComfyUI) {
  const NodeDef* def = Registry::global().find("VAEEncodeForInpaint");
  ASSERT_TRUE(def);
  const auto& in = def->schema.inputs;
  ASSERT_EQ(in.size(), 4u);
  EXPECT_EQ(in[0].name, "pixels");
  EXPECT_EQ(in[1].name, "vae");
  EXPECT_EQ(in[2].name, "mask");
  EXPECT_EQ(in[2].type, "MASK");
  EXPECT_EQ(in[3].name, "grow_mask_by");
  EXPECT_EQ(in[3].default_value, 6);
  EXPECT_EQ(*in[3].int_min, 0);
  EXPECT_EQ(*in[3].int_max, 64);
}

TEST(VAEEncodeForInpaint, CropsToWholeCellsAndGreysOutOnlyTheRoundedMask) {
  // 20x27 image: crop to 16x24 starting at row (20 % 8) / 2 = 2, column (27 % 8) / 2 = 1.
  auto img = at::rand({1, 20, 27, 3});
  auto mask = at::zeros({1, 20, 27});
  mask[0][10][13] = 1.0;   // -> cropped (8, 12): masked
  mask[0][5][5] = 0.6;     // -> (3, 4): rounds to 1, masked
  mask[0][15][20] = 0.4;   // -> (13, 19): rounds to 0, kept
  mask[0][0][0] = 1.0;     // cropped away
  auto vae = recording_vae();
  auto l = encode_for_inpaint(vae, img, mask, 0);
  auto seen = std::static_pointer_cast<RecordingVae>(vae->net)->seen;
  ASSERT_EQ(seen.sizes(), (std::vector<int64_t>{1, 16, 24, 3}));
  auto expected = img.slice(1, 2, 18).slice(2, 1, 25).clone();
  for (auto [y, x] : {std::pair<int, int>{8, 12}, {3, 4}}) expected[0][y][x].fill_(0.5);
  EXPECT_TRUE(at::allclose(seen, expected, 0, 1e-6)) << (seen - expected).abs().max();
  // grow 0: the cropped mask itself, rounded
  ASSERT_TRUE(l->noise_mask);
  auto expected_mask = at::zeros({1, 1, 16, 24});
  expected_mask[0][0][8][12] = 1.0;
  expected_mask[0][0][3][4] = 1.0;
  EXPECT_TRUE(at::equal(*l->noise_mask, expected_mask)) << *l->noise_mask;
  EXPECT_EQ(l->samples.sizes(), (std::vector<int64_t>{1, 4, 2, 3}));
}

TEST(VAEEncodeForInpaint, GrowsTheMaskByABoxOfGrowMaskByPixels) {
  auto img = at::rand({1, 16, 24, 3});
  auto mask = at::zeros({1, 16, 24});
  mask[0][8][12] = 1.0;
  auto vae = recording_vae();
  // Odd kernel 3, padding 1: the 3x3 box centred on the pixel.
  {
    auto l = encode_for_inpaint(vae, img, mask, 3);
    auto e = at::zeros({1, 1, 16, 24});
    e.slice(2, 7, 10).slice(3, 11, 14).fill_(1.0);
    EXPECT_TRUE(at::equal(*l->noise_mask, e)) << *l->noise_mask;
  }
  // Even kernel 6, padding ceil(5/2) = 3: output[i] sums input[i-3 .. i+2], so the box reaches 2 pixels
  // up/left and 3 down/right of the masked pixel (rows 6..11, columns 10..15).
  {
    auto l = encode_for_inpaint(vae, img, mask, 6);
    auto e = at::zeros({1, 1, 16, 24});
    e.slice(2, 6, 12).slice(3, 10, 16).fill_(1.0);
    EXPECT_TRUE(at::equal(*l->noise_mask, e)) << *l->noise_mask;
    // Only the pixel itself is greyed out; growing affects the noise mask only.
    auto seen = std::static_pointer_cast<RecordingVae>(vae->net)->seen;
    EXPECT_FLOAT_EQ(seen[0][8][12][1].item<float>(), 0.5f);
    EXPECT_TRUE(at::equal(seen[0][7][12], img[0][7][12]));
  }
  // A box at the border is clipped, and overlapping boxes saturate at 1.
  {
    auto m2 = at::zeros({1, 16, 24});
    m2[0][0][0] = 1.0;
    m2[0][0][1] = 1.0;
    auto l = encode_for_inpaint(vae, img, m2, 3);
    auto e = at::zeros({1, 1, 16, 24});
    e.slice(2, 0, 2).slice(3, 0, 3).fill_(1.0);
    EXPECT_TRUE(at::equal(*l->noise_mask, e)) << *l->noise_mask;
  }
}

TEST(VAEEncodeForInpaint, ResizesAMaskOfAnotherSizeToTheImage) {
  // A constant mask stays constant under bilinear resizing: all pixels greyed, noise mask all ones.
  auto img = at::rand({2, 16, 16, 3});
  auto vae = recording_vae();
  auto l = encode_for_inpaint(vae, img, at::ones({5, 7}), 6);
  auto seen = std::static_pointer_cast<RecordingVae>(vae->net)->seen;
  EXPECT_TRUE(at::equal(seen, at::full({2, 16, 16, 3}, 0.5)));
  EXPECT_TRUE(at::equal(*l->noise_mask, at::ones({1, 1, 16, 16})));
  // An all-zero mask leaves the image alone.
  auto l0 = encode_for_inpaint(vae, img, at::zeros({1, 3, 3}), 6);
  EXPECT_TRUE(at::equal(std::static_pointer_cast<RecordingVae>(vae->net)->seen, img));
  EXPECT_TRUE(at::equal(*l0->noise_mask, at::zeros({1, 1, 16, 16})));
}

TEST(VAEEncodeForInpaint, RejectsAMaskBatchThatDoesNotMatchTheImages) {
  auto vae = recording_vae();
  EXPECT_THROW(encode_for_inpaint(vae, at::rand({1, 16, 16, 3}), at::zeros({2, 16, 16}), 6), Error);
}

// ---- the samplers honour noise_mask

namespace {

std::shared_ptr<Model> tiny_model() {
  static auto m = [] {
    RuntimeConfig cfg;
    return load_checkpoint(test::golden_root() / "nets" / "tiny-sd15.safetensors", cfg, false, false).model;
  }();
  return m;
}

std::shared_ptr<Conditioning> random_cond(int64_t seed) {
  auto g = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto c = std::make_shared<Conditioning>();
  CondEntry e;
  e.cross_attn = at::randn({1, 77, 32}, g);
  c->entries.push_back(e);
  return c;
}

at::Tensor sample(const std::string& node, const std::shared_ptr<Latent>& latent) {
  return run_node(node, {{"model", Value(tiny_model())},
                         {"positive", Value(random_cond(1))},
                         {"negative", Value(random_cond(2))},
                         {"latent_image", Value(latent)},
                         {"seed", Value(int64_t(7))},
                         {"steps", Value(int64_t(3))},
                         {"sampler_name", Value("euler")},
                         {"scheduler", Value("normal")}})
      .values.at(0)
      .as<Latent>()
      ->samples;
}

}  // namespace

class NoiseMask : public ::testing::TestWithParam<std::string> {};

TEST_P(NoiseMask, UnmaskedLatentPixelsComeBackUnchanged) {
  auto latent = std::make_shared<Latent>();
  latent->samples = at::randn({1, 4, 8, 10}, at::make_generator<at::CPUGeneratorImpl>(3));
  auto plain = sample(GetParam(), latent);

  // All ones: x*1 + (...)*0 and R*1 + latent*0 are exact, so the result is the unmasked run's.
  latent->noise_mask = at::ones({1, 1, 8, 10});
  EXPECT_TRUE(at::equal(sample(GetParam(), latent), plain));

  // A 4x4 block: the sampler only changes the block. Outside it every denoised value is the input
  // latent, and euler's last step lands on the denoised value (up to rounding).
  auto m = at::zeros({1, 1, 8, 10});
  m.slice(2, 2, 6).slice(3, 3, 7).fill_(1.0);
  latent->noise_mask = m;
  auto out = sample(GetParam(), latent);
  auto outside = (1 - m).to(at::kBool).expand({1, 4, 8, 10});
  auto inside = m.to(at::kBool).expand({1, 4, 8, 10});
  EXPECT_TRUE(at::allclose(out.masked_select(outside), latent->samples.masked_select(outside), 1e-5, 1e-5))
      << (out - latent->samples).abs().masked_select(outside).max();
  EXPECT_GT((out - latent->samples).abs().masked_select(inside).mean().item<float>(), 1e-2);
}

INSTANTIATE_TEST_SUITE_P(Samplers, NoiseMask, ::testing::Values("KSampler", "KSampler //Inspire"),
                         [](const ::testing::TestParamInfo<std::string>& i) {
                           return i.param == "KSampler" ? std::string("Core") : std::string("Inspire");
                         });
