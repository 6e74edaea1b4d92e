// One encoder of a CLIP object: ComfyUI's ClipTokenWeightEncoder.encode_token_weights around
// SDClipModel.forward (comfy/sd1_clip.py, v0.8.0), shared by CLIP-L, OpenCLIP ViT-H and bigG.
#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

#include "comfy/core/error.hpp"
#include "comfy/models/clip.hpp"

namespace comfy {

TokenSets TextEncoder::tokenize_sets(const std::string&) {
  throw Error("execution_error", "this CLIP has no token-level interface (tokenize / encode_from_tokens)");
}
std::vector<CondEntry> TextEncoder::encode_sets(const TokenSets&, std::optional<int64_t>) {
  throw Error("execution_error", "this CLIP has no token-level interface (tokenize / encode_from_tokens)");
}

namespace {

struct EmbeddedRows {
  at::Tensor embeds;               // [B, T, C]
  std::vector<int64_t> pooled_at;  // per row: the first end token (ComfyUI num_tokens - 1)
};

// process_tokens: ids -> embeddings, textual-inversion vectors put in their slots. A vector of the
// wrong width is dropped (with ComfyUI's warning) and the row is padded at the end instead.
EmbeddedRows embed_rows(const ClipTextModel& model, const std::vector<TokenChunk>& rows_in, int64_t pad) {
  const int64_t C = model.config().hidden, end = ClipBpe::kEndToken;
  EmbeddedRows out;
  std::vector<at::Tensor> rows;
  for (const auto& ch : rows_in) {
    std::vector<int64_t> ids;
    std::vector<std::pair<size_t, at::Tensor>> embeds;
    size_t dropped = 0;
    for (const auto& t : ch) {
      if (t.embedding.defined()) {
        at::Tensor e = t.embedding.reshape({-1});
        if (e.size(0) != C) {
          spdlog::warn("WARNING: shape mismatch when trying to apply embedding, embedding will be ignored {} != {}",
                       e.size(0), C);
          ++dropped;
          continue;
        }
        embeds.emplace_back(ids.size(), e);
        ids.push_back(0);  // placeholder, overwritten below
      } else {
        ids.push_back(t.id);
      }
    }
    for (size_t k = 0; k < dropped; ++k) ids.push_back(pad);
    int64_t first_end = static_cast<int64_t>(ids.size()) - 1;
    std::vector<bool> is_embed(ids.size(), false);
    for (const auto& e : embeds) is_embed[e.first] = true;
    for (size_t j = 0; j < ids.size(); ++j)
      if (!is_embed[j] && ids[j] == end) {
        first_end = static_cast<int64_t>(j);
        break;
      }
    at::Tensor row = model.embed_tokens(at::tensor(ids, at::kLong).unsqueeze(0));  // [1, T, C]
    for (const auto& [pos, e] : embeds) row[0][static_cast<int64_t>(pos)].copy_(e.to(row.device(), at::kFloat));
    rows.push_back(row);
    out.pooled_at.push_back(first_end);
  }
  out.embeds = at::cat(rows, 0);
  return out;
}

// gen_empty_tokens: [start, end, pad, ...] as long as the longest chunk
TokenChunk empty_chunk(size_t length, int64_t pad) {
  TokenChunk empty;
  for (size_t j = 0; j < std::max<size_t>(length, 2); ++j) {
    PromptToken t;
    t.id = j == 0 ? ClipBpe::kStartToken : (j == 1 ? ClipBpe::kEndToken : pad);
    empty.push_back(t);
  }
  return empty;
}

// z = (z - z_empty) * w + z_empty where w != 1 (w rounded to float32, as a Python scalar is)
at::Tensor apply_weights(const at::Tensor& z, const at::Tensor& z_empty, const TokenChunk& ch) {
  std::vector<double> w(ch.size());
  for (size_t j = 0; j < ch.size(); ++j) w[j] = ch[j].weight;
  at::Tensor wd = at::tensor(w, at::kDouble).unsqueeze(1);  // [T, 1]
  at::Tensor mask = wd.ne(1.0).to(z.device());              // compared in double, as Python does
  at::Tensor wt = wd.to(at::kFloat).to(z.device());
  return at::where(mask, (z - z_empty) * wt + z_empty, z);
}

}  // namespace

ClipEncoded encode_clip_chunks(const ClipTextModel& model, const std::vector<TokenChunk>& chunks,
                               const ClipEncoderOptions& opts, std::optional<int64_t> layer_idx) {
  bool has_weights = false;
  size_t max_len = 0;
  for (const auto& ch : chunks) {
    max_len = std::max(max_len, ch.size());
    for (const auto& t : ch) has_weights = has_weights || t.weight != 1.0;
  }
  const size_t sections = chunks.size();
  std::vector<TokenChunk> rows = chunks;
  if (has_weights || sections == 0) rows.push_back(empty_chunk(max_len, opts.pad_token));
  auto embedded = embed_rows(model, rows, opts.pad_token);

  // set_clip_options({"layer": layer_idx}) / reset_clip_options(): |idx| beyond the layer count = "last"
  std::optional<int64_t> hidden = layer_idx ? layer_idx : opts.default_layer;
  if (hidden && std::llabs(*hidden) > model.config().layers) hidden.reset();
  auto out = model.forward(embedded.embeds, hidden, opts.layer_norm_hidden_state, embedded.pooled_at);
  at::Tensor z_all = hidden ? out.intermediate : out.last;  // [B, T, C]

  std::vector<at::Tensor> parts;
  for (size_t k = 0; k < sections; ++k) {
    at::Tensor z = z_all[static_cast<int64_t>(k)];  // [T, C]
    if (has_weights) z = apply_weights(z, z_all[-1], chunks[k]);
    parts.push_back(z.unsqueeze(0));
  }
  const at::Tensor& pooled = opts.projected_pooled ? out.projected : out.pooled;
  ClipEncoded e;
  e.cond = (parts.empty() ? z_all.slice(0, -1) : at::cat(parts, 1)).to(at::kCPU, at::kFloat);  // [1, 77n, C]
  e.pooled = pooled.slice(0, 0, 1).to(at::kCPU, at::kFloat);                                     // [1, C | P]
  return e;
}

}  // namespace comfy
