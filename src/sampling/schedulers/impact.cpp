// Impact's calculate_sigmas (sampling-schedules.md S4.2): the Inspire scheduler names, including the
// table schedulers, and the +1 step / penultimate-sigma discard of four samplers.
#include <ATen/ATen.h>

#include "comfy/sampling/schedulers.hpp"

namespace comfy {

const std::vector<std::string>& inspire_scheduler_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n = core_scheduler_names();
    for (const char* s : {"AYS SDXL", "AYS SD1", "AYS SVD", "GITS[coeff=1.2]", "OSS FLUX", "OSS Wan", "OSS Chroma"})
      n.emplace_back(s);
    return n;
  }();
  return names;
}

bool discards_penultimate_sigma(const std::string& sampler) {
  return sampler == "dpm_2" || sampler == "dpm_2_ancestral" || sampler == "uni_pc" || sampler == "uni_pc_bh2";
}

at::Tensor impact_calculate_sigmas(const ModelSampling& ms, const std::string& sampler, const std::string& scheduler,
                                   int64_t steps) {
  const bool discard = discards_penultimate_sigma(sampler);
  if (discard) steps += 1;
  at::Tensor sigmas;
  const auto starts = [&](const char* p) { return scheduler.rfind(p, 0) == 0; };
  if (starts("AYS")) {
    sigmas = ays_sigmas(scheduler.substr(4), steps, 1.0);
  } else if (starts("GITS[coeff=") && scheduler.size() > 12 && scheduler.back() == ']') {
    sigmas = gits_sigmas(std::stod(scheduler.substr(11, scheduler.size() - 12)), steps, 1.0);
  } else if (starts("OSS")) {
    sigmas = oss_sigmas(scheduler.substr(4), steps, 1.0);
  } else {
    sigmas = calculate_sigmas(ms, scheduler, steps);
  }
  if (discard && sigmas.size(0) > 0) {
    const int64_t n = sigmas.size(0);
    sigmas = at::cat({sigmas.slice(0, 0, std::max<int64_t>(n - 2, 0)), sigmas.slice(0, n - 1, n)});
  }
  return sigmas;
}

}  // namespace comfy
