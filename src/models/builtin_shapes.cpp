// builtin:shapes — see include/comfy/models/builtin_shapes.hpp.
#include "comfy/models/builtin_shapes.hpp"

#include <ATen/ATen.h>

#include <cctype>
#include <cmath>
#include <map>
#include <mutex>
#include <regex>

#include "comfy/core/error.hpp"
#include "comfy/models/clip.hpp"
#include "comfy/models/model.hpp"
#include "comfy/models/vae.hpp"

namespace comfy {

namespace shapes {

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr int kSupersample = 4;

struct Rgb { float r, g, b; };
const Rgb kColorRgb[] = {{1.00f, 0.10f, 0.10f}, {0.10f, 0.72f, 0.20f}, {0.12f, 0.28f, 0.92f},
                         {0.97f, 0.86f, 0.10f}, {0.58f, 0.18f, 0.80f}, {0.93f, 0.55f, 0.08f}};
const Rgb kBackgroundRgb[2][kVariations] = {
    {{0.95f, 0.95f, 0.92f}, {0.86f, 0.90f, 0.95f}, {0.92f, 0.91f, 0.90f}},
    {{0.07f, 0.07f, 0.09f}, {0.12f, 0.10f, 0.17f}, {0.05f, 0.11f, 0.11f}}};

// Words the text encoder knows, per attribute value.
const std::vector<std::vector<std::string>>& color_words() {
  static const std::vector<std::vector<std::string>> w = {
      {"red", "crimson", "scarlet"},  {"green", "lime", "emerald"},         {"blue", "navy", "azure"},
      {"yellow", "gold", "golden"},   {"purple", "violet", "magenta", "lilac"}, {"orange", "amber"}};
  return w;
}
const std::vector<std::vector<std::string>>& shape_words() {
  static const std::vector<std::vector<std::string>> w = {
      {"circle", "circles", "disc", "discs", "disk", "disks", "ball", "balls", "dot", "dots", "round", "sphere"},
      {"square", "squares", "box", "boxes", "rectangle", "rectangles", "block", "blocks", "cube"},
      {"triangle", "triangles", "triangular", "pyramid"},
      {"stripes", "stripe", "striped", "stripy", "lines", "bands"},
      {"ring", "rings", "donut", "doughnut", "hoop", "annulus"},
      {"cross", "crosses", "plus"}};
  return w;
}
const std::vector<std::vector<std::string>>& background_words() {
  static const std::vector<std::vector<std::string>> w = {{"light", "white", "bright", "day", "pale"},
                                                          {"dark", "black", "night"}};
  return w;
}

// Mask of one shape on a grid of points (x, y) in units of min(H, W), relative to the shape centre.
at::Tensor shape_mask(int shape, const at::Tensor& x, const at::Tensor& y, const Placement& p) {
  const double c = std::cos(p.angle), s = std::sin(p.angle);
  auto xr = x * c + y * s, yr = -x * s + y * c;  // rotated into the shape's frame
  const double r = p.size;
  switch (shape) {
    case 0: return (x * x + y * y <= r * r);
    case 1: return (xr.abs() <= 0.82 * r) & (yr.abs() <= 0.82 * r);
    case 2: {  // equilateral, pointing up (y grows downwards), circumradius 1.15 r, centroid at the centre
      const double R = 1.15 * r;
      auto inside = at::ones_like(x, at::kBool);
      for (int k = 0; k < 3; ++k) {
        const double a = -kPi / 2 + k * 2 * kPi / 3 + kPi / 3;  // outward normal of the edge opposite vertex k
        inside = inside & (xr * std::cos(a) + yr * std::sin(a) <= R / 2);
      }
      return inside;
    }
    case 3: {  // bands over the whole picture; p.size sets the period
      auto u = x * c + y * s;
      return at::sin(u * (2 * kPi / (0.5 * r))) > 0;
    }
    case 4: {
      auto d2 = x * x + y * y;
      return (d2 <= r * r) & (d2 >= 0.55 * 0.55 * r * r);
    }
    case 5: {
      const double a = 0.3 * r, b = 1.0 * r;
      return ((xr.abs() <= a) & (yr.abs() <= b)) | ((yr.abs() <= a) & (xr.abs() <= b));
    }
  }
  throw Error("execution_error", "builtin:shapes: unknown shape index");
}

void add_word(at::Tensor& weights, int64_t offset, const std::vector<std::vector<std::string>>& table,
              const std::string& word, float w, std::vector<bool>& mentioned, int group) {
  for (size_t v = 0; v < table.size(); ++v)
    for (const auto& name : table[v])
      if (name == word) {
        auto cur = weights[offset + int64_t(v)].item<float>();
        weights[offset + int64_t(v)] = mentioned[group] ? std::max(cur, w) : w;
        if (!mentioned[group]) {
          // first mention of this group: the others drop to zero
          for (size_t o = 0; o < table.size(); ++o)
            if (o != v) weights[offset + int64_t(o)] = 0.0f;
        }
        mentioned[group] = true;
        return;
      }
}

}  // namespace

const std::vector<std::string>& colors() {
  static const std::vector<std::string> v = {"red", "green", "blue", "yellow", "purple", "orange"};
  return v;
}
const std::vector<std::string>& shape_names() {
  static const std::vector<std::string> v = {"circle", "square", "triangle", "stripes", "ring", "cross"};
  return v;
}
const std::vector<std::string>& backgrounds() {
  static const std::vector<std::string> v = {"light", "dark"};
  return v;
}
int64_t cond_dim() { return int64_t(colors().size() + shape_names().size() + backgrounds().size()); }

Placement placement(int shape, int variation) {
  static const Placement base[kVariations] = {{0.0, 0.0, 0.33, 0.0}, {-0.06, 0.05, 0.28, 0.21}, {0.07, -0.05, 0.38, -0.17}};
  Placement p = base[variation % kVariations];
  if (shape == 3) {  // stripes: the whole picture, orientation per variation
    static const double angles[kVariations] = {0.0, kPi / 2, kPi / 4};
    p = {0.0, 0.0, 0.36 + 0.04 * variation, angles[variation % kVariations]};
  }
  return p;
}

at::Tensor draw(int color, int shape, int background, int variation, int64_t height, int64_t width) {
  const int64_t hs = height * kSupersample, ws = width * kSupersample;
  const double unit = double(std::min(height, width));
  const Placement p = placement(shape, variation);
  // sample centres, in units of min(H, W), relative to the shape centre
  auto ys = (at::arange(hs, at::kDouble).add(0.5).div(kSupersample) - height / 2.0).div(unit) - p.cy;
  auto xs = (at::arange(ws, at::kDouble).add(0.5).div(kSupersample) - width / 2.0).div(unit) - p.cx;
  auto y = ys.view({hs, 1}).expand({hs, ws});
  auto x = xs.view({1, ws}).expand({hs, ws});
  auto mask = shape_mask(shape, x, y, p).to(at::kFloat).unsqueeze(-1);  // [hs, ws, 1]
  const Rgb& bg = kBackgroundRgb[background][variation % kVariations];
  const Rgb& fg = kColorRgb[color];
  // a gentle vertical shading of the background
  auto shade = 1.0f - 0.08f * at::arange(hs, at::kFloat).div(float(hs)).view({hs, 1, 1});
  auto bgt = at::tensor({bg.r, bg.g, bg.b}).view({1, 1, 3}) * shade;
  auto fgt = at::tensor({fg.r, fg.g, fg.b}).view({1, 1, 3});
  auto img = bgt * (1 - mask) + fgt * mask;  // [hs, ws, 3]
  // box filter down to the requested size
  img = img.permute({2, 0, 1}).unsqueeze(0);
  img = at::avg_pool2d(img, {kSupersample, kSupersample});
  return img.squeeze(0).permute({1, 2, 0}).clamp(0, 1).contiguous();
}

at::Tensor encode_prompt(const std::string& text_in) {
  std::string text;
  for (char ch : text_in) text += char(std::tolower(static_cast<unsigned char>(ch)));
  auto weights = at::ones({cond_dim()});
  std::vector<bool> mentioned(3, false);
  const int64_t off_shape = int64_t(colors().size()), off_bg = off_shape + int64_t(shape_names().size());
  auto add_words = [&](const std::string& s, float w) {
    std::string word;
    for (size_t i = 0; i <= s.size(); ++i) {
      const char ch = i < s.size() ? s[i] : ' ';
      if (std::isalpha(static_cast<unsigned char>(ch))) { word += ch; continue; }
      if (!word.empty()) {
        add_word(weights, 0, color_words(), word, w, mentioned, 0);
        add_word(weights, off_shape, shape_words(), word, w, mentioned, 1);
        add_word(weights, off_bg, background_words(), word, w, mentioned, 2);
        word.clear();
      }
    }
  };
  // ComfyUI's "(words:1.3)" weights; everything else weighs 1.
  static const std::regex weighted(R"(\(([^():]*):\s*([0-9]*\.?[0-9]+)\s*\))");
  std::string rest;
  size_t last = 0;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), weighted); it != std::sregex_iterator(); ++it) {
    rest += text.substr(last, size_t(it->position(0)) - last) + " ";
    last = size_t(it->position(0) + it->length(0));
    add_words((*it)[1].str(), std::stof((*it)[2].str()));
  }
  rest += text.substr(last);
  add_words(rest, 1.0f);
  return weights;
}

}  // namespace shapes

