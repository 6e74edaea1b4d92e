#include "comfy/core/error.hpp"
#include "comfy/sampling/sampler.hpp"

namespace comfy {

#define COMFY_SAMPLERS(fn) void fn(SamplerRegistry&);
#include "sampler_list.inc"
#undef COMFY_SAMPLERS

namespace {
const SamplerRegistry& registry() {
  static const SamplerRegistry r = [] {
    SamplerRegistry reg;
#define COMFY_SAMPLERS(fn) fn(reg);
#include "sampler_list.inc"
#undef COMFY_SAMPLERS
    return reg;
  }();
  return r;
}
}  // namespace

const std::vector<std::string>& sampler_names() {
  static const std::vector<std::string> names = {
      "euler", "euler_cfg_pp", "euler_ancestral", "euler_ancestral_cfg_pp", "heun", "heunpp2", "exp_heun_2_x0",
      "exp_heun_2_x0_sde", "dpm_2", "dpm_2_ancestral", "lms", "dpm_fast", "dpm_adaptive", "dpmpp_2s_ancestral",
      "dpmpp_2s_ancestral_cfg_pp", "dpmpp_sde", "dpmpp_sde_gpu", "dpmpp_2m", "dpmpp_2m_cfg_pp", "dpmpp_2m_sde",
      "dpmpp_2m_sde_gpu", "dpmpp_2m_sde_heun", "dpmpp_2m_sde_heun_gpu", "dpmpp_3m_sde", "dpmpp_3m_sde_gpu", "ddpm",
      "lcm", "ipndm", "ipndm_v", "deis", "res_multistep", "res_multistep_cfg_pp", "res_multistep_ancestral",
      "res_multistep_ancestral_cfg_pp", "gradient_estimation", "gradient_estimation_cfg_pp", "er_sde", "seeds_2",
      "seeds_3", "sa_solver", "sa_solver_pece", "ddim", "uni_pc", "uni_pc_bh2"};
  return names;
}

std::vector<std::string> implemented_sampler_names() {
  std::vector<std::string> v;
  for (const auto& n : sampler_names())
    if (registry().samplers.count(n)) v.push_back(n);
  return v;
}

const SamplerInfo& get_sampler(const std::string& name) {
  auto& r = registry().samplers;
  auto it = r.find(name);
  if (it == r.end()) throw Error("execution_error", "sampler '" + name + "' is not implemented", "sampler_name").at_input("sampler_name");
  return it->second;
}

}  // namespace comfy
