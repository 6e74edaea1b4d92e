// UI -> API conversion features the real files do not all exercise: promoted subgraph widgets,
// legacy group widgets, reroute + bypass + primitive chains, muted sources, dynamic prompts,
// filename-prefix patterns, forceInput migration, unknown types. Inputs are the fuzz seed corpus.
#include <ctime>

#include "graph_test_registry.hpp"
#include "graph_test_util.hpp"

namespace comfy::test {
namespace {

using ojson = nlohmann::ordered_json;

Prompt corpus(const std::string& name, std::vector<std::string>* warnings = nullptr) {
  auto j = parse_json_text(read_text(source_dir() / "tests/fuzz/corpus" / name), name);
  return convert_ui_to_api(j, graph_test_registry(), ConvertOptions{}, warnings);
}

TEST(Convert, SubgraphPromotedWidgetComesFromTheInstance) {
  Prompt p = corpus("ui_subgraph.json");
  EXPECT_EQ(p["10:1"]["class_type"], "EmptyLatentImage");
  EXPECT_EQ(p["10:1"]["inputs"], ojson({{"width", 256}, {"height", 512}, {"batch_size", 1}}));
  EXPECT_EQ(p["11"]["inputs"]["samples"], ojson::array({"10:1", 0}));
  EXPECT_FALSE(p.contains("10"));
}

TEST(Convert, LegacyGroupWidgetsAreDistributedOverInnerNodes) {
  Prompt p = corpus("ui_groupnode.json");
  EXPECT_EQ(p["3:0"]["inputs"], ojson({{"width", 128}, {"height", 128}, {"batch_size", 2}}));
  EXPECT_EQ(p["3:1"]["inputs"], ojson({{"amount", 1}, {"samples", {"3:0", 0}}}));
  EXPECT_EQ(p["4"]["inputs"]["samples"], ojson::array({"3:1", 0}));
}

TEST(Convert, RerouteBypassPrimitiveMutedAndNotes) {
  Prompt p = corpus("ui_reroute_primitive_bypass.json");
  std::set<std::string> ids;
  for (auto& [id, _] : p.items()) ids.insert(id);
  EXPECT_EQ(sorted_list(ids), sorted_list({"1", "4"}));  // reroute, bypassed, primitive, note, muted: gone
  EXPECT_EQ(p["4"]["inputs"]["samples"], ojson::array({"1", 0}));
  // %date:yyyy-MM-dd% and %Empty Latent Image.width% (the node's display-name title)
  char buf[16];
  std::time_t t = std::time(nullptr);
  std::strftime(buf, sizeof buf, "%Y-%m-%d", std::localtime(&t));
  EXPECT_EQ(p["4"]["inputs"]["filename_prefix"], std::string(buf) + "/512");
}

TEST(Convert, MutedSourceLeavesTheInputMissing) {
  auto j = parse_json_text(R"({"nodes": [
      {"id": 1, "type": "EmptyLatentImage", "mode": 2, "widgets_values": [64, 64, 1]},
      {"id": 2, "type": "SaveLatent", "inputs": [{"name": "samples", "type": "LATENT", "link": 9}], "widgets_values": ["x"]}],
    "links": [[9, 1, 0, 2, 0, "LATENT"]]})", "m");
  Prompt p = convert_ui_to_api(j, graph_test_registry(), ConvertOptions{});
  EXPECT_EQ(p["2"]["inputs"], ojson({{"filename_prefix", "x"}}));
  auto r = validate_prompt(p, graph_test_registry(), RuntimeConfig{});
  EXPECT_EQ(r.node_errors["2"]["errors"][0]["type"], "required_input_missing");
}

