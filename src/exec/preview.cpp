// The per-thread latent-preview sink (include/comfy/exec/preview.hpp).
#include "comfy/exec/preview.hpp"

namespace comfy {

namespace {
thread_local PreviewSink t_sink;
}

void set_preview_sink(PreviewSink sink) { t_sink = std::move(sink); }

void report_preview(const std::string& node_id, const at::Tensor& x0) {
  if (t_sink) t_sink(node_id, x0);
}

}  // namespace comfy
