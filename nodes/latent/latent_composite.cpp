// LatentComposite (nodes.py) and LatentCompositeMasked (comfy_extras/nodes_mask.py)
// (nodes-control-upscale.md 3.1, 3.2).
#include <ATen/ATen.h>

#include <algorithm>

#include "comfy/core/node.hpp"
#include "comfy/core/types.hpp"

namespace comfy {

namespace {
constexpr int64_t kMaxResolution = 16384;  // nodes.MAX_RESOLUTION
int64_t floordiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// comfy.utils.repeat_to_batch_size
at::Tensor repeat_to_batch(const at::Tensor& t, int64_t b) {
  if (t.size(0) > b) return t.slice(0, 0, b);
  if (t.size(0) < b) {
    std::vector<int64_t> reps(size_t(t.dim()), 1);
    reps[0] = (b + t.size(0) - 1) / t.size(0);
    return t.repeat(reps).slice(0, 0, b);
  }
  return t;
}

// samples_to with samples_from pasted at latent (x, y), feathered over `feather` latent pixels.
at::Tensor latent_composite(const at::Tensor& to, const at::Tensor& from_in, int64_t x, int64_t y, int64_t feather) {
  auto s = to.clone();
  const int64_t H = to.size(2), W = to.size(3);
  if (y >= H || x >= W) return s;
  auto from = from_in.slice(2, 0, H - y).slice(3, 0, W - x);  // [B, C, h, w]
  const int64_t h = from.size(2), w = from.size(3);
  auto region = s.slice(2, y, y + h).slice(3, x, x + w);
  if (from.size(0) > s.size(0))
    fail("samples_from", "samples_from has batch " + std::to_string(from.size(0)) + ", samples_to " +
                             std::to_string(s.size(0)) + " (they must be equal or samples_from 1)");
  if (feather == 0) {
    region.copy_(from);
    return s;
  }
  auto mask = at::ones_like(from);
  for (int64_t t = 0; t < feather; ++t) {
    const double v = (1.0 / double(feather)) * double(t + 1);
    if (y != 0) mask.slice(2, t, t + 1).mul_(v);
    if (y + h < H) mask.slice(2, h - 1 - t, h - t).mul_(v);
    if (x != 0) mask.slice(3, t, t + 1).mul_(v);
    if (x + w < W) mask.slice(3, w - 1 - t, w - t).mul_(v);
  }
  auto rev = at::ones_like(mask) - mask;
  region.copy_(from * mask + region * rev);
  return s;
}

// nodes_mask.composite with multiplier 8 on a cloned destination.
at::Tensor composite_masked(at::Tensor dest, at::Tensor source, int64_t x, int64_t y, const at::Tensor* mask_in,
                            bool resize_source) {
  const int64_t m = 8;
  source = source.to(dest.device(), dest.scalar_type());
  if (resize_source)
    source = at::upsample_bilinear2d(source, {dest.size(2), dest.size(3)}, false, c10::nullopt, c10::nullopt);
  source = repeat_to_batch(source, dest.size(0));
  x = std::max(-source.size(3) * m, std::min(x, dest.size(3) * m));
  y = std::max(-source.size(2) * m, std::min(y, dest.size(2) * m));
  const int64_t left = floordiv(x, m), top = floordiv(y, m);
  at::Tensor mask;
  if (!mask_in) {
    mask = at::ones_like(source);
  } else {
    mask = mask_in->to(dest.device(), at::kFloat).reshape({-1, 1, mask_in->size(-2), mask_in->size(-1)});
    mask = at::upsample_bilinear2d(mask, {source.size(2), source.size(3)}, false, c10::nullopt, c10::nullopt);
    mask = repeat_to_batch(mask, source.size(0));
  }
  const int64_t vis_w = dest.size(3) - left + std::min<int64_t>(0, x);
  const int64_t vis_h = dest.size(2) - top + std::min<int64_t>(0, y);
  if (vis_w <= 0 || vis_h <= 0) return dest;
  mask = mask.slice(2, 0, vis_h).slice(3, 0, vis_w);
  auto inverse = at::ones_like(mask) - mask;
  auto region = dest.slice(2, std::max<int64_t>(0, top), std::min(dest.size(2), top + source.size(2)))
                    .slice(3, std::max<int64_t>(0, left), std::min(dest.size(3), left + source.size(3)));
  auto src = source.slice(2, 0, vis_h).slice(3, 0, vis_w);
  region.copy_(mask * src + inverse * region);
  return dest;
}
}  // namespace

void register_latent_composite(Registry& r) {
  NodeSchema s("LatentComposite");
  s.display("Latent Composite").cat("latent")
      .input("samples_to", "LATENT")
      .input("samples_from", "LATENT")
      .int_("x", 0, 0, kMaxResolution, 8)
      .int_("y", 0, 0, kMaxResolution, 8)
      .int_("feather", 0, 0, kMaxResolution, 8)
      .output("LATENT");
  r.add({s, [](const NodeInputs& in, ExecContext&) {
           auto to = in.obj<Latent>("samples_to");
           auto from = in.obj<Latent>("samples_from");
           auto out = latent_composite(to->samples, from->samples.to(to->samples.device(), to->samples.scalar_type()),
                                       in.i64("x") / 8, in.i64("y") / 8, in.i64("feather") / 8);
           return NodeOutput{{Value(to->with_samples(out))}};
         }});
}

void register_latent_composite_masked(Registry& r) {
  NodeSchema s("LatentCompositeMasked");
  s.display("LatentCompositeMasked").cat("latent")
      .input("destination", "LATENT")
      .input("source", "LATENT")
      .int_("x", 0, 0, kMaxResolution, 8)
      .int_("y", 0, 0, kMaxResolution, 8)
      .bool_("resize_source", false)
      .optional()
      .input("mask", "MASK")
      .output("LATENT");
  r.add({s, [](const NodeInputs& in, ExecContext&) {
           auto dest = in.obj<Latent>("destination");
           auto src = in.obj<Latent>("source");
           at::Tensor mask;
           if (in.has("mask")) mask = in.tensor("mask");
           auto out = composite_masked(dest->samples.clone(), src->samples, in.i64("x"), in.i64("y"),
                                       mask.defined() ? &mask : nullptr, in.boolean("resize_source"));
           return NodeOutput{{Value(dest->with_samples(out))}};
         }});
}

}  // namespace comfy
