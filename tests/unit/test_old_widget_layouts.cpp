// Old saved files convert as the editor would (workflow.md 3.2, workflow-nodes-files.md 10,
// nodes-companions.md 6): the Inspire samplers' layouts from before internal_seed (and before
// variation_method), VHS_VideoCombine's dict-form widgets_values with its format widgets, and its
// older list form with the format widgets right after `format`. Hand-written UI snippets against the
// real node registry; the expected prompts are written from the spec's rules.
#include <gtest/gtest.h>

#include "comfy/graph/workflow.hpp"
#include "test_util.hpp"

namespace comfy {
namespace {

using ojson = nlohmann::ordered_json;

// One node of `type` with `widgets` (JSON text), converted alone; its API inputs.
ojson convert_one(const std::string& type, const std::string& widgets, std::vector<std::string>* warnings = nullptr) {
  auto ui = parse_json_text(R"({"last_node_id": 1, "last_link_id": 0, "nodes": [{"id": 1, "type": ")" + type +
                                R"(", "mode": 0, "inputs": [], "outputs": [], "widgets_values": )" + widgets +
                                R"(}], "links": [], "version": 0.4})",
                            "snippet");
  auto p = convert_ui_to_api(ui, Registry::global(), ConvertOptions{}, warnings);
  return p["1"]["inputs"];
}

TEST(OldWidgetLayouts, InspireKSamplerTwelveValuesGetInternalSeedDefault) {
  // workflow.md 4.2 (linc-inspire-webui node 26)
  auto in = convert_one("KSampler //Inspire", R"j([1119808910974861, "randomize", 20, 8, "dpmpp_2m", "karras", 1,
                                                 "GPU(=A1111)", "incremental", 0, 0, "linear"])j");
  EXPECT_EQ(in["seed"], 1119808910974861LL);
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
  EXPECT_EQ(in["internal_seed"], 0);  // missing -> its default
  EXPECT_FALSE(in.contains("control_after_generate"));
  EXPECT_EQ(in.size(), 12u);
}

TEST(OldWidgetLayouts, InspireKSamplerElevenValuesPredateVariationMethod) {
  auto in = convert_one("KSampler //Inspire", R"([7, "fixed", 12, 6.5, "euler", "normal", 0.9, "CPU",
                                                 "comfy", 100, 0.25])");
  EXPECT_EQ(in["seed"], 7);
  EXPECT_EQ(in["cfg"], 6.5);
  EXPECT_EQ(in["denoise"], 0.9);
  EXPECT_EQ(in["noise_mode"], "CPU");
  EXPECT_EQ(in["batch_seed_mode"], "comfy");
  EXPECT_EQ(in["variation_seed"], 100);
  EXPECT_EQ(in["variation_strength"], 0.25);
  EXPECT_EQ(in["variation_method"], "linear");  // first choice / default
  EXPECT_EQ(in["internal_seed"], 0);
}

TEST(OldWidgetLayouts, InspireKSamplerAdvancedFifteenValues) {
  // workflow-nodes-files.md 10.2: tutorial files have 15 of the 16 widgets
  auto in = convert_one("KSamplerAdvanced //Inspire", R"j([true, 42, "fixed", 30, 7, "dpmpp_2m", "karras", 5, 25,
                                                         "GPU(=A1111)", false, "incremental", 3, 0.5, "slerp"])j");
  EXPECT_EQ(in["add_noise"], true);
  EXPECT_EQ(in["noise_seed"], 42);
  EXPECT_EQ(in["steps"], 30);
  EXPECT_EQ(in["start_at_step"], 5);
  EXPECT_EQ(in["end_at_step"], 25);
  EXPECT_EQ(in["return_with_leftover_noise"], false);
  EXPECT_EQ(in["variation_seed"], 3);
  EXPECT_EQ(in["variation_strength"], 0.5);
  EXPECT_EQ(in["variation_method"], "slerp");
  EXPECT_EQ(in["internal_seed"], 0);
}

