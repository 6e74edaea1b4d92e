// SeedExplorer //Inspire, RegionalSeedExplorerMask //Inspire, RegionalSeedExplorerColorMask //Inspire
// (nodes-companions.md 1): a NOISE_IMAGE made from a "seed, seed:strength, ..." prompt.
#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <optional>
#include <variant>

#include "inspire/inspire_pack.hpp"
#include "comfy/core/node.hpp"
#include "comfy/core/types.hpp"
#include "comfy/models/model.hpp"
#include "comfy/sampling/noise.hpp"
#include "sampling/noise/mix_noise.hpp"
#include "sampling/noise/noise_source.hpp"

namespace comfy {

namespace {


std::string strip(const std::string& s) {
  size_t a = 0, b = s.size();
  while (a < b && std::isspace((unsigned char)s[a])) ++a;
  while (b > a && std::isspace((unsigned char)s[b - 1])) --b;
  return s.substr(a, b - a);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out{""};
  for (char c : s) {
    if (c == sep) out.emplace_back();
    else out.back().push_back(c);
  }
  return out;
}

// Python int(text): surrounding whitespace, a sign, digits with single '_' between them. nullopt when
// Python would raise, or when the value is no 64-bit seed (torch.manual_seed would raise).
std::optional<uint64_t> py_int_seed(const std::string& text) {
  std::string s = strip(text);
  if (!s.empty() && s[0] == '+') s = s.substr(1);
  if (s.empty() || !std::isdigit((unsigned char)s[0]) || !std::isdigit((unsigned char)s.back())) return std::nullopt;
  unsigned __int128 v = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_') {
      if (s[i - 1] == '_') return std::nullopt;
      continue;
    }
    if (!std::isdigit((unsigned char)s[i])) return std::nullopt;
    v = v * 10 + unsigned(s[i] - '0');
    if (v > UINT64_MAX) return std::nullopt;
  }
  return uint64_t(v);
}

// Python float(text) for the usual spellings (whitespace, sign, decimal / exponent, inf, nan).
std::optional<double> py_float(const std::string& text) {
  std::string s = strip(text);
  if (s.empty()) return std::nullopt;
  std::string clean;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_') {
      if (i == 0 || i + 1 == s.size() || !std::isdigit((unsigned char)s[i - 1]) || !std::isdigit((unsigned char)s[i + 1]))
        return std::nullopt;
      continue;
    }
    clean.push_back(s[i]);
  }
  if (clean.find_first_of("xXpP") != std::string::npos) return std::nullopt;  // strtod would take hex
  char* end = nullptr;
  double v = std::strtod(clean.c_str(), &end);
  if (end != clean.c_str() + clean.size()) return std::nullopt;
  return v;
}

// One seed_prompt item: a "seed:strength" text or the (additional_seed, additional_strength) pair.
using SeedItem = std::variant<std::string, std::pair<uint64_t, double>>;

std::vector<SeedItem> parse_seed_prompt(const std::string& prompt, bool enable_additional, uint64_t add_seed,
                                        double add_strength) {
  std::string p;
  for (char c : prompt)
    if (c != '\n') p.push_back(c);
  std::vector<SeedItem> items;
  auto parts = split(strip(p), ',');
  if (!(parts.size() == 1 && parts[0].empty()))
    for (auto& s : parts) items.emplace_back(s);
  if (enable_additional) items.emplace_back(std::make_pair(add_seed, add_strength));
  return items;
}

std::unique_ptr<noise_detail::NoiseSource> noise_source(const std::string& noise_mode) {
  if (noise_mode == "CPU") return noise_detail::cpu_global_noise_source();
  // GPU(=A1111): the CUDA generator, emulated on a machine without one (a CPU-only ComfyUI would draw
  // from its unseeded global generator here, which nobody can reproduce).
  return noise_detail::cuda_noise_source();
}

// Inspire utils.apply_variation_noise: a [1,C,H,W] draw seeded variation_seed, broadcast over the batch;
// without a mask a plain lerp, with one the renormalised mix kept only where mask == 1 (elements whose
// mask is strictly between 0 and 1 become 0).
at::Tensor apply_variation_noise(const at::Tensor& noise, noise_detail::NoiseSource& src, uint64_t seed,
                                 double strength, const at::Tensor* mask, const std::string& method) {
  src.seed(seed);
  auto v = src.randn({1, noise.size(1), noise.size(2), noise.size(3)}).to(noise.dtype()).expand(noise.sizes());
  if (strength == 0) return noise;
  if (!mask) return (1 - strength) * noise + strength * v;
  auto mixed = noise_detail::mix_noise(noise, v, strength, method);
  return (*mask == 1).to(at::kFloat) * mixed + (*mask == 0).to(at::kFloat) * noise;
}

