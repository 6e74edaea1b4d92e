#pragma once
// The toy Gaussian model of the golden sampling data (golden/sampling/README.md "The model"): a real
// EPS BaseModel (SD1.5 discrete sigma table, SD15 latent format) whose network is the exact optimal
// eps-predictor for data distributed N(mu_bk, 0.5^2), mu_bk = mean(cond_b) + 0.1 (k - 1.5).
#include <memory>

#include "comfy/core/types.hpp"
#include "comfy/models/model.hpp"

namespace comfy {

std::shared_ptr<Model> make_toy_gaussian_model(c10::Device device = c10::Device(c10::kCPU));

// The golden README's fixed conditioning: randn(1,4,8, seed 1)*0.5+0.5 (positive) and
// randn(1,4,8, seed 2)*0.5-0.3 (negative), as one-entry CONDITIONING lists (CPU).
std::shared_ptr<Conditioning> toy_conditioning(bool positive);

}  // namespace comfy
