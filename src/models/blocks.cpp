#include "models/blocks.hpp"

#include <cmath>
#include <cstdlib>
#include <string>
#include <tuple>

#if defined(COMFY_HAVE_SDPA) || __has_include(<ATen/ops/scaled_dot_product_attention.h>)
#define COMFY_USE_SDPA 1
#endif

namespace comfy::blocks {

Linear::Linear(WeightSource& w, const std::string& p, int64_t in, int64_t out, bool with_bias) {
  weight = w.get(p + "weight", {out, in});
  if (with_bias) bias = w.get(p + "bias", {out});
}

namespace {
// COMFY_LINEAR=blas | onednn | auto (default): which CPU fp32 GEMM the Linear layers use.
int linear_policy() {
  static const int p = [] {
    const char* e = std::getenv("COMFY_LINEAR");
    const std::string v = e ? e : "auto";
    return v == "blas" ? 0 : v == "onednn" ? 2 : 1;
  }();
  return p;
}

}  // namespace

bool linear_uses_onednn(const at::Tensor& x, const at::Tensor& w) {
  if (linear_policy() == 0 || !at::hasMKLDNN() || !x.device().is_cpu() || x.scalar_type() != at::kFloat ||
      w.scalar_type() != at::kFloat || !w.is_contiguous() || x.dim() < 2)
    return false;
  const int64_t rows = x.numel() / x.size(-1), in = w.size(1), out = w.size(0);
  if (linear_policy() == 2) return rows > 0;
  // sgemm measured as fast or faster into a much wider output (the feed-forward's GEGLU projection).
  return rows >= 64 && in >= 256 && out <= 4 * in;
}

at::Tensor Linear::operator()(const at::Tensor& x) const {
  if (!linear_uses_onednn(x, weight)) return at::linear(x, weight, bias);
  auto sizes = x.sizes().vec();
  const auto x2 = x.reshape({-1, sizes.back()});
  sizes.back() = weight.size(0);
  auto y = at::mkldnn_linear(x2.to_mkldnn(), weight, bias.defined() ? c10::optional<at::Tensor>(bias) : c10::nullopt);
  return y.to_dense().view(sizes);
}

Conv2d::Conv2d(WeightSource& w, const std::string& p, int64_t in, int64_t out, int64_t k, int64_t stride_,
               int64_t padding_)
    : stride(stride_), padding(padding_ < 0 ? k / 2 : padding_) {
  weight = w.get(p + "weight", {out, in, k, k});
  bias = w.get(p + "bias", {out});
}

GroupNorm::GroupNorm(WeightSource& w, const std::string& p, int64_t channels, double eps_, int64_t groups_)
    : groups(groups_), eps(eps_) {
  weight = w.get(p + "weight", {channels});
  bias = w.get(p + "bias", {channels});
}

LayerNorm::LayerNorm(WeightSource& w, const std::string& p, int64_t dim, double eps_) : eps(eps_) {
  weight = w.get(p + "weight", {dim});
  bias = w.get(p + "bias", {dim});
}

namespace {
#ifdef COMFY_USE_SDPA
// COMFY_ATTENTION=plain forces the plain kernel where SDPA exists (benchmarks, debugging).
bool force_plain_attention() {
  static const bool plain = [] {
    const char* e = std::getenv("COMFY_ATTENTION");
    return e && std::string(e) == "plain";
  }();
  return plain;
}
#endif

// softmax(q k^T / sqrt(D)) v on [B, H, N, D] tensors, splitting B*H so the score matrix stays bounded.
at::Tensor plain_attention(const at::Tensor& qh, const at::Tensor& kh, const at::Tensor& vh) {
  const int64_t B = qh.size(0), heads = qh.size(1), N = qh.size(2), M = kh.size(2), D = qh.size(3), C = heads * D;
  const double scale = 1.0 / std::sqrt(double(D));
  const bool upcast = qh.scalar_type() != at::kFloat && qh.scalar_type() != at::kDouble;
  auto q3 = qh.reshape({B * heads, N, D});
  auto k3 = kh.reshape({B * heads, M, D});
  auto v3 = vh.reshape({B * heads, M, D});
  if (upcast) { q3 = q3.to(at::kFloat); k3 = k3.to(at::kFloat); }
  // Bound the [chunk, N, M] score matrix to ~512 MB.
  const int64_t per = std::max<int64_t>(1, (int64_t(512) << 20) / std::max<int64_t>(1, N * M * 4));
  std::vector<at::Tensor> parts;
  for (int64_t s = 0; s < B * heads; s += per) {
    int64_t e = std::min(B * heads, s + per);
    auto sim = at::bmm(q3.slice(0, s, e), k3.slice(0, s, e).transpose(1, 2)).mul_(scale);  // [c, N, M]
    sim = sim.softmax(-1);
    if (upcast) sim = sim.to(v3.scalar_type());
    parts.push_back(at::bmm(sim, v3.slice(0, s, e)));  // [c, N, D]
  }
  auto out = (parts.size() == 1 ? parts[0] : at::cat(parts, 0)).view({B, heads, N, D});
  return out.transpose(1, 2).reshape({B, N, C});  // [B, N, H*D]
}
}  // namespace

at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, int64_t heads) {
  const int64_t B = q.size(0), N = q.size(1), M = k.size(1), C = q.size(2), D = C / heads;
  // [B, N, H*D] -> [B, H, N, D]
  auto qh = q.view({B, N, heads, D}).transpose(1, 2);
  auto kh = k.view({B, M, heads, D}).transpose(1, 2);
  auto vh = v.view({B, M, heads, D}).transpose(1, 2);
#ifdef COMFY_USE_SDPA
  if (!force_plain_attention()) {
    auto out = at::scaled_dot_product_attention(qh, kh, vh);  // [B, H, N, D]
    return out.transpose(1, 2).reshape({B, N, C});
  }
#endif
  return plain_attention(qh, kh, vh);
}

