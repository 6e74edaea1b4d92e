// The worked examples of workflow.md section 4, value by value as the spec states them.
#include "graph_test_registry.hpp"
#include "graph_test_util.hpp"

namespace comfy::test {
namespace {

using ojson = nlohmann::ordered_json;

Prompt convert_file(const std::string& name, std::vector<std::string>* warnings = nullptr) {
  auto ui = parse_json_text(read_text(real_workflows_dir() / name), name);
  return convert_ui_to_api(ui, graph_test_registry(), ConvertOptions{}, warnings);
}

TEST(WorkedExample, ImgToImgKSamplerWidgetsSkipTheControlSlot) {  // 4.1
  Prompt p = convert_file("comfyex-img2img.ui.json");
  const ojson& in = p["3"]["inputs"];
  EXPECT_EQ(p["3"]["class_type"], "KSampler");
  EXPECT_EQ(in["seed"], 280823642470253);
  EXPECT_EQ(in["steps"], 20);
  EXPECT_EQ(in["cfg"], 8);
  EXPECT_EQ(in["sampler_name"], "dpmpp_2m");
  EXPECT_EQ(in["scheduler"], "normal");
  EXPECT_EQ(in["denoise"], 0.8700000000000001);
  EXPECT_EQ(in["model"], ojson::array({"14", 0}));
  EXPECT_EQ(in["positive"], ojson::array({"6", 0}));
  EXPECT_EQ(in["negative"], ojson::array({"7", 0}));
  EXPECT_EQ(in["latent_image"], ojson::array({"12", 0}));
  EXPECT_FALSE(in.contains("control_after_generate"));
  // LoadImage: image, UPLOAD -> only the image is sent
  EXPECT_EQ(p["10"]["inputs"], ojson({{"image", "example.png"}}));
  // validation turns the integer cfg into a float (7.4)
  validate_prompt(p, graph_test_registry(), RuntimeConfig{});
  EXPECT_TRUE(p["3"]["inputs"]["cfg"].is_number_float());
  EXPECT_EQ(p["3"]["inputs"]["cfg"].get<double>(), 8.0);
}

TEST(WorkedExample, InspireSamplerMissingTrailingWidgetsTakeDefaults) {  // 4.2
  Prompt p = convert_file("linc-inspire-webui.ui.json");
  const ojson& in = p["26"]["inputs"];
  EXPECT_EQ(p["26"]["class_type"], "KSampler //Inspire");
  EXPECT_EQ(in["seed"], 1119808910974861);
  EXPECT_EQ(in["steps"], 20);
  EXPECT_EQ(in["cfg"], 8);
  EXPECT_EQ(in["sampler_name"], "dpmpp_2m");
  EXPECT_EQ(in["scheduler"], "karras");
  EXPECT_EQ(in["denoise"], 1);
  EXPECT_EQ(in["noise_mode"], "GPU(=A1111)");
  EXPECT_EQ(in["batch_seed_mode"], "incremental");
  EXPECT_EQ(in["variation_seed"], 0);
  EXPECT_EQ(in["variation_strength"], 0);
  EXPECT_EQ(in["variation_method"], "linear");
  EXPECT_EQ(in["internal_seed"], 0);  // missing in the file -> default
}

TEST(WorkedExample, PrimitiveNodesFeedConvertedWidgetsAndNotesVanish) {  // 4.3
  Prompt p = convert_file("comfyex-sdxl-base-refiner.ui.json");
  const ojson& in = p["11"]["inputs"];
  EXPECT_EQ(in["add_noise"], "disable");
  EXPECT_EQ(in["noise_seed"], 0);
  EXPECT_EQ(in["steps"], 25);          // from PrimitiveNode 45
  EXPECT_EQ(in["cfg"], 8);
  EXPECT_EQ(in["sampler_name"], "euler");
  EXPECT_EQ(in["scheduler"], "normal");
  EXPECT_EQ(in["start_at_step"], 20);  // from PrimitiveNode 47
  EXPECT_EQ(in["end_at_step"], 10000);
  EXPECT_EQ(in["return_with_leftover_noise"], "disable");
  for (auto k : {"model", "positive", "negative", "latent_image"}) EXPECT_TRUE(is_link(in[k])) << k;
  EXPECT_EQ(p["10"]["inputs"]["steps"], 25);
  EXPECT_EQ(p["6"]["inputs"]["text"], p["15"]["inputs"]["text"]);  // primitive 13 feeds both
  EXPECT_EQ(p["6"]["inputs"]["text"], "evening sunset scenery blue sky nature, glass bottle with a galaxy in it");
  for (auto& [id, n] : p.items()) {
    EXPECT_NE(n["class_type"], "Note");
    EXPECT_NE(n["class_type"], "PrimitiveNode");
  }
  EXPECT_EQ(p.size(), 11u);  // 4, 5, 6, 7, 10, 11, 12, 15, 16, 17, 19
}

TEST(WorkedExample, BypassAndLegacyGroupNodeExpand) {  // 4.4
  Prompt p = convert_file("comfyex-sdxl-edit-groupnode.ui.json");
  for (auto id : {"37:0", "37:1", "37:3", "37:6", "37:7", "37:8"}) EXPECT_TRUE(p.contains(id)) << id;
  for (auto id : {"37:2", "37:4", "37:5", "38", "37"}) EXPECT_FALSE(p.contains(id)) << id;
  EXPECT_EQ(p["37:1"]["inputs"]["noise_seed"], 11652752290163);  // the instance value, not 156680208700303
  EXPECT_EQ(p["37:0"]["inputs"]["sampler_name"], "euler");
  EXPECT_EQ(p["37:3"]["inputs"]["scheduler"], "normal");
  EXPECT_EQ(p["37:3"]["inputs"]["steps"], 20);
  EXPECT_EQ(p["37:3"]["inputs"]["model"], ojson::array({"4", 0}));  // through inner reroute 2 to the outside
  EXPECT_EQ(p["37:7"]["inputs"]["cfg_conds"], 5);
  EXPECT_EQ(p["37:7"]["inputs"]["cfg_cond2_negative"], 1.5);
  EXPECT_EQ(p["37:6"]["inputs"]["pixels"], ojson::array({"13", 0}));  // bypassed 38 spliced out
  EXPECT_EQ(p["8"]["inputs"]["samples"], ojson::array({"37:8", 0}));   // outside consumer rewired
  EXPECT_EQ(p["37:8"]["inputs"]["latent_image"], ojson::array({"37:6", 2}));
}

TEST(WorkedExample, SubgraphFlattensWithPathIds) {  // 4.5
  Prompt p = convert_file("template-zimage-subgraph.ui.json");
  // With schemas for the three Z-Image loaders (shapes as in ComfyUI v0.8) every value of 4.5 is checked.
  Registry zr = make_graph_test_registry(true);
  auto files = [] { return test_files(); };
  auto stub = [](NodeSchema s) { return NodeDef{std::move(s), [](const NodeInputs&, ExecContext&) { return NodeOutput{}; }}; };
  zr.add(stub(NodeSchema("CLIPLoader").combo_fn("clip_name", files)
                  .combo("type", {"stable_diffusion", "stable_cascade", "sd3", "stable_audio", "mochi", "ltxv", "pixart",
                                  "cosmos", "lumina2", "wan", "hidream", "chroma", "ace", "omnigen2", "qwen_image"})
                  .optional().combo("device", {"default", "cpu"}).output("CLIP")));
  zr.add(stub(NodeSchema("UNETLoader").combo_fn("unet_name", files)
                  .combo("weight_dtype", {"default", "fp8_e4m3fn", "fp8_e4m3fn_fast", "fp8_e5m2"}).output("MODEL")));
  zr.add(stub(NodeSchema("EmptySD3LatentImage").int_("width", 1024, 16, 16384, 16).int_("height", 1024, 16, 16384, 16)
                  .int_("batch_size", 1, 1, 4096).output("LATENT")));
  {
    auto ui = parse_json_text(read_text(real_workflows_dir() / "template-zimage-subgraph.ui.json"), "t");
    Prompt z = convert_ui_to_api(ui, zr, ConvertOptions{});
    EXPECT_EQ(z["83:30"]["inputs"], ojson({{"clip_name", "qwen_3_4b.safetensors"}, {"type", "lumina2"}, {"device", "default"}}));
    EXPECT_EQ(z["83:13"]["inputs"], ojson({{"width", 1024}, {"height", 1024}, {"batch_size", 1}}));
    EXPECT_EQ(z["83:28"]["inputs"], ojson({{"unet_name", "z_image_turbo_bf16.safetensors"}, {"weight_dtype", "default"}}));
  }
  std::set<std::string> ids;
  for (auto& [id, _] : p.items()) ids.insert(id);
  EXPECT_EQ(sorted_list(ids), sorted_list({"60", "83:30", "83:29", "83:13", "83:33", "83:8", "83:3", "83:27", "83:28"}));
  EXPECT_EQ(p["60"]["inputs"], ojson({{"filename_prefix", "z-image-turbo"}, {"images", {"83:8", 0}}}));
  EXPECT_EQ(p["83:30"]["class_type"], "CLIPLoader");
  EXPECT_EQ(p["83:29"]["class_type"], "VAELoader");
  EXPECT_EQ(p["83:29"]["inputs"]["vae_name"], "ae.safetensors");
  EXPECT_EQ(p["83:33"]["inputs"]["conditioning"], ojson::array({"83:27", 0}));
  EXPECT_EQ(p["83:8"]["inputs"], ojson({{"samples", {"83:3", 0}}, {"vae", {"83:29", 0}}}));
  const ojson& k = p["83:3"]["inputs"];
  EXPECT_EQ(k["seed"], 528562900154240);
  EXPECT_EQ(k["steps"], 4);
  EXPECT_EQ(k["cfg"], 1);
  EXPECT_EQ(k["sampler_name"], "res_multistep");
  EXPECT_EQ(k["scheduler"], "simple");
  EXPECT_EQ(k["denoise"], 1);
  EXPECT_EQ(k["model"], ojson::array({"83:28", 0}));  // skips the bypassed 83:11
  EXPECT_EQ(k["positive"], ojson::array({"83:27", 0}));
  EXPECT_EQ(k["negative"], ojson::array({"83:33", 0}));
  EXPECT_EQ(k["latent_image"], ojson::array({"83:13", 0}));
  EXPECT_EQ(p["83:27"]["inputs"]["clip"], ojson::array({"83:30", 0}));
  EXPECT_EQ(p["83:27"]["inputs"]["text"].get<std::string>().rfind("Giant blue", 0), 0u);
  // Z-Image nodes are not ours: the outcome is the unsupported-node error, after flattening.
  auto res = validate_prompt(p, graph_test_registry(), RuntimeConfig{});
  ASSERT_FALSE(res.ok);
  EXPECT_EQ(res.error["type"], "invalid_prompt");
  EXPECT_EQ(res.error["extra_info"]["nodes"]["83:30"], "CLIPLoader");
}

}  // namespace
}  // namespace comfy::test
