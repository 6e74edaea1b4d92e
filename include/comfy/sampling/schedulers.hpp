#pragma once
// Noise schedules (sampling-schedules.md S4-S6): steps -> sigmas, host f32 vectors ending (usually) in 0.
#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "comfy/sampling/model_sampling.hpp"

namespace comfy {

const std::vector<std::string>& core_scheduler_names();     // the 9 ComfyUI names, combo order
const std::vector<std::string>& inspire_scheduler_names();  // the 16 Inspire names, combo order

// comfy.samplers.calculate_sigmas(model_sampling, name, steps): the 9 core schedulers.
at::Tensor calculate_sigmas(const ModelSampling& ms, const std::string& scheduler, int64_t steps);
// Impact's calculate_sigmas(model, sampler, scheduler, steps): + AYS / GITS / OSS and the +1 step /
// penultimate-sigma discard for dpm_2, dpm_2_ancestral, uni_pc, uni_pc_bh2 (S4.2). f32 CPU 1-D.
at::Tensor impact_calculate_sigmas(const ModelSampling& ms, const std::string& sampler,
                                   const std::string& scheduler, int64_t steps);

}  // namespace comfy
