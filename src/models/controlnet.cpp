// ControlNet network (comfy/cldm/cldm.py, nodes-control-upscale.md 1.5-1.6): config from the control
// keys (the UNet detection), construction by key name, forward returning the residuals.
#include "comfy/models/controlnet.hpp"

#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

#include <set>
#include <variant>

#include "comfy/core/error.hpp"
#include "comfy/models/lora.hpp"
#include "models/blocks.hpp"

namespace comfy {

using namespace blocks;

namespace {
using Layer = std::variant<Conv2d, ResBlock, SpatialTransformer, Downsample>;

struct Apply {
  const at::Tensor& x;
  const at::Tensor& emb;
  const at::Tensor& context;
  at::Tensor operator()(const Conv2d& l) const { return l(x); }
  at::Tensor operator()(const ResBlock& l) const { return l.forward(x, emb); }
  at::Tensor operator()(const SpatialTransformer& l) const { return l.forward(x, context); }
  at::Tensor operator()(const Downsample& l) const { return l.forward(x); }
};

bool has(const TensorMap& m, const std::string& k) { return m.count(k) != 0; }
std::string S(int64_t v) { return std::to_string(v); }
}  // namespace

struct ControlNetModel::Impl {
  Linear time_embed_0, time_embed_2;
  bool has_label_emb = false;
  Linear label_emb_0, label_emb_2;
  std::vector<Conv2d> hint_block;               // input_hint_block.{0,2,...,14}, SiLU between
  std::vector<std::vector<Layer>> input_blocks;
  std::vector<Conv2d> zero_convs;               // one 1x1 per input block
  std::vector<Layer> middle_block;
  Conv2d middle_block_out;
};

ControlNetModel::~ControlNetModel() = default;

ControlNetModel::ControlNetModel(const UNetConfig& cfg, int64_t hint_channels, WeightSource& w)
    : cfg_(cfg), hint_channels_(hint_channels), impl_(std::make_unique<Impl>()) {
  auto& I = *impl_;
  const int64_t mc = cfg.model_channels, ted = cfg.time_embed_dim();
  I.time_embed_0 = Linear(w, "time_embed.0.", mc, ted);
  I.time_embed_2 = Linear(w, "time_embed.2.", ted, ted);
  if (cfg.adm_in_channels) {
    I.has_label_emb = true;
    I.label_emb_0 = Linear(w, "label_emb.0.0.", *cfg.adm_in_channels, ted);
    I.label_emb_2 = Linear(w, "label_emb.0.2.", ted, ted);
  }
  // Fixed widths 16/32/96/256 whatever the UNet width; strides 2 at convs 2, 4, 6 (8x down).
  const int64_t widths[9] = {hint_channels, 16, 16, 32, 32, 96, 96, 256, mc};
  for (int i = 0; i < 8; ++i)
    I.hint_block.emplace_back(w, "input_hint_block." + S(2 * i) + ".", widths[i], widths[i + 1], 3,
                              (i == 2 || i == 4 || i == 6) ? 2 : 1, 1);

  auto heads_for = [&](int64_t ch) -> std::pair<int64_t, int64_t> {
    if (cfg.num_head_channels == -1) return {cfg.num_heads, ch / cfg.num_heads};
    return {ch / cfg.num_head_channels, cfg.num_head_channels};
  };
  auto transformer = [&](const std::string& p, int64_t ch, int64_t depth) {
    auto [heads, dim_head] = heads_for(ch);
    return SpatialTransformer(w, p, ch, heads, dim_head, depth, cfg.context_dim, cfg.use_linear_in_transformer);
  };
  auto zero_conv = [&](int64_t ch) {
    I.zero_convs.emplace_back(w, "zero_convs." + S(int64_t(I.zero_convs.size())) + ".0.", ch, ch, 1, 1, 0);
  };

  size_t depth_pos = 0;
  I.input_blocks.emplace_back();
  I.input_blocks.back().emplace_back(Conv2d(w, "input_blocks.0.0.", cfg.in_channels, mc, 3));
  zero_conv(mc);
  int64_t ch = mc;
  const size_t levels = cfg.channel_mult.size();
  for (size_t level = 0; level < levels; ++level) {
    for (int64_t r = 0; r < cfg.num_res_blocks.at(level); ++r) {
      const std::string p = "input_blocks." + S(int64_t(I.input_blocks.size())) + ".";
      std::vector<Layer> layers;
      const int64_t out = cfg.channel_mult[level] * mc;
      layers.emplace_back(ResBlock(w, p + "0.", ch, out, ted));
      ch = out;
      const int64_t depth = depth_pos < cfg.transformer_depth.size() ? cfg.transformer_depth[depth_pos++] : 0;
      if (depth > 0) layers.emplace_back(transformer(p + "1.", ch, depth));
      I.input_blocks.push_back(std::move(layers));
      zero_conv(ch);
    }
    if (level + 1 != levels) {
      const std::string p = "input_blocks." + S(int64_t(I.input_blocks.size())) + ".";
      I.input_blocks.emplace_back();
      I.input_blocks.back().emplace_back(Downsample(w, p + "0.", ch));
      zero_conv(ch);
    }
  }
  I.middle_block.emplace_back(ResBlock(w, "middle_block.0.", ch, ch, ted));
  I.middle_block.emplace_back(transformer("middle_block.1.", ch, cfg.transformer_depth_middle));
  I.middle_block.emplace_back(ResBlock(w, "middle_block.2.", ch, ch, ted));
  I.middle_block_out = Conv2d(w, "middle_block_out.0.", ch, ch, 1, 1, 0);

  weights_ = w.taken();
  if (!weights_.empty()) {
    device_ = weights_.begin()->second.device();
    dtype_ = weights_.begin()->second.scalar_type();
  }
}

std::shared_ptr<ControlNetModel> ControlNetModel::load(const TensorMap& bare, c10::Device device,
                                                       c10::ScalarType dtype, const std::string& what) {
  UNetConfig cfg;
  try {
    cfg = UNetConfig::detect(bare);
  } catch (Error& e) {
    throw Error("execution_error", what + ": " + e.what());
  }
  auto hint = bare.find("input_hint_block.0.weight");
  if (hint == bare.end() || hint->second.dim() != 4)
    throw Error("execution_error", what + ": no input_hint_block.0.weight (not an image-hint ControlNet)");
  MapWeights w(bare, device, dtype, what);
  auto net = std::make_shared<ControlNetModel>(cfg, hint->second.size(1), w);
  auto unused = w.unused();
  if (!unused.empty())  // load_state_dict(strict=False): unexpected keys are only reported
    spdlog::debug("{}: {} unexpected key(s), first '{}'", what, unused.size(), unused.front());
  return net;
}

ControlResiduals ControlNetModel::forward(const at::Tensor& x, const at::Tensor& hint, const at::Tensor& t,
                                          const at::Tensor& context_in, const std::optional<at::Tensor>& y) const {
  const auto& I = *impl_;
  const auto dt = x.scalar_type();
  auto context = context_in.to(dt);
  auto t_emb = timestep_embedding(t.to(x.device()), cfg_.model_channels).to(dt);  // [B, mc]
  auto emb = I.time_embed_2(at::silu(I.time_embed_0(t_emb)));                     // [B, 4*mc]

  at::Tensor g = hint.to(dt);  // [Bh, hint_ch, 8H, 8W]
  for (size_t i = 0; i < I.hint_block.size(); ++i) {
    g = I.hint_block[i](g);
    if (i + 1 < I.hint_block.size()) g = at::silu(g);
  }                             // [Bh, mc, H, W]
  if (I.has_label_emb) {
    if (!y) throw Error("execution_error", "y is None, did you try using a controlnet for SDXL on SD1?");
    emb = emb + I.label_emb_2(at::silu(I.label_emb_0(y->to(dt))));
  }

  ControlResiduals out;
  at::Tensor h = x;  // [B, in, H, W]
  for (size_t n = 0; n < I.input_blocks.size(); ++n) {
    for (const auto& layer : I.input_blocks[n]) h = std::visit(Apply{h, emb, context}, layer);
    if (n == 0) h = h + g;  // the hint joins after input block 0 only
    out.output.push_back(I.zero_convs[n](h));  // [B, C_n, H_n, W_n]
  }
  for (const auto& layer : I.middle_block) h = std::visit(Apply{h, emb, context}, layer);
  out.middle.push_back(I.middle_block_out(h));  // [B, C_mid, H_mid, W_mid]
  return out;
}

// ---------------------------------------------------------------- file layouts

ControlNetDetection detect_controlnet_layout(const TensorMap& k) {
  ControlNetDetection d;
  if (has(k, "after_proj_list.18.bias")) d.found = "a HunyuanDiT ControlNet";
  else if (has(k, "lora_controlnet")) d.found = "a Control-LoRA";
  else if (has(k, "controlnet_cond_embedding.conv_in.weight")) {
    if (has(k, "control_add_embedding.linear_1.weight")) d.found = "a union ControlNet (diffusers)";
    else d.layout = ControlNetLayout::Diffusers;
  } else if (has(k, "controlnet_blocks.0.weight") || has(k, "controlnet_blocks.0.linear.weight")) {
    d.found = "an SD3/Flux-family ControlNet (controlnet_blocks.*)";
  } else if (has(k, "control_model.zero_convs.0.0.weight")) {
    d.layout = ControlNetLayout::LdmPrefixed;
  } else if (has(k, "zero_convs.0.0.weight")) {
    d.layout = ControlNetLayout::LdmBare;
  } else {
    d.found = k.empty() ? "no tensors" : "keys such as '" + k.begin()->first + "'";
  }
  return d;
}

namespace {
// UNet config of a diffusers ControlNet, read off its down/mid block keys.
UNetConfig diffusers_config(const TensorMap& k, const std::string& what) {
  auto shape = [&](const std::string& key) {
    auto it = k.find(key);
    if (it == k.end()) throw Error("execution_error", what + ": missing key '" + key + "'");
    return it->second.sizes().vec();
  };
  UNetConfig c;
  auto conv_in = shape("conv_in.weight");
  c.model_channels = conv_in.at(0);
  c.in_channels = conv_in.at(1);
  c.out_channels = c.in_channels;
  c.channel_mult.clear();
  c.num_res_blocks.clear();
  c.transformer_depth.clear();
  c.transformer_depth_output.clear();
  std::optional<int64_t> context_dim;
  bool linear = false;
  for (int64_t l = 0; has(k, "down_blocks." + S(l) + ".resnets.0.conv1.weight"); ++l) {
    const std::string p = "down_blocks." + S(l) + ".";
    c.channel_mult.push_back(shape(p + "resnets.0.conv2.weight").at(0) / c.model_channels);
    int64_t r = 0;
    for (; has(k, p + "resnets." + S(r) + ".conv1.weight"); ++r) {
      const std::string a = p + "attentions." + S(r) + ".";
      int64_t depth = 0;
      while (has(k, a + "transformer_blocks." + S(depth) + ".norm1.weight")) ++depth;
      if (depth > 0 && !context_dim) {
        context_dim = shape(a + "transformer_blocks.0.attn2.to_k.weight").at(1);
        linear = shape(a + "proj_in.weight").size() == 2;
      }
      c.transformer_depth.push_back(depth);
    }
    c.num_res_blocks.push_back(r);
  }
  if (c.channel_mult.empty()) throw Error("execution_error", what + ": no down_blocks.* in the diffusers ControlNet");
  c.transformer_depth_middle = 0;
  while (has(k, "mid_block.attentions.0.transformer_blocks." + S(c.transformer_depth_middle) + ".norm1.weight"))
    ++c.transformer_depth_middle;
  if (c.transformer_depth_middle > 0 && !context_dim) {
    context_dim = shape("mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight").at(1);
    linear = shape("mid_block.attentions.0.proj_in.weight").size() == 2;
  }
  if (!context_dim) throw Error("execution_error", what + ": no cross-attention blocks in the diffusers ControlNet");
  c.context_dim = *context_dim;
  c.use_linear_in_transformer = linear;
  if (has(k, "add_embedding.linear_1.weight")) c.adm_in_channels = shape("add_embedding.linear_1.weight").at(1);
  else if (has(k, "class_embedding.linear_1.weight")) c.adm_in_channels = shape("class_embedding.linear_1.weight").at(1);
  if (c.use_linear_in_transformer || c.adm_in_channels) {
    c.num_heads = -1;
    c.num_head_channels = 64;
  } else {
    c.num_heads = 8;
    c.num_head_channels = -1;
  }
  return c;
}
}  // namespace

TensorMap controlnet_from_diffusers(const TensorMap& k, const std::string& what) {
  const UNetConfig cfg = diffusers_config(k, what);
  TensorMap out;
  std::set<std::string> used;
  for (const auto& [dif, ldm] : unet_to_diffusers(cfg)) {
    auto it = k.find(dif);
    if (it == k.end()) continue;
    out[ldm] = it->second;
    used.insert(dif);
  }
  auto move = [&](const std::string& from, const std::string& to) {
    for (const char* s : {"weight", "bias"}) {
      auto it = k.find(from + s);
      if (it == k.end()) continue;
      out[to + s] = it->second;
      used.insert(from + s);
    }
  };
  move("controlnet_mid_block.", "middle_block_out.0.");
  for (int64_t n = 0; has(k, "controlnet_down_blocks." + S(n) + ".weight"); ++n)
    move("controlnet_down_blocks." + S(n) + ".", "zero_convs." + S(n) + ".0.");
  move("controlnet_cond_embedding.conv_in.", "input_hint_block.0.");
  int64_t m = 0;
  for (; has(k, "controlnet_cond_embedding.blocks." + S(m) + ".weight"); ++m)
    move("controlnet_cond_embedding.blocks." + S(m) + ".", "input_hint_block." + S(2 * (m + 1)) + ".");
  move("controlnet_cond_embedding.conv_out.", "input_hint_block." + S(2 * (m + 1)) + ".");
  size_t leftover = 0;
  for (const auto& [key, _] : k)
    if (!used.count(key)) ++leftover;
  if (leftover) spdlog::warn("{}: {} diffusers ControlNet key(s) left over", what, leftover);
  return out;
}

}  // namespace comfy