TEST(OldWidgetLayouts, InspireKSamplerProgressElevenValues) {
  // inspire-ksampler-progress node 10
  auto in = convert_one("KSamplerProgress //Inspire",
                        R"j([95071294128444, "fixed", 20, 8, "euler", "normal", 1, "GPU(=A1111)", 1, true, false])j");
  EXPECT_EQ(in["seed"], 95071294128444LL);
  EXPECT_EQ(in["interval"], 1);
  EXPECT_EQ(in["omit_start_latent"], true);
  EXPECT_EQ(in["omit_final_latent"], false);
}

TEST(OldWidgetLayouts, VideoCombineDictFormKeepsFormatWidgetsAndDropsPreview) {
  auto in = convert_one("VHS_VideoCombine", R"({"frame_rate": 12, "loop_count": 1, "filename_prefix": "clip",
      "format": "video/h264-mp4", "pix_fmt": "yuv420p10le", "crf": 23, "save_metadata": false,
      "trim_to_audio": false, "pingpong": true, "save_output": false,
      "videopreview": {"hidden": false, "paused": false, "params": {"filename": "clip_00001.mp4"}}})");
  EXPECT_EQ(in, ojson::parse(R"({"frame_rate": 12, "loop_count": 1, "filename_prefix": "clip",
      "format": "video/h264-mp4", "pix_fmt": "yuv420p10le", "crf": 23, "save_metadata": false,
      "trim_to_audio": false, "pingpong": true, "save_output": false})"));
}

TEST(OldWidgetLayouts, VideoCombineDictFormMissingFormatWidgetTakesItsDefault) {
  // inspire-variation-seed node 48: saved before image/webp had its `lossless` widget
  auto in = convert_one("VHS_VideoCombine", R"({"frame_rate": 10, "loop_count": 0, "filename_prefix": "variation_seed",
      "format": "image/webp", "pingpong": false, "save_output": true, "videopreview": {}})");
  EXPECT_EQ(in["lossless"], true);
  EXPECT_EQ(in["format"], "image/webp");
  EXPECT_EQ(in["frame_rate"], 10);
  // gif has no format widgets
  auto gif = convert_one("VHS_VideoCombine", R"({"frame_rate": 8, "loop_count": 0, "filename_prefix": "AnimateDiff",
      "format": "image/gif", "pingpong": false, "save_output": true})");
  EXPECT_EQ(gif.size(), 6u);
}

TEST(OldWidgetLayouts, VideoCombineListFormHasFormatWidgetsAfterFormat) {
  auto in = convert_one("VHS_VideoCombine",
                        R"([24, 2, "old", "video/h264-mp4", "yuv420p", 17, true, false, true, false])");
  EXPECT_EQ(in, ojson::parse(R"({"frame_rate": 24, "loop_count": 2, "filename_prefix": "old",
      "format": "video/h264-mp4", "pix_fmt": "yuv420p", "crf": 17, "save_metadata": true,
      "trim_to_audio": false, "pingpong": true, "save_output": false})"));
  auto gif = convert_one("VHS_VideoCombine", R"([8, 0, "AnimateDiff", "image/gif", true, false])");
  EXPECT_EQ(gif["pingpong"], true);
  EXPECT_EQ(gif["save_output"], false);
  auto webp = convert_one("VHS_VideoCombine", R"([6, 0, "w", "image/webp", false, false, true])");
  EXPECT_EQ(webp["lossless"], false);
  EXPECT_EQ(webp["pingpong"], false);
  EXPECT_EQ(webp["save_output"], true);
}

TEST(OldWidgetLayouts, VideoCombineShortListTakesDefaults) {
  // a list cut after format: the format widgets and the booleans take their defaults
  auto in = convert_one("VHS_VideoCombine", R"([8, 0, "short", "video/webm"])");
  EXPECT_EQ(in["crf"], 20);
  EXPECT_EQ(in["pix_fmt"], "yuv420p");
  EXPECT_EQ(in["save_metadata"], true);
  EXPECT_EQ(in["pingpong"], false);
  EXPECT_EQ(in["save_output"], true);
}

}  // namespace
}  // namespace comfy
