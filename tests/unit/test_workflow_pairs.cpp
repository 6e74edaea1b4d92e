// UI/API pairs of shared/workflows/real/ (both chunks of one PNG): converting the UI file and
// validating it (which applies ComfyUI's coercions) reproduces the `prompt` chunk ComfyUI executed,
// apart from the differences workflow.md 3.9 lists (is_changed, the old upload input, _meta).
// Uses the test-local registry of graph_test_registry.hpp (spec schemas, plus the era schemas of the
// few extra nodes these PNGs use), since most nodes are not registered globally yet.
#include "graph_test_registry.hpp"
#include "graph_test_util.hpp"

namespace comfy::test {
namespace {

using ojson = nlohmann::ordered_json;

std::vector<std::string> pair_slugs() {
  std::vector<std::string> out;
  for (auto& f : real_workflow_files()) {
    const std::string suffix = ".ui.json";
    if (f.size() > suffix.size() && f.compare(f.size() - suffix.size(), suffix.size(), suffix) == 0) {
      std::string slug = f.substr(0, f.size() - suffix.size());
      if (std::filesystem::exists(real_workflows_dir() / (slug + ".api.json"))) out.push_back(slug);
    }
  }
  return out;
}

class WorkflowPair : public ::testing::TestWithParam<std::string> {};

TEST_P(WorkflowPair, ConversionEqualsThePromptComfyUIRan) {
  const std::string slug = GetParam();
  const Registry& reg = graph_test_registry();
  test_files().clear();
  auto ui = load_workflow_file(real_workflows_dir() / (slug + ".ui.json"), reg);
  auto api = load_workflow_file(real_workflows_dir() / (slug + ".api.json"), reg);
  for (auto& t : class_types(ui.prompt)) ASSERT_TRUE(reg.find(t)) << slug << ": type " << t << " not in the test registry";

  Prompt ours = ui.prompt;
  validate_prompt(ours, reg, RuntimeConfig{});  // coercions are written back even when files are missing
  Prompt theirs = api.prompt;

  std::set<std::string> our_ids, their_ids;
  for (auto& [id, _] : ours.items()) our_ids.insert(id);
  for (auto& [id, _] : theirs.items()) their_ids.insert(id);
  ASSERT_EQ(sorted_list(our_ids), sorted_list(their_ids)) << slug;
  for (auto& [id, t] : theirs.items()) {
    const ojson& o = ours[id];
    EXPECT_EQ(o["class_type"], t["class_type"]) << slug << " node " << id;
    ojson ti = t["inputs"];
    ti.erase("upload");                 // 3.2: sent by old frontends, ignored by ComfyUI
    ti.erase("choose file to upload");
    std::string why;
    EXPECT_TRUE(same_json(o["inputs"], ti, &why)) << slug << " node " << id << ": " << why << "\nours:   "
                                                   << o["inputs"].dump() << "\ntheirs: " << ti.dump();
  }
}

std::string name_of(const ::testing::TestParamInfo<std::string>& info) {
  std::string s;
  for (char c : info.param) s += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(Real, WorkflowPair, ::testing::ValuesIn(pair_slugs()), name_of);

TEST(WorkflowPairs, AllElevenPairsAreCompared) { EXPECT_GE(pair_slugs().size(), 11u); }

}  // namespace
}  // namespace comfy::test
