// UNetModel (openaimodel.py): config detection from the checkpoint, construction by key, forward.
#include "comfy/models/unet.hpp"

#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <mutex>
#include <sstream>
#include <variant>

#include "comfy/core/error.hpp"
#include "models/blocks.hpp"
#include "models/weight_arena.hpp"

namespace comfy {

using namespace blocks;

// ---------------------------------------------------------------- config detection

namespace {
bool has(const TensorMap& m, const std::string& k) { return m.count(k) != 0; }

int64_t count_transformer_blocks(const TensorMap& m, const std::string& p) {
  int64_t d = 0;
  while (has(m, p + "transformer_blocks." + std::to_string(d) + ".norm1.weight")) ++d;
  return d;
}

std::string list_str(const std::vector<int64_t>& v) {
  std::string r = "[";
  for (size_t i = 0; i < v.size(); ++i) r += (i ? ", " : "") + std::to_string(v[i]);
  return r + "]";
}
}  // namespace

UNetConfig UNetConfig::detect(const TensorMap& m, const std::string& prefix) {
  auto bad = [&](const std::string& why) { return Error("execution_error", "cannot read the UNet config: " + why); };
  auto shape = [&](const std::string& k) -> at::IntArrayRef {
    auto it = m.find(prefix + k);
    if (it == m.end()) throw bad("missing key '" + prefix + k + "'");
    return it->second.sizes();
  };
  UNetConfig c;
  auto conv_in = shape("input_blocks.0.0.weight");
  if (conv_in.size() != 4) throw bad("input_blocks.0.0.weight is not a conv weight");
  c.model_channels = conv_in[0];
  c.in_channels = conv_in[1];
  // A ControlNet holds the encoder and middle block only (no out.*).
  c.out_channels = has(m, prefix + "out.2.weight") ? shape("out.2.weight")[0] : c.in_channels;
  c.channel_mult.clear();
  c.num_res_blocks.clear();
  c.transformer_depth.clear();
  c.transformer_depth_output.clear();

  std::optional<int64_t> context_dim;
  std::optional<bool> use_linear;
  auto note_transformer = [&](const std::string& p) {  // p: relative to prefix
    if (!context_dim) context_dim = shape(p + "transformer_blocks.0.attn2.to_k.weight")[1];
    if (!use_linear) use_linear = shape(p + "proj_in.weight").size() == 2;
  };

  int64_t level_res = 0;
  for (int64_t n = 1;; ++n) {
    const std::string p = "input_blocks." + std::to_string(n) + ".";
    if (has(m, prefix + p + "0.op.weight")) {  // Downsample closes a level
      c.num_res_blocks.push_back(level_res);
      level_res = 0;
    } else if (has(m, prefix + p + "0.in_layers.0.weight")) {
      const int64_t out = shape(p + "0.out_layers.3.weight")[0];
      if (level_res == 0) c.channel_mult.push_back(out / c.model_channels);
      ++level_res;
      const int64_t depth = count_transformer_blocks(m, prefix + p + "1.");
      if (depth > 0) note_transformer(p + "1.");
      c.transformer_depth.push_back(depth);
    } else {
      break;
    }
  }
  if (level_res > 0) c.num_res_blocks.push_back(level_res);
  if (c.channel_mult.empty() || c.channel_mult.size() != c.num_res_blocks.size())
    throw bad("the input blocks do not form a UNet (levels " + list_str(c.channel_mult) + ", res blocks " +
              list_str(c.num_res_blocks) + ")");

  c.transformer_depth_middle = count_transformer_blocks(m, prefix + "middle_block.1.");
  if (c.transformer_depth_middle > 0) note_transformer("middle_block.1.");
  else throw bad("middle_block.1 is not a transformer (unsupported UNet variant)");

  std::vector<int64_t> out_depths;
  for (int64_t n = 0; has(m, prefix + "output_blocks." + std::to_string(n) + ".0.in_layers.0.weight"); ++n) {
    const std::string p = "output_blocks." + std::to_string(n) + ".1.";
    const int64_t depth = count_transformer_blocks(m, prefix + p);
    if (depth > 0) note_transformer(p);
    out_depths.push_back(depth);
  }
  c.transformer_depth_output.assign(out_depths.rbegin(), out_depths.rend());

  if (!context_dim) throw bad("no transformer blocks found");
  c.context_dim = *context_dim;
  c.use_linear_in_transformer = *use_linear;
  if (has(m, prefix + "label_emb.0.0.weight")) c.adm_in_channels = shape("label_emb.0.0.weight")[1];
  if (c.use_linear_in_transformer || c.adm_in_channels) {
    c.num_heads = -1;
    c.num_head_channels = 64;
  } else {
    c.num_heads = 8;
    c.num_head_channels = -1;
  }
  return c;
}

std::string UNetConfig::describe() const {
  std::ostringstream o;
  o << "UNet in " << in_channels << " out " << out_channels << " model_channels " << model_channels
    << " channel_mult " << list_str(channel_mult) << " num_res_blocks " << list_str(num_res_blocks)
    << " transformer_depth " << list_str(transformer_depth) << " middle " << transformer_depth_middle
    << " output " << list_str(transformer_depth_output) << " context_dim " << context_dim
    << (use_linear_in_transformer ? " linear-proj" : " conv-proj");
  if (adm_in_channels) o << " adm_in " << *adm_in_channels;
  if (num_heads > 0) o << " heads " << num_heads;
  else o << " head_channels " << num_head_channels;
  return o.str();
}

// ---------------------------------------------------------------- the network

namespace {
// apply_control: h + residual; None entries and residuals of another shape are skipped (a warning).
at::Tensor add_control(const at::Tensor& h, const std::vector<at::Tensor>& list, size_t i, const char* where) {
  if (i >= list.size() || !list[i].defined()) return h;
  const auto& r = list[i];
  if (r.sizes() != h.sizes() && !(r.dim() == h.dim() && r.size(0) == 1 && r.sizes().slice(1) == h.sizes().slice(1))) {
    spdlog::warn("warning control could not be applied ({}): {} vs {}", where, c10::str(r.sizes()), c10::str(h.sizes()));
    return h;
  }
  return h + r.to(h.scalar_type());
}

// One entry of a TimestepEmbedSequential.
using Layer = std::variant<Conv2d, ResBlock, SpatialTransformer, Downsample, Upsample>;

struct Apply {
  const at::Tensor& x;
  const at::Tensor& emb;
  const at::Tensor& context;
  KVCursor* kv;
  const std::vector<int64_t>* out_hw;
  at::Tensor operator()(const Conv2d& l) const { return l(x); }
  at::Tensor operator()(const ResBlock& l) const { return l.forward(x, emb); }
  at::Tensor operator()(const SpatialTransformer& l) const { return l.forward(x, context, kv); }
  at::Tensor operator()(const Downsample& l) const { return l.forward(x); }
  at::Tensor operator()(const Upsample& l) const { return l.forward(x, out_hw); }
};

// COMFY_KV_CACHE=0 turns the cross-attention K/V cache off (benchmarks, debugging).
bool kv_cache_enabled() {
  static const bool on = [] {
    const char* e = std::getenv("COMFY_KV_CACHE");
    return !(e && std::string(e) == "0");
  }();
  return on;
}
constexpr size_t kKVCacheBytes = size_t(512) << 20;
}  // namespace

struct UNetModel::Impl {
  Linear time_embed_0, time_embed_2;
  bool has_label_emb = false;
  Linear label_emb_0, label_emb_2;
  std::vector<std::vector<Layer>> input_blocks, output_blocks;
  std::vector<Layer> middle_block;
  GroupNorm out_norm;
  Conv2d out_conv;