at::Tensor timestep_embedding(const at::Tensor& t, int64_t dim) {
  const int64_t half = dim / 2;
  auto opts = at::TensorOptions().dtype(at::kFloat).device(t.device());
  auto freqs = at::exp(at::arange(0, half, opts) * (-std::log(10000.0) / double(half)));  // [half]
  auto args = t.to(at::kFloat).unsqueeze(1) * freqs.unsqueeze(0);                           // [B, half]
  auto emb = at::cat({at::cos(args), at::sin(args)}, -1);                                   // [B, 2*half]
  if (dim % 2) emb = at::cat({emb, at::zeros({emb.size(0), 1}, opts)}, -1);
  return emb;
}

ResBlock::ResBlock(WeightSource& w, const std::string& p, int64_t in_ch, int64_t out_ch, int64_t emb_ch)
    : in_norm(w, p + "in_layers.0.", in_ch, 1e-5),
      out_norm(w, p + "out_layers.0.", out_ch, 1e-5),
      in_conv(w, p + "in_layers.2.", in_ch, out_ch, 3),
      out_conv(w, p + "out_layers.3.", out_ch, out_ch, 3),
      emb_proj(w, p + "emb_layers.1.", emb_ch, out_ch),
      has_skip(in_ch != out_ch) {
  if (has_skip) skip = Conv2d(w, p + "skip_connection.", in_ch, out_ch, 1);
}

at::Tensor ResBlock::forward(const at::Tensor& x, const at::Tensor& emb) const {
  auto h = in_conv(at::silu(in_norm(x)));                       // [B, out, H, W]
  auto e = emb_proj(at::silu(emb)).to(h.scalar_type());         // [B, out]
  h = h + e.unsqueeze(-1).unsqueeze(-1);
  h = out_conv(at::silu(out_norm(h)));                          // [B, out, H, W]
  return (has_skip ? skip(x) : x) + h;
}

CrossAttention::CrossAttention(WeightSource& w, const std::string& p, int64_t query_dim, int64_t context_dim,
                               int64_t heads_, int64_t dim_head)
    : to_q(w, p + "to_q.", query_dim, heads_ * dim_head, false),
      to_k(w, p + "to_k.", context_dim, heads_ * dim_head, false),
      to_v(w, p + "to_v.", context_dim, heads_ * dim_head, false),
      to_out(w, p + "to_out.0.", heads_ * dim_head, query_dim),
      heads(heads_) {}

