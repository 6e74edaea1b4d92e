#pragma once
// Latent previews (ComfyUI's latent_preview): sampler nodes report each step's denoised latent x0; a
// per-thread sink, set by `serve`'s queue worker while a prompt runs, turns it into a preview image.
// Without a sink (`run`, tests) reporting costs one thread-local check.
#include <ATen/core/Tensor.h>

#include <functional>
#include <string>

namespace comfy {

using PreviewSink = std::function<void(const std::string& node_id, const at::Tensor& x0)>;

// Sets (or with {} clears) this thread's sink.
void set_preview_sink(PreviewSink sink);
// x0: the step's denoised prediction in model space, [N, C, h, w].
void report_preview(const std::string& node_id, const at::Tensor& x0);

}  // namespace comfy