namespace {

using namespace shapes;

// Fixed linear map RGB (scaled to -1..1) -> 4 latent channels; the decoder uses its pseudo-inverse.
at::Tensor rgb_to_latent_matrix() {
  return at::tensor({0.50f, 0.50f, 0.50f,  //
                     0.70f, -0.35f, -0.35f,  //
                     0.00f, 0.60f, -0.60f,  //
                     0.20f, -0.10f, 0.30f})
      .view({4, 3});
}

struct ShapesVae : VaeNet {
  at::Tensor A = rgb_to_latent_matrix(), A_pinv = at::linalg_pinv(rgb_to_latent_matrix());
  at::Tensor encode(const at::Tensor& image) override {  // [B, H, W, 3] -> [B, 4, H/8, W/8]
    auto x = image.to(at::kCPU, at::kFloat).narrow(-1, 0, 3).permute({0, 3, 1, 2}).mul(2).sub(1);
    x = at::avg_pool2d(x, {8, 8});
    return at::einsum("lc,bchw->blhw", {A, x}).contiguous();
  }
  at::Tensor decode(const at::Tensor& latent) override {  // [B, 4, h, w] -> [B, 8h, 8w, 3]
    auto z = latent.to(at::kCPU, at::kFloat);
    auto rgb = at::einsum("cl,blhw->bchw", {A_pinv, z});
    rgb = at::upsample_bilinear2d(rgb, {z.size(2) * 8, z.size(3) * 8}, false, c10::nullopt, c10::nullopt);
    return rgb.add(1).div(2).clamp(0, 1).permute({0, 2, 3, 1}).contiguous();
  }
};

// The data set at one latent size: every picture in latent space, flattened, with its attributes.
struct DataSet {
  at::Tensor items;    // [N, 4*h*w] double
  at::Tensor sqnorm;   // [N] double
  at::Tensor attr_index;  // [3, N] long: colour, offset shape, offset background indices into the cond vector
};

struct ShapesNet : DiffusionNet {
  std::shared_ptr<const ModelSampling> sampling;
  std::mutex mutex;
  std::map<std::pair<int64_t, int64_t>, std::shared_ptr<DataSet>> cache;

