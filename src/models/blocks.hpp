#pragma once
// Building blocks shared by the UNet (and the VAE where they coincide): plain structs holding their
// weights, each constructed from a WeightSource under the checkpoint key prefix it has in the file.
#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "comfy/models/weights.hpp"

namespace comfy::blocks {

// Whether Linear goes through oneDNN's inner product for this input and weight (COMFY_LINEAR=blas |
// onednn | auto, default auto: fp32 CPU, >= 64 rows, >= 256 inputs, outputs <= 4x inputs: where it
// measured faster than OpenBLAS's sgemm; bench/README.md).
bool linear_uses_onednn(const at::Tensor& x, const at::Tensor& weight);

struct Linear {
  at::Tensor weight, bias;  // [out, in], [out] (bias may be undefined)
  Linear() = default;
  Linear(WeightSource& w, const std::string& p, int64_t in, int64_t out, bool with_bias = true);
  // On the CPU in fp32, a large enough product goes through oneDNN (1.3-2x OpenBLAS's sgemm on most
  // of the UNet's projection shapes); otherwise at::linear.
  at::Tensor operator()(const at::Tensor& x) const;
};

struct Conv2d {
  at::Tensor weight, bias;  // [out, in, k, k], [out]
  int64_t stride = 1, padding = 0;
  Conv2d() = default;
  Conv2d(WeightSource& w, const std::string& p, int64_t in, int64_t out, int64_t k, int64_t stride = 1,
         int64_t padding = -1);  // padding -1 = k/2
  at::Tensor operator()(const at::Tensor& x) const {
    return at::conv2d(x, weight, bias, {stride, stride}, {padding, padding});
  }
};

struct GroupNorm {
  at::Tensor weight, bias;
  int64_t groups = 32;
  double eps = 1e-5;
  GroupNorm() = default;
  GroupNorm(WeightSource& w, const std::string& p, int64_t channels, double eps, int64_t groups = 32);
  at::Tensor operator()(const at::Tensor& x) const { return at::group_norm(x, groups, weight, bias, eps); }
};

struct LayerNorm {
  at::Tensor weight, bias;
  double eps = 1e-5;
  LayerNorm() = default;
  LayerNorm(WeightSource& w, const std::string& p, int64_t dim, double eps = 1e-5);
  at::Tensor operator()(const at::Tensor& x) const {
    return at::layer_norm(x, {weight.size(0)}, weight, bias, eps);
  }
};

// softmax(q k^T / sqrt(d)) v over `heads` heads. q [B, N, H*D], k/v [B, M, H*D] -> [B, N, H*D].
// Uses at::scaled_dot_product_attention when the libtorch has it; otherwise a plain implementation
// that splits the batch*heads dimension so the score matrix stays bounded in memory.
at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, int64_t heads);

// ComfyUI timestep_embedding: [cos(t*f), sin(t*f)], f = exp(-ln(10000) * i / half). t [B] -> [B, dim] f32.
at::Tensor timestep_embedding(const at::Tensor& t, int64_t dim);

// ---- UNet blocks (comfy/ldm/modules/diffusionmodules/openaimodel.py, attention.py)

struct ResBlock {
  GroupNorm in_norm, out_norm;   // in_layers.0, out_layers.0
  Conv2d in_conv, out_conv;      // in_layers.2, out_layers.3
  Linear emb_proj;               // emb_layers.1
  Conv2d skip;                   // skip_connection (1x1) when channels change
  bool has_skip = false;
  ResBlock(WeightSource& w, const std::string& p, int64_t in_ch, int64_t out_ch, int64_t emb_ch);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& emb) const;
};

// The cross-attention keys and values of one context, layer by layer in the order a forward pass
// reaches them. A sampling run gives the UNet the same context at every step, so to_k / to_v (context)
// need computing once per run, not once per step in every transformer block (UNetModel keeps them).
struct ContextKV {
  std::vector<std::pair<at::Tensor, at::Tensor>> layers;
};
// One forward pass's walk over a ContextKV: fills it (a new context) or reads it back, layer by layer.
struct KVCursor {
  ContextKV* kv = nullptr;
  bool fill = false;
  size_t next = 0;
};

struct CrossAttention {
  Linear to_q, to_k, to_v, to_out;  // to_out.0
  int64_t heads = 8;
  CrossAttention(WeightSource& w, const std::string& p, int64_t query_dim, int64_t context_dim, int64_t heads,
                 int64_t dim_head);
  // `kv` (cross-attention only): where this layer's to_k / to_v (context) are kept or read back.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& context, KVCursor* kv = nullptr) const;
};

struct FeedForward {  // GEGLU: net.0.proj [dim -> 2*inner], net.2 [inner -> dim]
  Linear proj, out;
  FeedForward(WeightSource& w, const std::string& p, int64_t dim, int64_t mult = 4);
  at::Tensor forward(const at::Tensor& x) const;
};

struct BasicTransformerBlock {
  LayerNorm norm1, norm2, norm3;
  CrossAttention attn1, attn2;
  FeedForward ff;
  BasicTransformerBlock(WeightSource& w, const std::string& p, int64_t dim, int64_t heads, int64_t dim_head,
                        int64_t context_dim);
  at::Tensor forward(at::Tensor x, const at::Tensor& context, KVCursor* kv = nullptr) const;
};

struct SpatialTransformer {
  GroupNorm norm;
  bool use_linear = false;
  Conv2d proj_in_conv, proj_out_conv;
  Linear proj_in_lin, proj_out_lin;
  std::vector<BasicTransformerBlock> blocks;
  SpatialTransformer(WeightSource& w, const std::string& p, int64_t channels, int64_t heads, int64_t dim_head,
                     int64_t depth, int64_t context_dim, bool use_linear);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& context, KVCursor* kv = nullptr) const;
};

struct Downsample {  // op: 3x3 stride 2 pad 1
  Conv2d op;
  Downsample(WeightSource& w, const std::string& p, int64_t ch) : op(w, p + "op.", ch, ch, 3, 2, 1) {}
  at::Tensor forward(const at::Tensor& x) const { return op(x); }
};

struct Upsample {  // nearest to the skip tensor's size (or x2), then conv 3x3
  Conv2d conv;
  Upsample(WeightSource& w, const std::string& p, int64_t ch) : conv(w, p + "conv.", ch, ch, 3) {}
  at::Tensor forward(const at::Tensor& x, const std::vector<int64_t>* out_hw) const;
};

}  // namespace comfy::blocks
