// Align Your Steps (comfy_extras/nodes_align_your_steps.py; sampling-schedules.md S5.1).
#include <ATen/ATen.h>

#include "comfy/core/error.hpp"
#include "comfy/sampling/schedulers.hpp"
#include "sampling/schedulers/schedule_util.hpp"

namespace comfy {

at::Tensor ays_sigmas(const std::string& model_type, int64_t steps, double denoise) {
  static const std::vector<double> sd1 = {14.6146412293, 6.4745760956, 3.8636745985, 2.6946151520,
                                          1.8841921177,  1.3943805092, 0.9642583904, 0.6523686016,
                                          0.3977456272,  0.1515232662, 0.0291671582};
  static const std::vector<double> sdxl = {14.6146412293, 6.3184485287, 3.7681790315, 2.1811480769,
                                           1.3405244945,  0.8620721141, 0.5550693289, 0.3798540708,
                                           0.2332364134,  0.1114188177, 0.0291671582};
  static const std::vector<double> svd = {700.00, 54.5, 15.886, 7.977, 4.248, 1.789, 0.981, 0.403, 0.173, 0.034, 0.002};
  const std::vector<double>* levels = model_type == "SD1" ? &sd1 : model_type == "SDXL" ? &sdxl
                                    : model_type == "SVD" ? &svd : nullptr;
  if (!levels) throw Error("execution_error", "AYS: unknown model_type '" + model_type + "'", "model_type");
  std::vector<double> s = *levels;
  if (steps + 1 != int64_t(s.size())) s = sched_detail::loglinear_interp(s, steps + 1);
  return sched_detail::table_schedule_tail(std::move(s), steps, denoise);
}

}  // namespace comfy
