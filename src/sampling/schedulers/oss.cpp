// Optimal Steps (comfy_extras/nodes_optimalsteps.py; sampling-schedules.md S5.3). The reference's
// Impact/Inspire path cannot reach this node (it raises); we compute what the names intend.
#include <ATen/ATen.h>

#include "comfy/core/error.hpp"
#include "comfy/sampling/schedulers.hpp"
#include "sampling/schedulers/schedule_util.hpp"

namespace comfy {

at::Tensor oss_sigmas(const std::string& model_type, int64_t steps, double denoise) {
  static const std::vector<double> flux = {0.9968, 0.9886, 0.9819, 0.975, 0.966, 0.9471,
                                           0.9158, 0.8287, 0.5512, 0.2808, 0.001};
  static const std::vector<double> wan = {1.0,   0.997, 0.995, 0.993, 0.991, 0.989, 0.987, 0.985, 0.98,  0.975, 0.973,
                                          0.968, 0.96,  0.946, 0.927, 0.902, 0.864, 0.776, 0.539, 0.208, 0.001};
  static const std::vector<double> chroma = {
      0.992, 0.99,  0.988, 0.985, 0.982, 0.978, 0.973, 0.968, 0.961, 0.953, 0.943, 0.931, 0.917, 0.9,
      0.881, 0.858, 0.832, 0.802, 0.769, 0.731, 0.69,  0.646, 0.599, 0.55,  0.501, 0.451, 0.402, 0.355,
      0.311, 0.27,  0.232, 0.199, 0.169, 0.143, 0.12,  0.101, 0.084, 0.07,  0.058, 0.048, 0.001};
  const std::vector<double>* levels = model_type == "FLUX" ? &flux : model_type == "Wan" ? &wan
                                    : model_type == "Chroma" ? &chroma : nullptr;
  if (!levels) throw Error("execution_error", "OSS: unknown model_type '" + model_type + "'", "model_type");
  std::vector<double> s = *levels;
  if (steps + 1 != int64_t(s.size())) s = sched_detail::loglinear_interp(s, steps + 1);
  return sched_detail::table_schedule_tail(std::move(s), steps, denoise);
}

}  // namespace comfy