  std::shared_ptr<DataSet> data(int64_t h, int64_t w) {
    std::lock_guard<std::mutex> lock(mutex);
    auto& slot = cache[{h, w}];
    if (slot) return slot;
    ShapesVae vae;
    std::vector<at::Tensor> latents;
    std::vector<int64_t> ci, si, bi;
    const int nc = int(colors().size()), ns = int(shape_names().size()), nb = int(backgrounds().size());
    for (int c = 0; c < nc; ++c)
      for (int s = 0; s < ns; ++s)
        for (int b = 0; b < nb; ++b)
          for (int v = 0; v < kVariations; ++v) {
            auto img = draw(c, s, b, v, h, w);  // one pixel per latent pixel: the 8x8 pool of the full picture
            auto x = img.permute({2, 0, 1}).mul(2).sub(1);
            latents.push_back(at::einsum("lc,chw->lhw", {vae.A, x}).flatten());
            ci.push_back(c);
            si.push_back(nc + s);
            bi.push_back(nc + ns + b);
          }
    auto ds = std::make_shared<DataSet>();
    ds->items = at::stack(latents).to(at::kDouble);
    ds->sqnorm = ds->items.pow(2).sum(1);
    ds->attr_index = at::stack({at::tensor(ci), at::tensor(si), at::tensor(bi)});
    slot = ds;
    return ds;
  }

