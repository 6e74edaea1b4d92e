// Toy Gaussian diffusion network (golden/sampling/README.md "The model").
#include "comfy/models/toy_gaussian.hpp"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

namespace comfy {

namespace {

struct ToyGaussianNet : DiffusionNet {
  std::shared_ptr<const ModelSampling> ms;
  explicit ToyGaussianNet(std::shared_ptr<const ModelSampling> m) : ms(std::move(m)) {}

  at::Tensor forward(const at::Tensor& x_in, const at::Tensor& t, const ModelConds& c) override {
    const int64_t B = x_in.size(0);
    // The network sees the quantised sigma of its integer timestep, not the sampler's sigma.
    auto s = ms->sigma(t).to(x_in.device()).reshape({B, 1, 1, 1});                   // [B,1,1,1]
    auto offs = (at::arange(4, x_in.options()) - 1.5) * 0.1;                       // [4]
    // reference: 0.1 * (arange(4) - 1.5); scalar-first and scalar-last products are the same f32 op
    auto mu = c.c_crossattn.to(x_in.device(), at::kFloat).mean({1, 2}).reshape({B, 1}) + offs.reshape({1, 4});  // [B,4]
    mu = mu.reshape({B, 4, 1, 1});
    auto xp = x_in * (s * s + 1).sqrt();                                            // [B,4,H,W]
    return s * (xp - mu) / (0.25 + s * s);
  }
};

at::Tensor seeded_randn(at::IntArrayRef shape, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  return at::randn(shape, gen, at::TensorOptions().dtype(at::kFloat));
}

}  // namespace

std::shared_ptr<Model> make_toy_gaussian_model(c10::Device device) {
  auto m = std::make_shared<Model>();
  auto ms = std::make_shared<ModelSampling>(ModelSampling::discrete());
  m->sampling = ms;
  m->net = std::make_shared<ToyGaussianNet>(ms);
  m->latent_format = LatentFormat::sd15();
  m->family = "toy";
  m->device = device;
  m->info["description"] = "toy Gaussian eps network (golden/sampling README)";
  return m;
}

std::shared_ptr<Conditioning> toy_conditioning(bool positive) {
  auto c = std::make_shared<Conditioning>();
  CondEntry e;
  e.cross_attn = positive ? seeded_randn({1, 4, 8}, 1) * 0.5 + 0.5 : seeded_randn({1, 4, 8}, 2) * 0.5 - 0.3;
  c->entries.push_back(std::move(e));
  return c;
}

}  // namespace comfy
