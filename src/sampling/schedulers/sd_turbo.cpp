// SDTurboScheduler's schedule (comfy_extras/nodes_custom_sampler.py; spec M6).
#include <ATen/ATen.h>

#include <algorithm>

#include "comfy/sampling/schedulers.hpp"

namespace comfy {

at::Tensor sd_turbo_sigmas(const ModelSampling& ms, int64_t steps, double denoise) {
  const int64_t start = 10 - int64_t(10.0 * denoise);  // Python int(): truncation toward zero
  std::vector<float> t;
  for (int64_t i = std::max<int64_t>(start, 0); i < std::min<int64_t>(10, start + steps); ++i)
    t.push_back(float(999 - 100 * i));
  auto sigmas = t.empty() ? at::empty({0}, at::kFloat) : ms.sigma(at::tensor(t, at::kFloat));
  return at::cat({sigmas, at::zeros({1}, at::kFloat)});
}

}  // namespace comfy