  at::Tensor forward(const at::Tensor& x_in, const at::Tensor& t, const ModelConds& c) override {
    if (x_in.dim() != 4 || x_in.size(1) != 4)
      throw Error("execution_error", "builtin:shapes expects a 4-channel latent [B, 4, h, w]");
    const int64_t B = x_in.size(0), h = x_in.size(2), w = x_in.size(3);
    if (c.c_crossattn.dim() != 3 || c.c_crossattn.size(-1) != cond_dim())
      throw Error("execution_error", "builtin:shapes needs conditioning from its own text encoder (CLIP of "
                                     "builtin:shapes); got a tensor of another shape");
    auto ds = data(h, w);
    const auto dev = x_in.device();
    auto items = ds->items.to(dev);
    auto sigma = sampling->sigma(t.to(at::kFloat)).to(dev, at::kDouble).view({B, 1});  // [B, 1]
    auto X = x_in.to(at::kDouble).reshape({B, -1}) * (sigma.pow(2) + 1).sqrt();        // un-scale the input
    auto dist = X.pow(2).sum(1, true) - 2 * at::matmul(X, items.t()) + ds->sqnorm.to(dev).view({1, -1});  // [B, N]
    // log prior of each picture from the attribute weights (max over tokens; zero weights floored at 1e-30)
    auto cond = std::get<0>(c.c_crossattn.to(dev, at::kDouble).max(1)).clamp_min(1e-30).log();  // [B, D]; a zero weight is "impossible"
    auto idx = ds->attr_index.to(dev);
    auto logprior = cond.index_select(1, idx[0]) + cond.index_select(1, idx[1]) + cond.index_select(1, idx[2]);
    auto weights = at::softmax(logprior - dist / (2 * sigma.pow(2)), 1);  // posterior over the data set
    auto denoised = at::matmul(weights, items);                            // [B, d]
    auto eps = (X - denoised) / sigma;
    return eps.view(x_in.sizes()).to(x_in.scalar_type());
  }
};

struct ShapesTextEncoder : TextEncoder {
  std::vector<CondEntry> encode(const std::string& text, std::optional<int64_t>) override {
    CondEntry e;
    e.cross_attn = encode_prompt(text).view({1, 1, -1});
    return {e};
  }
};

}  // namespace

std::shared_ptr<Vae> builtin_shapes_vae() {
  auto v = std::make_shared<Vae>();
  v->net = std::make_shared<ShapesVae>();
  return v;
}

std::shared_ptr<Clip> builtin_shapes_clip() {
  auto c = std::make_shared<Clip>();
  c->encoder = std::make_shared<ShapesTextEncoder>();
  return c;
}

std::shared_ptr<Model> builtin_shapes_model(const RuntimeConfig& cfg) {
  auto m = std::make_shared<Model>();
  auto net = std::make_shared<ShapesNet>();
  auto ms = std::make_shared<ModelSampling>(ModelSampling::discrete());
  net->sampling = ms;
  m->net = net;
  m->sampling = ms;
  m->latent_format = LatentFormat::sd15();
  m->latent_format.name = kBuiltinShapesName;
  m->latent_format.scale_factor = 1.0;
  m->family = kBuiltinShapesName;
  m->dtype = c10::kFloat;
  m->device = cfg.device;
  m->info["description"] = "embedded posterior-mean denoiser over drawn shapes (no download)";
  return m;
}

std::optional<std::tuple<std::shared_ptr<Model>, std::shared_ptr<Clip>, std::shared_ptr<Vae>>> load_builtin_checkpoint(
    const std::string& name, const RuntimeConfig& cfg) {
  if (name != kBuiltinShapesName) return std::nullopt;
  return std::make_tuple(builtin_shapes_model(cfg), builtin_shapes_clip(), builtin_shapes_vae());
}

}  // namespace comfy
