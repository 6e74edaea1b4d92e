// LatentFromBatch, RepeatLatentBatch — "Latent From Batch", "Repeat Latent Batch"
// (workflow-nodes-files.md 9.12, 9.13)
#include <ATen/ATen.h>

#include <algorithm>

#include "comfy/core/memory_budget.hpp"
#include "comfy/core/node.hpp"
#include "comfy/core/types.hpp"

namespace comfy {

namespace {

// A mask with fewer entries than the batch is tiled up to the batch size first.
at::Tensor tile_mask(const at::Tensor& masks, int64_t batch) {
  if (masks.size(0) >= batch) return masks;
  int64_t reps = (batch + masks.size(0) - 1) / masks.size(0);
  std::vector<int64_t> r(size_t(masks.dim()), 1);
  r[0] = reps;
  return masks.repeat(r).slice(0, 0, batch);
}

NodeOutput latent_from_batch(const NodeInputs& in, ExecContext&) {
  auto src = in.obj<Latent>("samples");
  const at::Tensor& s_in = src->samples;
  int64_t B = s_in.size(0);
  int64_t b = std::min<int64_t>(B - 1, in.i64("batch_index"));
  int64_t n = std::min<int64_t>(B - b, in.i64("length"));
  auto out = src->with_samples(s_in.slice(0, b, b + n).clone());
  if (src->noise_mask) {
    const at::Tensor& m = *src->noise_mask;
    out->noise_mask = m.size(0) == 1 ? m.clone() : tile_mask(m, B).slice(0, b, b + n).clone();
  }
  if (!src->batch_index) {
    std::vector<int64_t> idx;
    for (int64_t i = b; i < b + n; ++i) idx.push_back(i);
    out->batch_index = idx;
  } else {
    const auto& L = *src->batch_index;  // Python slice semantics: clipped to the list
    size_t lo = std::min(L.size(), size_t(b)), hi = std::min(L.size(), size_t(b + n));
    out->batch_index = std::vector<int64_t>(L.begin() + long(lo), L.begin() + long(hi));
  }
  return {{Value(out)}};
}

NodeOutput repeat_latent_batch(const NodeInputs& in, ExecContext& ctx) {
  auto src = in.obj<Latent>("samples");
  int64_t amount = in.i64("amount");
  require_memory(ctx.cfg(), double(amount) * double(src->samples.numel()) * double(src->samples.element_size()),
                 "a latent batch repeated " + std::to_string(amount) + " times", "amount");
  std::vector<int64_t> r(size_t(src->samples.dim()), 1);
  r[0] = amount;
  auto out = src->with_samples(src->samples.repeat(r));
  if (src->noise_mask && src->noise_mask->size(0) > 1) {
    // ComfyUI tiles the mask up to the batch but then repeats the original one; so do we.
    std::vector<int64_t> mr(size_t(src->noise_mask->dim()), 1);
    mr[0] = amount;
    out->noise_mask = src->noise_mask->repeat(mr);
  }
  if (src->batch_index && !src->batch_index->empty()) {
    const auto& L = *src->batch_index;
    auto [mn, mx] = std::minmax_element(L.begin(), L.end());
    int64_t offset = *mx - *mn + 1;
    std::vector<int64_t> idx = L;
    for (int64_t i = 1; i < amount; ++i)
      for (int64_t x : L) idx.push_back(x + i * offset);
    out->batch_index = idx;
  }
  return {{Value(out)}};
}

}  // namespace

void register_latent_batch_nodes(Registry& r) {
  r.add({NodeSchema("LatentFromBatch").display("Latent From Batch").cat("latent/batch")
             .input("samples", "LATENT")
             .int_("batch_index", 0, 0, 63)
             .int_("length", 1, 1, 64)
             .output("LATENT"),
         latent_from_batch});
  r.add({NodeSchema("RepeatLatentBatch").display("Repeat Latent Batch").cat("latent/batch")
             .input("samples", "LATENT")
             .int_("amount", 1, 1, 64)
             .output("LATENT"),
         repeat_latent_batch});
}

}  // namespace comfy
