#pragma once
// ComfyUI's model_sampling: the sigma table, sigma <-> timestep mapping and the prediction type
// (sampling-schedules.md S1, S2). Everything here is host-side bookkeeping except the tensor helpers.
#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

namespace comfy {

// X0: the network predicts the clean latent; LCM: consistency-model boundary scaling on top of EPS
// (ComfyUI comfy_extras/nodes_model_advanced.py, used by ModelSamplingDiscrete "lcm").
enum class Prediction { EPS, V_PREDICTION, EDM, CONST, X0, LCM };

struct ModelSampling {
  Prediction prediction = Prediction::EPS;
  double sigma_data = 1.0;
  at::Tensor sigmas;      // f32 [T], index 0 = least noise (CPU)
  at::Tensor log_sigmas;  // f32 [T], log taken in f64 before rounding (CPU)
  std::vector<float> sigmas_host, log_sigmas_host;
  // DiscreteDistilled (ModelSamplingDiscreteDistilled, "lcm"): every skip_steps-th entry of the table,
  // timestep = index*skip_steps + skip_steps-1. ContinuousEDM (ModelSamplingContinuousEDM): the table is
  // log-uniform between sigma_min and sigma_max (for the schedulers), timestep = 0.25 * log(sigma).
  enum class Kind { Discrete, DiscreteFlow, DiscreteDistilled, ContinuousEDM } kind = Kind::Discrete;
  int64_t skip_steps = 1;
  double flow_shift = 1.0, flow_multiplier = 1000.0;

  // Discrete schedule from a beta schedule name ("linear" = scaled linear, "cosine",
  // "squaredcos_cap_v2", "sqrt_linear", "sqrt").
  static ModelSampling discrete(const std::string& beta_schedule = "linear", double linear_start = 0.00085,
                                double linear_end = 0.012, int64_t timesteps = 1000, bool zsnr = false,
                                Prediction pred = Prediction::EPS);

  // ModelSamplingContinuousEDM.set_parameters: 1000 sigmas exp(linspace(log sigma_min, log sigma_max))
  // in float32. CosXL's V_PREDICTION_EDM is this with V_PREDICTION and sigma_data 1.
  static ModelSampling continuous_edm(double sigma_min, double sigma_max, double sigma_data = 1.0,
                                      Prediction pred = Prediction::V_PREDICTION);

  // ModelSamplingDiscreteDistilled over this (full) discrete table: `original_timesteps` entries.
  ModelSampling distilled(int64_t original_timesteps = 50) const;

  float sigma_min() const { return sigmas_host.front(); }
  float sigma_max() const { return sigmas_host.back(); }

  // sigma -> model timestep (nearest table index in log space, as float32), any shape, on sigma's device.
  at::Tensor timestep(const at::Tensor& sigma) const;
  // Host version for one float32 sigma shared by the whole batch: the same value timestep() gives
  // (log as libtorch computes it on a CPU float tensor, then the nearest table entry, first on ties).
  float timestep_value(float sigma) const;
  // continuous timestep -> sigma (f32 log-linear interpolation of the table)
  float sigma_at(float t) const;
  at::Tensor sigma(const at::Tensor& t) const;
  double percent_to_sigma(double percent) const;

  // S2: the model's input scaling and its output -> denoised.
  at::Tensor calculate_input(const at::Tensor& sigma, const at::Tensor& x) const;
  at::Tensor calculate_denoised(const at::Tensor& sigma, const at::Tensor& model_output, const at::Tensor& x) const;
  // The same for one float32 sigma shared by the batch (what a sampler step has): the scalar factors
  // are computed on the host with the float32 operations the tensor versions do, so the results are
  // bit-identical, without the small-tensor ops.
  at::Tensor calculate_input(float sigma, const at::Tensor& x) const;
  at::Tensor calculate_denoised(float sigma, const at::Tensor& model_output, const at::Tensor& x) const;
  at::Tensor noise_scaling(const at::Tensor& sigma, const at::Tensor& noise, const at::Tensor& latent,
                           bool max_denoise) const;
  at::Tensor inverse_noise_scaling(const at::Tensor& sigma, const at::Tensor& x) const;
};

// comfy/latent_formats.py
struct LatentFormat {
  std::string name = "SD15";
  int64_t channels = 4;
  double scale_factor = 0.18215;
  std::vector<double> mean, std;  // Playground 2.5 only
  at::Tensor process_in(const at::Tensor& z) const;
  at::Tensor process_out(const at::Tensor& z) const;
  static LatentFormat sd15() { return {}; }
  static LatentFormat sdxl() { LatentFormat f; f.name = "SDXL"; f.scale_factor = 0.13025; return f; }
  static LatentFormat sdxl_playground_2_5() {
    LatentFormat f;
    f.name = "SDXL_Playground_2_5";
    f.scale_factor = 0.5;
    f.mean = {-1.6574, 1.886, -1.383, 2.5155};
    f.std = {8.4927, 5.9022, 6.5498, 5.2299};
    return f;
  }
};

}  // namespace comfy