  // The cross-attention K/V of the last context (ContextKV), on the CPU only: recognising the context
  // reads it, which on a GPU would wait for the device at every step. Same values as recomputing.
  struct KVCache {
    std::mutex mu;
    at::Tensor context;  // a copy of the context the K/V belong to
    std::shared_ptr<ContextKV> kv;
  };
  mutable KVCache kv_cache;

  // The K/V for `context` to read back, or a new ContextKV for this pass to fill; null: no caching.
  std::shared_ptr<ContextKV> kv_for(const at::Tensor& context, KVCursor& cur) const {
    if (!context.device().is_cpu() || !kv_cache_enabled()) return nullptr;
    {
      std::lock_guard<std::mutex> l(kv_cache.mu);
      const auto& c = kv_cache.context;
      if (kv_cache.kv && c.sizes() == context.sizes() && c.scalar_type() == context.scalar_type() &&
          at::equal(c, context)) {
        cur = KVCursor{kv_cache.kv.get(), false, 0};
        return kv_cache.kv;
      }
    }
    auto fresh = std::make_shared<ContextKV>();
    cur = KVCursor{fresh.get(), true, 0};
    return fresh;
  }
  // Keeps a freshly filled ContextKV for the next pass, when it is small enough to be worth holding.
  void keep_kv(const at::Tensor& context, std::shared_ptr<ContextKV> kv, const KVCursor& cur) const {
    if (!kv || !cur.fill) return;
    size_t bytes = 0;
    for (const auto& [k, v] : kv->layers) bytes += k.nbytes() + v.nbytes();
    if (bytes > kKVCacheBytes) return;
    auto copy = context.clone();
    std::lock_guard<std::mutex> l(kv_cache.mu);
    kv_cache.context = std::move(copy);
    kv_cache.kv = std::move(kv);
  }
};

UNetModel::~UNetModel() = default;

UNetModel::UNetModel(const UNetConfig& cfg, WeightSource& w) : cfg_(cfg), impl_(std::make_unique<Impl>()) {
  auto& I = *impl_;
  const int64_t mc = cfg.model_channels, ted = cfg.time_embed_dim();
  I.time_embed_0 = Linear(w, "time_embed.0.", mc, ted);
  I.time_embed_2 = Linear(w, "time_embed.2.", ted, ted);
  if (cfg.adm_in_channels) {
    I.has_label_emb = true;
    I.label_emb_0 = Linear(w, "label_emb.0.0.", *cfg.adm_in_channels, ted);
    I.label_emb_2 = Linear(w, "label_emb.0.2.", ted, ted);
  }
  auto heads_for = [&](int64_t ch) -> std::pair<int64_t, int64_t> {  // (heads, dim_head)
    if (cfg.num_head_channels == -1) return {cfg.num_heads, ch / cfg.num_heads};
    return {ch / cfg.num_head_channels, cfg.num_head_channels};
  };
  auto transformer = [&](const std::string& p, int64_t ch, int64_t depth) {
    auto [heads, dim_head] = heads_for(ch);
    return SpatialTransformer(w, p, ch, heads, dim_head, depth, cfg.context_dim, cfg.use_linear_in_transformer);
  };

  std::vector<int64_t> depth_in = cfg.transformer_depth, depth_out = cfg.transformer_depth_output;
  size_t depth_in_pos = 0;
  I.input_blocks.emplace_back();
  I.input_blocks.back().emplace_back(Conv2d(w, "input_blocks.0.0.", cfg.in_channels, mc, 3));
  std::vector<int64_t> chans{mc};
  int64_t ch = mc;
  const size_t levels = cfg.channel_mult.size();
  for (size_t level = 0; level < levels; ++level) {
    for (int64_t r = 0; r < cfg.num_res_blocks.at(level); ++r) {
      const std::string p = "input_blocks." + std::to_string(I.input_blocks.size()) + ".";
      std::vector<Layer> layers;
      const int64_t out = cfg.channel_mult[level] * mc;
      layers.emplace_back(ResBlock(w, p + "0.", ch, out, ted));
      ch = out;
      const int64_t depth = depth_in_pos < depth_in.size() ? depth_in[depth_in_pos++] : 0;
      if (depth > 0) layers.emplace_back(transformer(p + "1.", ch, depth));
      I.input_blocks.push_back(std::move(layers));
      chans.push_back(ch);
    }
    if (level + 1 != levels) {
      const std::string p = "input_blocks." + std::to_string(I.input_blocks.size()) + ".";
      I.input_blocks.emplace_back();
      I.input_blocks.back().emplace_back(Downsample(w, p + "0.", ch));
      chans.push_back(ch);
    }
  }
  I.middle_block.emplace_back(ResBlock(w, "middle_block.0.", ch, ch, ted));
  I.middle_block.emplace_back(transformer("middle_block.1.", ch, cfg.transformer_depth_middle));
  I.middle_block.emplace_back(ResBlock(w, "middle_block.2.", ch, ch, ted));

  for (size_t li = levels; li-- > 0;) {
    for (int64_t r = 0; r <= cfg.num_res_blocks.at(li); ++r) {
      const std::string p = "output_blocks." + std::to_string(I.output_blocks.size()) + ".";
      const int64_t ich = chans.back();
      chans.pop_back();
      std::vector<Layer> layers;
      const int64_t out = cfg.channel_mult[li] * mc;
      layers.emplace_back(ResBlock(w, p + "0.", ch + ich, out, ted));
      ch = out;
      int64_t depth = 0;
      if (!depth_out.empty()) {
        depth = depth_out.back();
        depth_out.pop_back();
      }
      if (depth > 0) layers.emplace_back(transformer(p + "1.", ch, depth));
      if (li > 0 && r == cfg.num_res_blocks[li])
        layers.emplace_back(Upsample(w, p + std::to_string(layers.size()) + ".", ch));
      I.output_blocks.push_back(std::move(layers));
    }
  }
  I.out_norm = GroupNorm(w, "out.0.", ch, 1e-5);
  I.out_conv = Conv2d(w, "out.2.", mc, cfg.out_channels, 3);

  weights_ = w.taken();
  if (!weights_.empty()) {
    device_ = weights_.begin()->second.device();
    dtype_ = weights_.begin()->second.scalar_type();
  }
}

namespace {
// Whether a load may leave the fp16 -> fp32 conversion to the first use (COMFY_DEFER_CONVERT=0: no).
bool defer_enabled() {
  static const bool on = [] {
    const char* v = std::getenv("COMFY_DEFER_CONVERT");
    return !(v && std::string(v) == "0");
  }();
  return on;
}
}  // namespace

std::shared_ptr<UNetModel> UNetModel::load(const TensorMap& tensors, c10::Device device, c10::ScalarType dtype,
                                           const std::string& what) {
  auto cfg = UNetConfig::detect(tensors);
  bool defer = false;
  if (defer_enabled())
    for (const auto& [_, t] : tensors)
      if (WeightArena::handles(t, device, dtype)) {
        defer = true;
        break;
      }
  // A deferred load builds the network on the file's own tensors: every key and shape is checked now,
  // the conversion waits for materialize().
  MapWeights w = defer ? MapWeights::views(tensors, what) : MapWeights(tensors, device, dtype, what);
  auto net = std::make_shared<UNetModel>(cfg, w);
  auto unused = w.unused();
  if (!unused.empty())
    spdlog::warn("{}: {} unexpected key(s) ignored, first '{}'", what, unused.size(), unused.front());
  if (defer) {
    net->device_ = device;
    net->dtype_ = dtype;
    net->what_ = what;
    net->ready_.store(false, std::memory_order_release);
  }
  return net;
}

void UNetModel::materialize() const {
  std::lock_guard<std::mutex> l(mu_);
  if (ready_.load(std::memory_order_acquire)) return;
  // The same construction on the converted weights (WeightArena: one pass from the file mapping,
  // whose pages each weight releases once converted).
  MapWeights w(weights_, device_, dtype_, what_);
  UNetModel built(cfg_, w);
  impl_ = std::move(built.impl_);
  weights_ = w.taken();
  ready_.store(true, std::memory_order_release);
}

std::vector<std::string> UNetModel::keys() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::string> r;
  r.reserve(weights_.size());
  for (const auto& [k, _] : weights_) r.push_back(k);
  return r;
}

