#pragma once
// Numeric helpers shared by the scheduler files (sampling-schedules.md S5, S6).
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace comfy::sched_detail {

// f32 CPU 1-D tensor from host values (each value rounded to f32, like torch.FloatTensor(list)).
at::Tensor to_f32_tensor(const std::vector<double>& values);
// torch.cat([sigmas, sigmas.new_zeros([1])])
at::Tensor append_zero(const at::Tensor& sigmas);

// NumPy linspace(0, 1, n): k * (1/(n-1)), last entry exactly 1 (S6.1).
std::vector<double> np_linspace01(int64_t n);
// loglinear_interp(levels, m) of the AYS / GITS / OSS nodes, NumPy f64 semantics (S6.1).
std::vector<double> loglinear_interp(const std::vector<double>& levels, int64_t m);
// The common tail of the table schedulers (S5): keep the last round(steps*denoise)+1 values and set
// the final one to 0; denoise <= 0 gives an empty tensor.
at::Tensor table_schedule_tail(std::vector<double> levels, int64_t steps, double denoise);

// Inverse of the regularised incomplete beta function I_x(a, b) (scipy.stats.beta.ppf).
double ibeta_inv(double p, double a, double b);
// Regularised incomplete beta function I_x(a, b).
double ibeta(double x, double a, double b);

}  // namespace comfy::sched_detail