// SeedExplorer.apply_variation: every item with exactly two parts is a variation; a failing one is
// logged and skipped.
at::Tensor apply_variations(at::Tensor noise, const std::vector<SeedItem>& items, noise_detail::NoiseSource& src,
                            const at::Tensor* mask, const std::string& method) {
  for (auto& item : items) {
    std::optional<uint64_t> seed;
    std::optional<double> strength;
    std::string shown;
    if (auto* pair = std::get_if<std::pair<uint64_t, double>>(&item)) {
      seed = pair->first;
      strength = pair->second;
      shown = std::to_string(pair->first);
    } else {
      shown = std::get<std::string>(item);
      auto parts = split(shown, ':');
      if (parts.size() != 2) continue;
      seed = py_int_seed(parts[0]);
      strength = py_float(parts[1]);
    }
    if (!seed || !strength) {
      spdlog::warn("[ERROR] IGNORED: SeedExplorer failed to processing '{}'", shown);
      continue;
    }
    noise = apply_variation_noise(noise, src, *seed, *strength, mask, method);
  }
  return noise;
}

// comfy.sample.fix_empty_latent_channels: an all-zero latent of another channel count than the model's.
at::Tensor fix_empty_latent_channels(const Model& model, const at::Tensor& latent) {
  const int64_t c = model.latent_format.channels;
  if (latent.dim() != 4 || latent.size(1) == c || latent.count_nonzero().item<int64_t>() != 0) return latent;
  return at::zeros({latent.size(0), c, latent.size(2), latent.size(3)}, latent.options());
}

at::Tensor seed_explorer(const NodeInputs& in) {
  at::Tensor latent = in.obj<Latent>("latent")->samples;
  if (auto model = in.obj_opt<Model>("model")) latent = fix_empty_latent_channels(*model, latent);
  auto items = parse_seed_prompt(in.str("seed_prompt"), in.boolean("enable_additional"), in.u64("additional_seed"),
                                 in.f64("additional_strength"));
  const std::string method = in.has("variation_method") ? in.str("variation_method") : "linear";
  auto src = noise_source(in.str("noise_mode"));
  // Any failure outside the per-item guard gives zeros, as upstream (logged, not an error).
  try {
    if (items.empty()) throw std::runtime_error("seed_prompt has no items");
    std::optional<uint64_t> head;
    if (auto* pair = std::get_if<std::pair<uint64_t, double>>(&items[0])) head = pair->first;
    else head = py_int_seed(std::get<std::string>(items[0]));
    if (!head) throw std::runtime_error("the first seed_prompt item is not an integer seed");
    const NoiseDevice dev = in.str("noise_mode") == "CPU" ? NoiseDevice::CPU : NoiseDevice::GPU;
    auto noise = inspire_prepare_noise(latent.to(at::kFloat), *head, std::nullopt, dev,
                                       in.str("initial_batch_seed_mode"), 0, 0.0, "linear");
    std::vector<SeedItem> tail(items.begin() + 1, items.end());
    return apply_variations(noise, tail, *src, nullptr, method).contiguous();
  } catch (const std::exception& e) {
    spdlog::warn("[ERROR] IGNORED: SeedExplorer failed: {}", e.what());
  }
  return at::zeros(latent.sizes(), latent.options().device(at::kCPU));
}

// RegionalSeedExplorerMask.doit: every item (the first too) is a variation restricted to the mask.
at::Tensor regional_seed_explorer(const at::Tensor& mask_in, const NodeInputs& in) {
  at::Tensor noise = in.tensor("noise").to(at::kFloat);
  if (noise.dim() != 4) fail("noise", "expected a NOISE_IMAGE [B,C,H,W], got " + std::to_string(noise.dim()) + " dims");
  at::Tensor mask = mask_in.to(at::kFloat);
  if (mask.dim() == 2) mask = mask.unsqueeze(0);
  if (mask.dim() < 2) fail("mask", "expected a MASK [B,H,W]");
  mask = at::upsample_bilinear2d(mask.reshape({-1, 1, mask.size(-2), mask.size(-1)}), {noise.size(2), noise.size(3)},
                                 /*align_corners=*/false)
             .squeeze(0);
  auto items = parse_seed_prompt(in.str("seed_prompt"), in.boolean("enable_additional"), in.u64("additional_seed"),
                                 in.f64("additional_strength"));
  const std::string method = in.has("variation_method") ? in.str("variation_method") : "linear";
  auto src = noise_source(in.str("noise_mode"));
  return apply_variations(noise, items, *src, &mask, method).contiguous();
}