at::Tensor CrossAttention::forward(const at::Tensor& x, const at::Tensor& context, KVCursor* kv) const {
  auto q = to_q(x);  // [B, N, inner]
  at::Tensor k, v;   // [B, M, inner]
  if (kv && !kv->fill && kv->next < kv->kv->layers.size()) {
    std::tie(k, v) = kv->kv->layers[kv->next++];
  } else {
    k = to_k(context);
    v = to_v(context);
    if (kv && kv->fill) {
      kv->kv->layers.emplace_back(k, v);
      ++kv->next;
    }
  }
  return to_out(attention(q, k, v, heads));  // [B, N, query_dim]
}

FeedForward::FeedForward(WeightSource& w, const std::string& p, int64_t dim, int64_t mult)
    : proj(w, p + "net.0.proj.", dim, dim * mult * 2), out(w, p + "net.2.", dim * mult, dim) {}

at::Tensor FeedForward::forward(const at::Tensor& x) const {
  auto vg = proj(x).chunk(2, -1);        // 2 x [B, N, inner]
  return out(vg[0] * at::gelu(vg[1]));   // [B, N, dim]
}

BasicTransformerBlock::BasicTransformerBlock(WeightSource& w, const std::string& p, int64_t dim, int64_t heads,
                                             int64_t dim_head, int64_t context_dim)
    : norm1(w, p + "norm1.", dim),
      norm2(w, p + "norm2.", dim),
      norm3(w, p + "norm3.", dim),
      attn1(w, p + "attn1.", dim, dim, heads, dim_head),
      attn2(w, p + "attn2.", dim, context_dim, heads, dim_head),
      ff(w, p + "ff.", dim) {}

at::Tensor BasicTransformerBlock::forward(at::Tensor x, const at::Tensor& context, KVCursor* kv) const {
  auto n = norm1(x);
  x = x + attn1.forward(n, n);                   // self-attention   [B, N, C]
  x = x + attn2.forward(norm2(x), context, kv);  // cross-attention [B, N, C]
  return x + ff.forward(norm3(x));
}

SpatialTransformer::SpatialTransformer(WeightSource& w, const std::string& p, int64_t channels, int64_t heads,
                                       int64_t dim_head, int64_t depth, int64_t context_dim, bool use_linear_)
    : norm(w, p + "norm.", channels, 1e-6), use_linear(use_linear_) {
  const int64_t inner = heads * dim_head;
  if (use_linear) {
    proj_in_lin = Linear(w, p + "proj_in.", channels, inner);
  } else {
    proj_in_conv = Conv2d(w, p + "proj_in.", channels, inner, 1);
  }
  for (int64_t d = 0; d < depth; ++d)
    blocks.emplace_back(w, p + "transformer_blocks." + std::to_string(d) + ".", inner, heads, dim_head, context_dim);
  if (use_linear) {
    proj_out_lin = Linear(w, p + "proj_out.", inner, channels);
  } else {
    proj_out_conv = Conv2d(w, p + "proj_out.", inner, channels, 1);
  }
}

at::Tensor SpatialTransformer::forward(const at::Tensor& x_in, const at::Tensor& context, KVCursor* kv) const {
  const int64_t B = x_in.size(0), H = x_in.size(2), W = x_in.size(3);
  auto x = norm(x_in);                                             // [B, C, H, W]
  if (!use_linear) x = proj_in_conv(x);                            // [B, inner, H, W]
  x = x.movedim(1, 3).flatten(1, 2).contiguous();                  // [B, H*W, inner]
  if (use_linear) x = proj_in_lin(x);
  for (const auto& b : blocks) x = b.forward(x, context, kv);     // [B, H*W, inner]
  if (use_linear) x = proj_out_lin(x);
  x = x.reshape({B, H, W, x.size(-1)}).movedim(3, 1).contiguous(); // [B, C, H, W]
  if (!use_linear) x = proj_out_conv(x);
  return x + x_in;
}

at::Tensor Upsample::forward(const at::Tensor& x, const std::vector<int64_t>* out_hw) const {
  std::vector<int64_t> size = out_hw ? *out_hw : std::vector<int64_t>{x.size(2) * 2, x.size(3) * 2};
  auto h = at::upsample_nearest2d(x, size);  // [B, C, H', W']
  return conv(h);
}

}  // namespace comfy::blocks
