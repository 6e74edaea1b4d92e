// Every file in shared/workflows/real/ loads, converts and validates; files using node types a
// registry lacks fail with ONE invalid_prompt error listing exactly those types.
#include <map>

#include "graph_test_registry.hpp"
#include "graph_test_util.hpp"

namespace comfy::test {
namespace {

using ojson = nlohmann::ordered_json;

const std::set<std::string> kFrontendOnly = {"Note", "MarkdownNote", "Reroute", "PrimitiveNode"};

// Unknown types per file for the spec's planned node set (workflow-nodes-files.md 9.1-9.24 and 10), taken
// from the "Runnable with the planned node set?" table of SOURCES.md. One deliberate difference: for
// comfyex-sdxl-edit-groupnode.ui.json SOURCES names the group type `workflow/IP2PSampler`; we expand
// legacy group nodes (workflow.md 2.9), so the unknown types are its inner ones, as in the API twin.
const std::map<std::string, std::set<std::string>> kPlannedUnknown = {
    {"comfy-script-basic.api.json", {}},
    {"comfy-tests-sdxl-default.api.json", {}},
    {"comfyex-area-composition-subject.api.json", {}},
    {"comfyex-area-composition-subject.ui.json", {}},
    {"comfyex-controlnet.api.json", {"ControlNetApply", "ControlNetLoader"}},
    {"comfyex-controlnet.ui.json", {"ControlNetApply", "ControlNetLoader"}},
    {"comfyex-embedding.api.json", {}},
    {"comfyex-embedding.ui.json", {}},
    {"comfyex-hiresfix-latent.api.json", {}},
    {"comfyex-hiresfix-latent.ui.json", {}},
    {"comfyex-img2img.api.json", {}},
    {"comfyex-img2img.ui.json", {}},
    {"comfyex-inpaint.api.json", {"VAEEncodeForInpaint"}},
    {"comfyex-inpaint.ui.json", {"VAEEncodeForInpaint"}},
    {"comfyex-lora.api.json", {}},
    {"comfyex-lora.ui.json", {}},
    {"comfyex-model-merging-basic.api.json", {"ModelMergeSimple"}},
    {"comfyex-model-merging-basic.ui.json", {"ModelMergeSimple"}},
    {"comfyex-sdxl-base-refiner.api.json", {}},
    {"comfyex-sdxl-base-refiner.ui.json", {}},
    {"comfyex-sdxl-edit-groupnode.api.json", {"DualCFGGuider", "InstructPixToPixConditioning"}},
    {"comfyex-sdxl-edit-groupnode.ui.json", {"DualCFGGuider", "InstructPixToPixConditioning"}},
    {"comfyex-sdxl-turbo.api.json", {"SDTurboScheduler"}},
    {"comfyex-sdxl-turbo.ui.json", {"SDTurboScheduler"}},
    {"inspire-ksampler-progress.ui.json", {"VHS_VideoCombine"}},
    {"inspire-reproduce-a1111.ui.json", {"BNK_CLIPTextEncodeAdvanced", "FromBasicPipe", "ImpactWildcardEncode", "ToBasicPipe"}},
    {"inspire-save-load-lbw.ui.json",
     {"ApplyLBW //Inspire", "LoadLBW //Inspire", "MakeLBW //Inspire", "ModelMergeSubtract", "SaveLBW //Inspire"}},
    {"inspire-variation-seed.ui.json",
     {"FloatRange //Inspire", "ImageListToImageBatch", "ImageReceiver", "SDXL Empty Latent Image", "VHS_VideoCombine"}},
    {"linc-default-txt2img.ui.json", {}},
    {"linc-inspire-webui.ui.json", {"BNK_CLIPTextEncodeAdvanced"}},
    {"linc-multi-lora.ui.json", {}},
    {"template-zimage-subgraph.ui.json", {"CLIPLoader", "EmptySD3LatentImage", "UNETLoader"}},
};

// Read from the files by hand: types that must appear in the converted prompt, and types that must
// not (muted / bypassed nodes, the group instance itself).
struct Pinned {
  std::set<std::string> present, absent;
};
const std::map<std::string, Pinned> kPinned = {
    {"comfyex-sdxl-base-refiner.ui.json", {{"KSamplerAdvanced", "CLIPTextEncode", "CheckpointLoaderSimple", "SaveImage"}, {}}},
    {"template-zimage-subgraph.ui.json",
     {{"CLIPLoader", "UNETLoader", "KSampler", "ConditioningZeroOut", "SaveImage"}, {"ModelSamplingAuraFlow", "ef10a538-17cf-46fb-930c-5460c4cf7f0e"}}},
    {"comfyex-sdxl-edit-groupnode.ui.json",
     {{"DualCFGGuider", "SamplerCustomAdvanced", "RandomNoise", "LoadImage"}, {"ImageScaleToTotalPixels", "workflow/IP2PSampler"}}},
    {"comfyex-sdxl-turbo.ui.json", {{"SamplerCustom", "PreviewImage", "SDTurboScheduler"}, {"SaveImage"}}},
    {"comfyex-model-merging-basic.ui.json", {{"ModelMergeSimple", "SaveImage"}, {"CheckpointSave"}}},
    {"inspire-ksampler-progress.ui.json", {{"KSamplerProgress //Inspire", "VHS_VideoCombine", "VAEDecode"}, {}}},
    {"inspire-variation-seed.ui.json", {{"KSampler //Inspire", "FloatRange //Inspire"}, {"ImageSender"}}},
    {"linc-inspire-webui.ui.json", {{"KSampler //Inspire", "BNK_CLIPTextEncodeAdvanced", "VAELoader"}, {}}},
};

class RealWorkflow : public ::testing::TestWithParam<std::string> {};

// The generic contract, for any registry: error list == types in the prompt the registry lacks.
void check_unknown_contract(const std::string& file, const Registry& reg, std::set<std::string>* unknown_out) {
  auto wf = load_workflow_file(real_workflows_dir() / file, reg);
  std::set<std::string> types = class_types(wf.prompt), unknown;
  for (auto& t : types)
    if (!reg.find(t)) unknown.insert(t);
  for (auto& t : kFrontendOnly) EXPECT_FALSE(types.count(t)) << file << ": frontend-only type " << t << " in the API prompt";
  if (auto it = kPinned.find(file); it != kPinned.end()) {
    for (auto& t : it->second.present) EXPECT_TRUE(types.count(t)) << file << ": expected " << t << " in the prompt";
    for (auto& t : it->second.absent) EXPECT_FALSE(types.count(t)) << file << ": " << t << " must not be in the prompt";
  }
  Prompt p = wf.prompt;
  auto res = validate_prompt(p, reg, RuntimeConfig{});
  if (!unknown.empty()) {
    ASSERT_FALSE(res.ok) << file;
    ASSERT_EQ(res.error["type"], "invalid_prompt") << res.to_json().dump();
    EXPECT_TRUE(res.node_errors.empty());
    std::set<std::string> listed;
    for (auto& t : res.error["extra_info"]["unknown_class_types"]) listed.insert(t.get<std::string>());
    EXPECT_EQ(listed, unknown) << file;
    for (auto& t : unknown) EXPECT_NE(res.error["message"].get<std::string>().find(t), std::string::npos) << t;
    // Every node of an unknown type is named with its id.
    for (auto& [id, n] : wf.prompt.items())
      if (unknown.count(n["class_type"].get<std::string>()))
        EXPECT_EQ(res.error["extra_info"]["nodes"].value(id, ""), n["class_type"].get<std::string>()) << id;
  } else {
    EXPECT_NE(res.error.is_object() ? res.error["type"].get<std::string>() : "", "invalid_prompt") << res.to_json().dump();
  }
  if (unknown_out) *unknown_out = unknown;
}

TEST_P(RealWorkflow, GlobalRegistryReportsExactlyTheMissingTypes) {
  check_unknown_contract(GetParam(), Registry::global(), nullptr);
}

TEST_P(RealWorkflow, PlannedNodeSetReportsTheTypesSourcesMdLists) {
  const std::string file = GetParam();
  test_files().clear();  // no model files: file combos fail with value_not_in_list
  std::set<std::string> unknown;
  check_unknown_contract(file, planned_test_registry(), &unknown);
  auto it = kPlannedUnknown.find(file);
  if (it != kPlannedUnknown.end()) EXPECT_EQ(sorted_list(unknown), sorted_list(it->second)) << file;
  if (!unknown.empty()) return;
  // Runnable files: with no model files present, the only errors are missing files, and every missing
  // model name is one SOURCES.md lists for this file.
  auto wf = load_workflow_file(real_workflows_dir() / file, planned_test_registry());
  auto res = validate_prompt(wf.prompt, planned_test_registry(), RuntimeConfig{});
  std::string sources = read_text(real_workflows_dir() / "SOURCES.md");
  std::string row;
  for (size_t p = sources.find("| `" + file + "`"); p != std::string::npos;) {
    row = sources.substr(p, sources.find('\n', p) - p);
    break;
  }
  ASSERT_FALSE(res.ok) << file;
  ASSERT_FALSE(res.node_errors.empty()) << res.to_json().dump();
  const std::set<std::string> file_inputs = {"ckpt_name", "vae_name", "lora_name", "image", "control_net_name"};
  for (auto& [id, ne] : res.node_errors.items())
    for (auto& e : ne["errors"]) {
      EXPECT_EQ(e["type"], "value_not_in_list") << file << " node " << id << ": " << e.dump();
      std::string input = e["extra_info"].value("input_name", "");
      EXPECT_TRUE(file_inputs.count(input)) << file << " node " << id << ": " << e.dump();
      if (!row.empty() && input != "image" && e["extra_info"]["received_value"].is_string())
        EXPECT_NE(row.find(e["extra_info"]["received_value"].get<std::string>()), std::string::npos)
            << file << ": " << e["extra_info"]["received_value"];
    }
}

std::string name_of(const ::testing::TestParamInfo<std::string>& info) {
  std::string s;
  for (char c : info.param) s += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(Files, RealWorkflow, ::testing::ValuesIn(real_workflow_files()), name_of);

TEST(RealWorkflows, DirectoryHasTheDocumentedFiles) {
  // Guards against the parameterised suite silently running on nothing.
  auto files = real_workflow_files();
  EXPECT_GE(files.size(), 32u);
  for (auto& [f, _] : kPlannedUnknown)
    EXPECT_TRUE(std::find(files.begin(), files.end(), f) != files.end()) << f;
}

}  // namespace
}  // namespace comfy::test
