#pragma once
// A test-local Registry for the graph-layer tests: node schemas copied from the spec's node tables
// (workflow-nodes-files.md section 9 and 10), so conversion and validation can be tested while the
// real nodes are still being written by other helpers. Execution functions are stubs; only the
// schema matters here. A few nodes outside the planned set (ControlNet*, VAEEncodeForInpaint,
// ModelMergeSimple, SDTurboScheduler, DualCFGGuider, InstructPixToPixConditioning) are included in
// the shape they had when the ComfyUI_examples PNGs were made (e.g. SDTurboScheduler without
// `denoise`, VAEEncodeForInpaint without `grow_mask_by`), so all 11 UI/API pairs can be compared;
// `with_extras = false` leaves them out (the spec's planned node set).
#include <string>
#include <vector>

#include "comfy/core/node.hpp"

namespace comfy::test {

// File-backed combos (checkpoints, vae, loras, images) list these names.
inline std::vector<std::string>& test_files() {
  static std::vector<std::string> files;
  return files;
}

inline const std::vector<std::string>& sampler_names() {
  static const std::vector<std::string> v = {
      "euler", "euler_cfg_pp", "euler_ancestral", "euler_ancestral_cfg_pp", "heun", "heunpp2", "exp_heun_2_x0",
      "exp_heun_2_x0_sde", "dpm_2", "dpm_2_ancestral", "lms", "dpm_fast", "dpm_adaptive", "dpmpp_2s_ancestral",
      "dpmpp_2s_ancestral_cfg_pp", "dpmpp_sde", "dpmpp_sde_gpu", "dpmpp_2m", "dpmpp_2m_cfg_pp", "dpmpp_2m_sde",
      "dpmpp_2m_sde_gpu", "dpmpp_2m_sde_heun", "dpmpp_2m_sde_heun_gpu", "dpmpp_3m_sde", "dpmpp_3m_sde_gpu", "ddpm",
      "lcm", "ipndm", "ipndm_v", "deis", "res_multistep", "res_multistep_cfg_pp", "res_multistep_ancestral",
      "res_multistep_ancestral_cfg_pp", "gradient_estimation", "gradient_estimation_cfg_pp", "er_sde", "seeds_2",
      "seeds_3", "sa_solver", "sa_solver_pece", "ddim", "uni_pc", "uni_pc_bh2"};
  return v;
}
inline const std::vector<std::string>& scheduler_names() {
  static const std::vector<std::string> v = {"simple", "sgm_uniform", "karras", "exponential", "ddim_uniform",
                                             "beta", "normal", "linear_quadratic", "kl_optimal"};
  return v;
}

inline Registry make_graph_test_registry(bool with_extras = true) {
  Registry r;
  auto files = [] { return test_files(); };
  auto stub = [](NodeSchema s) {
    return NodeDef{std::move(s), [](const NodeInputs&, ExecContext&) { return NodeOutput{}; }};
  };
  const Int kMaxRes = 16384, kU64 = kSeedMax;
  auto inspire_sched = scheduler_names();
  for (auto s : {"AYS SDXL", "AYS SD1", "AYS SVD", "GITS[coeff=1.2]", "OSS FLUX", "OSS Wan", "OSS Chroma"})
    inspire_sched.push_back(s);
  const std::vector<std::string> noise_mode = {"GPU(=A1111)", "CPU", "GPU+internal_seed", "CPU+internal_seed"};
  const std::vector<std::string> batch_seed = {"incremental", "comfy", "variation str inc:0.01", "variation str inc:0.05"};
  const std::vector<std::string> upscale = {"nearest-exact", "bilinear", "area", "bicubic", "bislerp"};

  r.add(stub(NodeSchema("CheckpointLoaderSimple").display("Load Checkpoint").combo_fn("ckpt_name", files)
                 .output("MODEL").output("CLIP").output("VAE")));
  r.add(stub(NodeSchema("VAELoader").display("Load VAE").combo_fn("vae_name", files).output("VAE")));
  r.add(stub(NodeSchema("LoraLoader").display("Load LoRA").input("model", "MODEL").input("clip", "CLIP")
                 .combo_fn("lora_name", files).float_("strength_model", 1.0, -100, 100, 0.01)
                 .float_("strength_clip", 1.0, -100, 100, 0.01).output("MODEL").output("CLIP")));
  r.add(stub(NodeSchema("CLIPSetLastLayer").display("CLIP Set Last Layer").input("clip", "CLIP")
                 .int_("stop_at_clip_layer", -1, -24, -1, 1).output("CLIP")));
  r.add(stub(NodeSchema("CLIPTextEncode").display("CLIP Text Encode (Prompt)").string_("text", "", true, true)
                 .input("clip", "CLIP").output("CONDITIONING")));
  r.add(stub(NodeSchema("ConditioningCombine").display("Conditioning (Combine)").input("conditioning_1", "CONDITIONING")
                 .input("conditioning_2", "CONDITIONING").output("CONDITIONING")));
  r.add(stub(NodeSchema("ConditioningSetArea").display("Conditioning (Set Area)").input("conditioning", "CONDITIONING")
                 .int_("width", 64, 64, kMaxRes, 8).int_("height", 64, 64, kMaxRes, 8).int_("x", 0, 0, kMaxRes, 8)
                 .int_("y", 0, 0, kMaxRes, 8).float_("strength", 1.0, 0.0, 10.0, 0.01).output("CONDITIONING")));
  r.add(stub(NodeSchema("ConditioningZeroOut").input("conditioning", "CONDITIONING").output("CONDITIONING")));
  r.add(stub(NodeSchema("EmptyLatentImage").display("Empty Latent Image").int_("width", 512, 16, kMaxRes, 8)
                 .int_("height", 512, 16, kMaxRes, 8).int_("batch_size", 1, 1, 4096).output("LATENT")));
  r.add(stub(NodeSchema("LatentUpscale").display("Upscale Latent").input("samples", "LATENT").combo("upscale_method", upscale)
                 .int_("width", 512, 0, kMaxRes, 8).int_("height", 512, 0, kMaxRes, 8)
                 .combo("crop", {"disabled", "center"}).output("LATENT")));
  r.add(stub(NodeSchema("LatentUpscaleBy").display("Upscale Latent By").input("samples", "LATENT")
                 .combo("upscale_method", upscale).float_("scale_by", 1.5, 0.01, 8.0, 0.01).output("LATENT")));
  r.add(stub(NodeSchema("LatentFromBatch").input("samples", "LATENT").int_("batch_index", 0, 0, 63)
                 .int_("length", 1, 1, 64).output("LATENT")));
  r.add(stub(NodeSchema("RepeatLatentBatch").input("samples", "LATENT").int_("amount", 1, 1, 64).output("LATENT")));
  r.add(stub(NodeSchema("VAEDecode").display("VAE Decode").input("samples", "LATENT").input("vae", "VAE").output("IMAGE")));
  r.add(stub(NodeSchema("VAEDecodeTiled").input("samples", "LATENT").input("vae", "VAE").int_("tile_size", 512, 64, 4096, 32)
                 .int_("overlap", 64, 0, 4096, 32).int_("temporal_size", 64, 8, 4096, 4)
                 .int_("temporal_overlap", 8, 4, 4096, 4).output("IMAGE")));
  r.add(stub(NodeSchema("VAEEncode").display("VAE Encode").input("pixels", "IMAGE").input("vae", "VAE").output("LATENT")));
  r.add(stub(NodeSchema("SaveImage").display("Save Image").output_node_().input("images", "IMAGE")
                 .string_("filename_prefix", "ComfyUI").hidden().hidden_input("prompt", "PROMPT")
                 .hidden_input("extra_pnginfo", "EXTRA_PNGINFO")));
  r.add(stub(NodeSchema("PreviewImage").display("Preview Image").output_node_().input("images", "IMAGE").hidden()
                 .hidden_input("prompt", "PROMPT").hidden_input("extra_pnginfo", "EXTRA_PNGINFO")));
  {
    NodeSchema s("LoadImage");
    s.display("Load Image").combo_fn("image", files);
    s.last().image_upload = true;
    s.output("IMAGE").output("MASK");
    r.add(stub(s));
  }
  r.add(stub(NodeSchema("SaveLatent").output_node_().input("samples", "LATENT").string_("filename_prefix", "latents/ComfyUI")
                 .hidden().hidden_input("prompt", "PROMPT").hidden_input("extra_pnginfo", "EXTRA_PNGINFO")));
  r.add(stub(NodeSchema("LoadLatent").combo_fn("latent", files).output("LATENT")));
  r.add(stub(NodeSchema("KSampler").input("model", "MODEL").seed("seed").int_("steps", 20, 1, 10000)
                 .float_("cfg", 8.0, 0.0, 100.0, 0.1, 0.01).combo("sampler_name", sampler_names())
                 .combo("scheduler", scheduler_names()).input("positive", "CONDITIONING").input("negative", "CONDITIONING")
                 .input("latent_image", "LATENT").float_("denoise", 1.0, 0.0, 1.0, 0.01).output("LATENT")));
  r.add(stub(NodeSchema("KSamplerAdvanced").display("KSampler (Advanced)").input("model", "MODEL")
                 .combo("add_noise", {"enable", "disable"}).seed("noise_seed").int_("steps", 20, 1, 10000)
                 .float_("cfg", 8.0, 0.0, 100.0, 0.1, 0.01).combo("sampler_name", sampler_names())
                 .combo("scheduler", scheduler_names()).input("positive", "CONDITIONING").input("negative", "CONDITIONING")
                 .input("latent_image", "LATENT").int_("start_at_step", 0, 0, 10000).int_("end_at_step", 10000, 0, 10000)
                 .combo("return_with_leftover_noise", {"disable", "enable"}).output("LATENT")));
  // 9.24: new-style nodes (combos as ["COMBO", {"options": ...}])
  {
    NodeSchema s("KSamplerSelect");
    s.combo("sampler_name", sampler_names());
    s.last().combo_new_style = true;
    r.add(stub(s.output("SAMPLER")));
  }
  {
    NodeSchema s("BasicScheduler");
    s.input("model", "MODEL").combo("scheduler", scheduler_names());
    s.last().combo_new_style = true;
    s.int_("steps", 20, 1, 10000).float_("denoise", 1.0, 0.0, 1.0, 0.01).output("SIGMAS");
    r.add(stub(s));
  }
  r.add(stub(NodeSchema("RandomNoise").seed("noise_seed").output("NOISE")));
  r.add(stub(NodeSchema("CFGGuider").input("model", "MODEL").input("positive", "CONDITIONING").input("negative", "CONDITIONING")
                 .float_("cfg", 8.0, 0, 100, 0.1, 0.01).output("GUIDER")));
  r.add(stub(NodeSchema("SamplerCustom").input("model", "MODEL").bool_("add_noise", true).seed("noise_seed")
                 .float_("cfg", 8.0, 0, 100, 0.1, 0.01).input("positive", "CONDITIONING").input("negative", "CONDITIONING")
                 .input("sampler", "SAMPLER").input("sigmas", "SIGMAS").input("latent_image", "LATENT")
                 .output("LATENT", "output").output("LATENT", "denoised_output")));
  r.add(stub(NodeSchema("SamplerCustomAdvanced").input("noise", "NOISE").input("guider", "GUIDER").input("sampler", "SAMPLER")
                 .input("sigmas", "SIGMAS").input("latent_image", "LATENT").output("LATENT", "output")
                 .output("LATENT", "denoised_output")));
  // 10.1-10.3: Inspire samplers (seeds without control_after_generate: the name rule adds the control slot)
  r.add(stub(NodeSchema("KSampler //Inspire").display("KSampler (inspire)").input("model", "MODEL")
                 .int_("seed", 0, 0, kU64).int_("steps", 20, 1, 10000).float_("cfg", 8.0, 0.0, 100.0)
                 .combo("sampler_name", sampler_names()).combo("scheduler", inspire_sched)
                 .input("positive", "CONDITIONING").input("negative", "CONDITIONING").input("latent_image", "LATENT")
                 .float_("denoise", 1.0, 0.0, 1.0, 0.01).combo("noise_mode", noise_mode).combo("batch_seed_mode", batch_seed)
                 .int_("variation_seed", 0, 0, kU64).float_("variation_strength", 0.0, 0.0, 1.0, 0.01).optional()
                 .combo("variation_method", {"linear", "slerp"}).input("scheduler_func_opt", "SCHEDULER_FUNC")
                 .int_("internal_seed", 0, 0, kU64).output("LATENT")));
  r.add(stub(NodeSchema("KSamplerAdvanced //Inspire").display("KSamplerAdvanced (inspire)").input("model", "MODEL")
                 .bool_("add_noise", true, "enable", "disable").int_("noise_seed", 0, 0, kU64).int_("steps", 20, 1, 10000)
                 .float_("cfg", 8.0, 0.0, 100.0, 0.5, 0.01).combo("sampler_name", sampler_names())
                 .combo("scheduler", inspire_sched).input("positive", "CONDITIONING").input("negative", "CONDITIONING")
                 .input("latent_image", "LATENT").int_("start_at_step", 0, 0, 10000).int_("end_at_step", 10000, 0, 10000)
                 .combo("noise_mode", noise_mode).bool_("return_with_leftover_noise", false)
                 .combo("batch_seed_mode", batch_seed).int_("variation_seed", 0, 0, kU64)
                 .float_("variation_strength", 0.0, 0.0, 1.0, 0.01).optional().combo("variation_method", {"linear", "slerp"})
                 .input("noise_opt", "NOISE_IMAGE").input("scheduler_func_opt", "SCHEDULER_FUNC")
                 .int_("internal_seed", 0, 0, kU64).output("LATENT")));
  r.add(stub(NodeSchema("KSamplerProgress //Inspire").display("KSampler Progress (Inspire)").input("model", "MODEL")
                 .int_("seed", 0, 0, kU64).int_("steps", 20, 1, 10000).float_("cfg", 8.0, 0.0, 100.0)
                 .combo("sampler_name", sampler_names()).combo("scheduler", inspire_sched)
                 .input("positive", "CONDITIONING").input("negative", "CONDITIONING").input("latent_image", "LATENT")
                 .float_("denoise", 1.0, 0.0, 1.0, 0.01).combo("noise_mode", noise_mode).int_("interval", 1, 1, 10000)
                 .bool_("omit_start_latent", true).bool_("omit_final_latent", false).optional()
                 .input("scheduler_func_opt", "SCHEDULER_FUNC").output("LATENT", "latent").output("LATENT", "progress_latent")));
  if (with_extras) {
    r.add(stub(NodeSchema("ControlNetLoader").combo_fn("control_net_name", files).output("CONTROL_NET")));
    r.add(stub(NodeSchema("ControlNetApply").input("conditioning", "CONDITIONING").input("control_net", "CONTROL_NET")
                   .input("image", "IMAGE").float_("strength", 1.0, 0.0, 10.0, 0.01).output("CONDITIONING")));
    r.add(stub(NodeSchema("VAEEncodeForInpaint").input("pixels", "IMAGE").input("vae", "VAE").input("mask", "MASK")
                   .output("LATENT")));
    r.add(stub(NodeSchema("ModelMergeSimple").input("model1", "MODEL").input("model2", "MODEL")
                   .float_("ratio", 1.0, 0.0, 1.0, 0.01).output("MODEL")));
    r.add(stub(NodeSchema("SDTurboScheduler").input("model", "MODEL").int_("steps", 1, 1, 10).output("SIGMAS")));
    r.add(stub(NodeSchema("DualCFGGuider").input("model", "MODEL").input("cond1", "CONDITIONING")
                   .input("cond2", "CONDITIONING").input("negative", "CONDITIONING")
                   .float_("cfg_conds", 8.0, 0.0, 100.0, 0.1, 0.01).float_("cfg_cond2_negative", 8.0, 0.0, 100.0, 0.1, 0.01)
                   .output("GUIDER")));
    r.add(stub(NodeSchema("InstructPixToPixConditioning").input("positive", "CONDITIONING").input("negative", "CONDITIONING")
                   .input("vae", "VAE").input("pixels", "IMAGE").output("CONDITIONING", "positive")
                   .output("CONDITIONING", "negative").output("LATENT", "latent")));
  }
  return r;
}

inline const Registry& graph_test_registry() {
  static const Registry r = make_graph_test_registry(true);
  return r;
}
inline const Registry& planned_test_registry() {
  static const Registry r = make_graph_test_registry(false);
  return r;
}

}  // namespace comfy::test
