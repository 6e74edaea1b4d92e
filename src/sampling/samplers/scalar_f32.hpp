#pragma once
// Host scalar arithmetic on sigmas, done the way the reference does it: as 0-d float32 CPU tensors.
// + - * / and sqrt are plain IEEE float operations, but exp/log/expm1/pow on a 0-d libtorch CPU
// tensor go through its vectorised kernels (Sleef on AVX2 builds), which differ from libm in the
// last ulp — and an ulp matters where a sigma feeds a Brownian-tree query rounded to 1e-6. So the
// transcendental functions here run the same libtorch ops on 0-d CPU tensors (no device involved).
#include <cmath>
#include <utility>
#include <vector>

namespace comfy {
struct ModelSampling;
}

namespace comfy::sf32 {

float exp(float x);
float log(float x);
float expm1(float x);
float pow(float x, double e);          // x ** e (python-float exponent, rounded to f32)
float lerp(float a, float b, float w);  // torch.lerp(a, b, w) on 0-d tensors
float sigmoid(float x);
float logit(float x);
float nan_to_num(float x);  // torch.nan_to_num(x, nan=0.0): NaN -> 0, +-inf -> +-FLT_MAX
inline float sqrt(float x) { return std::sqrt(x); }

// k-diffusion get_ancestral_step(sigma_from, sigma_to, eta) -> (sigma_down, sigma_up) (X1). With eta 0
// sigma_up is the Python float 0.0.
std::pair<float, float> ancestral_step(float sigma_from, float sigma_to, float eta);

// Half-log-SNR maps (X1): EPS/V/EDM: lambda = -log(sigma), sigma = exp(-lambda); CONST: -logit / sigmoid(-l).
float sigma_to_half_log_snr(float sigma, const ModelSampling& ms);
float half_log_snr_to_sigma(float lambda, const ModelSampling& ms);

// offset_first_sigma_for_snr (X1): CONST models with sigma_0 >= 1 get percent_to_sigma(1e-4) instead.
std::vector<float> offset_first_sigma_for_snr(std::vector<float> sigmas, const ModelSampling& ms);

}  // namespace comfy::sf32