TEST(Convert, DynamicPromptsCommentsChoicesAndEscapes) {
  auto make = [](const std::string& text) {
    ojson ui = {{"nodes", ojson::array({ojson{{"id", 1}, {"type", "CLIPTextEncode"}, {"widgets_values", {text}}}})},
                {"links", ojson::array()}};
    return ui;
  };
  ConvertOptions off;
  off.dynamic_prompts = false;
  Prompt a = convert_ui_to_api(make("a {red|blue} cat // note\n/* x */\\{y\\}"), graph_test_registry(), off);
  EXPECT_EQ(a["1"]["inputs"]["text"], "a {red|blue} cat \n{y}");
  std::set<std::string> seen;
  for (uint64_t seed = 0; seed < 16; ++seed) {
    ConvertOptions on;
    on.dynamic_prompt_seed = seed;
    std::vector<std::string> warnings;
    Prompt p = convert_ui_to_api(make("a {red|{dark|light} blue} cat, \\{x\\|y\\}"), graph_test_registry(), on, &warnings);
    std::string t = p["1"]["inputs"]["text"].get<std::string>();
    EXPECT_TRUE(t == "a red cat, {x|y}" || t == "a dark blue cat, {x|y}" || t == "a light blue cat, {x|y}") << t;
    EXPECT_FALSE(warnings.empty());  // the chosen text is logged
    seen.insert(t);
  }
  EXPECT_GE(seen.size(), 2u);  // the choice really depends on the seed
}

TEST(Convert, ForceInputMigrationDropsDummyValues) {
  Registry reg;
  NodeSchema s("Forced");
  s.int_("a", 0, 0, 100).int_("b", 0, 0, 100).output("INT");
  s.inputs[0].force_input = true;
  reg.add(NodeDef{s, [](const NodeInputs&, ExecContext&) { return NodeOutput{}; }});
  auto conv = [&](const std::string& wv) {
    auto j = parse_json_text(R"({"nodes": [{"id": 1, "type": "Forced", "widgets_values": )" + wv + R"(}], "links": []})", "f");
    return convert_ui_to_api(j, reg, ConvertOptions{})["1"]["inputs"];
  };
  EXPECT_EQ(conv("[7, 9]"), ojson({{"b", 9}}));  // saved by a frontend that still had a widget for `a`
  EXPECT_EQ(conv("[9]"), ojson({{"b", 9}}));
  EXPECT_EQ(conv("[]"), ojson({{"b", 0}}));       // missing -> default
}

TEST(Convert, UnknownTypesKeepLinksAndNamedWidgets) {
  auto j = parse_json_text(R"({"nodes": [
      {"id": 1, "type": "EmptyLatentImage", "widgets_values": [64, 64, 1]},
      {"id": 2, "type": "VHS_Something", "inputs": [{"name": "latent", "type": "LATENT", "link": 3}],
       "widgets_values": {"frame_rate": 8, "format": "image/gif", "list": [1, 2]}},
      {"id": 3, "type": "OtherUnknown", "widgets_values": [1, 2, 3]}],
    "links": [[3, 1, 0, 2, 0, "LATENT"]]})", "u");
  std::vector<std::string> warnings;
  Prompt p = convert_ui_to_api(j, graph_test_registry(), ConvertOptions{}, &warnings);
  EXPECT_EQ(p["2"]["inputs"], ojson({{"frame_rate", 8}, {"format", "image/gif"}, {"list", {{"__value__", {1, 2}}}},
                                     {"latent", {"1", 0}}}));
  EXPECT_EQ(p["3"]["inputs"], ojson::object());
  EXPECT_FALSE(warnings.empty());
}

TEST(Convert, CircularRerouteIsAnErrorNotAHang) {
  auto j = parse_json_text(R"({"nodes": [
      {"id": 1, "type": "Reroute", "inputs": [{"name": "", "type": "*", "link": 2}]},
      {"id": 2, "type": "Reroute", "inputs": [{"name": "", "type": "*", "link": 1}]},
      {"id": 3, "type": "SaveLatent", "inputs": [{"name": "samples", "type": "LATENT", "link": 3}]}],
    "links": [[1, 1, 0, 2, 0, "*"], [2, 2, 0, 1, 0, "*"], [3, 1, 0, 3, 0, "LATENT"]]})", "c");
  try {
    convert_ui_to_api(j, graph_test_registry(), ConvertOptions{});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("circular reference"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace comfy::test