// The few CSS colour names (webcolors.name_to_hex) people type; anything else is an error.
std::optional<uint32_t> css_color(std::string name) {
  for (auto& c : name) c = char(std::tolower((unsigned char)c));
  static const std::map<std::string, uint32_t> k = {
      {"black", 0x000000},  {"silver", 0xC0C0C0}, {"gray", 0x808080},   {"grey", 0x808080},  {"white", 0xFFFFFF},
      {"maroon", 0x800000}, {"red", 0xFF0000},    {"purple", 0x800080}, {"fuchsia", 0xFF00FF}, {"magenta", 0xFF00FF},
      {"green", 0x008000},  {"lime", 0x00FF00},   {"olive", 0x808000},  {"yellow", 0xFFFF00}, {"navy", 0x000080},
      {"blue", 0x0000FF},   {"teal", 0x008080},   {"aqua", 0x00FFFF},   {"cyan", 0x00FFFF},  {"orange", 0xFFA500},
      {"pink", 0xFFC0CB},   {"brown", 0xA52A2A},  {"violet", 0xEE82EE}, {"gold", 0xFFD700},  {"indigo", 0x4B0082}};
  auto it = k.find(name);
  return it == k.end() ? std::nullopt : std::optional<uint32_t>(it->second);
}

// Inspire utils.color_to_mask: 1.0 where round(clamp(pixel)*255) packed as RGB equals the colour.
at::Tensor color_to_mask(const at::Tensor& image, const std::string& mask_color) {
  const std::string bad = "[ERROR] Invalid mask_color value. mask_color should be a color value for RGB";
  std::optional<int64_t> selected;
  bool alpha = !mask_color.empty();
  for (char c : mask_color) alpha = alpha && std::isalpha((unsigned char)c);
  if (!mask_color.empty() && mask_color[0] == '#') {
    std::string hex = mask_color.substr(1);
    if (!hex.empty() && hex.size() <= 12 && hex.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos)
      selected = int64_t(std::stoull(hex, nullptr, 16));
  } else if (alpha) {
    if (auto c = css_color(mask_color)) selected = *c;
  } else if (auto v = py_int_seed(mask_color)) {
    selected = int64_t(*v);
  } else if (auto s = strip(mask_color); !s.empty() && s[0] == '-' && py_int_seed(s.substr(1))) {
    selected = -int64_t(*py_int_seed(s.substr(1)));
  }
  if (!selected) fail("mask_color", bad);
  if (image.dim() != 4 || image.size(3) < 3) fail("color_mask", "expected an IMAGE [B,H,W,C] with at least 3 channels");
  auto q = (image.to(at::kFloat).clamp(0, 1) * 255.0).round().to(at::kInt);
  auto key = q.select(3, 0).bitwise_left_shift(16) + q.select(3, 1).bitwise_left_shift(8) + q.select(3, 2);
  return (key.to(at::kLong) == *selected).to(at::kFloat);
}

NodeSchema& regional_inputs(NodeSchema& s) {
  return s.input("noise", "NOISE_IMAGE")
      .string_("seed_prompt", "", true)
      .bool_("enable_additional", true, "true", "false")
      .seed("additional_seed")
      .float_("additional_strength", 0.0, 0.0, 1.0, 0.01)
      .combo("noise_mode", {"GPU(=A1111)", "CPU"})
      .optional()
      .combo("variation_method", {"linear", "slerp"});
}

}  // namespace

void register_seed_explorer_nodes(Registry& r) {
  NodeSchema s("SeedExplorer //Inspire");
  s.display("Seed Explorer (Inspire)").cat("InspirePack/Prompt").module(kInspirePackModule)
      .input("latent", "LATENT")
      .string_("seed_prompt", "", true)
      .bool_("enable_additional", true, "true", "false")
      .seed("additional_seed")
      .float_("additional_strength", 0.0, 0.0, 1.0, 0.01)
      .combo("noise_mode", {"GPU(=A1111)", "CPU"})
      .combo("initial_batch_seed_mode", {"incremental", "comfy"})
      .optional()
      .combo("variation_method", {"linear", "slerp"})
      .input("model", "MODEL")
      .output("NOISE_IMAGE");
  r.add({s, [](const NodeInputs& in, ExecContext&) { return NodeOutput{{Value(seed_explorer(in))}}; }});

  NodeSchema m("RegionalSeedExplorerMask //Inspire");
  m.display("Regional Seed Explorer By Mask (Inspire)").cat("InspirePack/Regional").module(kInspirePackModule)
      .input("mask", "MASK");
  regional_inputs(m).output("NOISE_IMAGE");
  r.add({m, [](const NodeInputs& in, ExecContext&) {
           return NodeOutput{{Value(regional_seed_explorer(in.tensor("mask"), in))}};
         }});

  NodeSchema c("RegionalSeedExplorerColorMask //Inspire");
  c.display("Regional Seed Explorer By Color Mask (Inspire)").cat("InspirePack/Regional").module(kInspirePackModule)
      .input("color_mask", "IMAGE")
      .string_("mask_color", "#FFFFFF");
  regional_inputs(c).output("NOISE_IMAGE").output("MASK");
  r.add({c, [](const NodeInputs& in, ExecContext&) {
           auto mask = color_to_mask(in.tensor("color_mask"), in.str("mask_color"));
           return NodeOutput{{Value(regional_seed_explorer(mask, in)), Value(mask)}};
         }});
}

}  // namespace comfy
