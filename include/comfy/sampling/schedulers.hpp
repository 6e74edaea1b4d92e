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
// dpm_2, dpm_2_ancestral, uni_pc, uni_pc_bh2: schedule for steps + 1, second-to-last sigma dropped.
bool discards_penultimate_sigma(const std::string& sampler);

// The table schedulers as their ComfyUI nodes compute them (S5), with the nodes' denoise handling
// (denoise <= 0: empty; < 1: last round(steps*denoise)+1 values). model_type: "SD1" | "SDXL" | "SVD"
// (AYS), "FLUX" | "Wan" | "Chroma" (OSS); GITS carries the coeff 1.20 table only.
at::Tensor ays_sigmas(const std::string& model_type, int64_t steps, double denoise = 1.0);
at::Tensor gits_sigmas(double coeff, int64_t steps, double denoise = 1.0);
at::Tensor oss_sigmas(const std::string& model_type, int64_t steps, double denoise = 1.0);
// SDTurboScheduler (spec M6): `steps` of the timesteps 999, 899, ..., 99 from index 10 - int(10*denoise),
// as the model's sigmas, then 0.
at::Tensor sd_turbo_sigmas(const ModelSampling& ms, int64_t steps, double denoise);

}  // namespace comfy