std::shared_ptr<UNetModel> UNetModel::with_weights(const TensorMap& replaced) const {
  TensorMap all = weights();
  for (auto& [k, v] : replaced) all[k] = v;
  MapWeights w(all, device_, dtype_, "patched UNet");
  auto net = std::make_shared<UNetModel>(cfg_, w);
  net->hook = hook;
  return net;
}

at::Tensor UNetModel::forward(const at::Tensor& x, const at::Tensor& t, const ModelConds& c) {
  return forward(x, t, c.c_crossattn, c.y, c.control.get());
}

at::Tensor UNetModel::forward(const at::Tensor& x, const at::Tensor& t, const at::Tensor& context_in,
                              const std::optional<at::Tensor>& y, const ControlResiduals* control) const {
  if (!materialized()) materialize();
  const auto& I = *impl_;
  auto cb = [&](const std::string& name, const at::Tensor& v) {
    if (hook) hook(name, v);
  };
  const auto dt = x.scalar_type();
  if (context_in.dim() != 3 || context_in.size(2) != cfg_.context_dim)
    throw Error("execution_error", "the conditioning has " + std::to_string(context_in.size(-1)) +
                                       " features per token but this UNet's cross-attention takes " +
                                       std::to_string(cfg_.context_dim) +
                                       " (conditioning from another model's text encoder, e.g. SDXL base "
                                       "conditioning on the refiner?)");
  if (x.size(1) != cfg_.in_channels)
    throw Error("execution_error", "the UNet takes " + std::to_string(cfg_.in_channels) + " input channels, got " +
                                       std::to_string(x.size(1)));
  auto context = context_in.to(dt);
  auto t_emb = timestep_embedding(t.to(x.device()), cfg_.model_channels).to(dt);  // [B, mc]
  cb("t_emb", t_emb);
  auto emb = I.time_embed_2(at::silu(I.time_embed_0(t_emb)));                     // [B, 4*mc]
  cb("time_embed", emb);
  if (I.has_label_emb) {
    if (!y) throw Error("execution_error", "this UNet needs the ADM vector y (SDXL-style) but none was given");
    if (y->dim() != 2 || y->size(1) != *cfg_.adm_in_channels)
      throw Error("execution_error", "the adm vector y has " + std::to_string(y->size(-1)) + " values but this UNet takes " +
                                         std::to_string(*cfg_.adm_in_channels) +
                                         " (pooled output or size conditioning of another model family?)");
    auto l = I.label_emb_2(at::silu(I.label_emb_0(y->to(dt))));                     // [B, 4*mc]
    cb("label_emb", l);
    emb = emb + l;
  }

  KVCursor cursor;
  auto kv = I.kv_for(context, cursor);
  KVCursor* kvc = kv ? &cursor : nullptr;
  std::vector<at::Tensor> hs;
  at::Tensor h = x;  // [B, in, H, W]
  for (size_t n = 0; n < I.input_blocks.size(); ++n) {
    for (size_t m = 0; m < I.input_blocks[n].size(); ++m) {
      h = std::visit(Apply{h, emb, context, kvc, nullptr}, I.input_blocks[n][m]);
      cb("input_blocks." + std::to_string(n) + "." + std::to_string(m), h);
    }
    hs.push_back(h);
  }
  for (size_t m = 0; m < I.middle_block.size(); ++m) {
    h = std::visit(Apply{h, emb, context, kvc, nullptr}, I.middle_block[m]);  // [B, C, H/2^k, W/2^k]
    cb("middle_block." + std::to_string(m), h);
  }
  if (control) h = add_control(h, control->middle, 0, "middle");
  for (size_t n = 0; n < I.output_blocks.size(); ++n) {
    at::Tensor skip = hs.back();
    // output block n gets the residual of input block (count-1-n): both stacks pop from their end
    if (control && n < control->output.size())
      skip = add_control(skip, control->output, control->output.size() - 1 - n, "output");
    h = at::cat({h, skip}, 1);  // [B, C + skip, h, w]
    hs.pop_back();
    std::vector<int64_t> out_hw;
    if (!hs.empty()) out_hw = {hs.back().size(2), hs.back().size(3)};
    for (size_t m = 0; m < I.output_blocks[n].size(); ++m) {
      h = std::visit(Apply{h, emb, context, kvc, hs.empty() ? nullptr : &out_hw}, I.output_blocks[n][m]);
      cb("output_blocks." + std::to_string(n) + "." + std::to_string(m), h);
    }
  }
  I.keep_kv(context, std::move(kv), cursor);
  return I.out_conv(at::silu(I.out_norm(h)));  // [B, out, H, W]
}

}  // namespace comfy
