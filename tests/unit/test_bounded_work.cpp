// Work bounded by the input (issue 14 item 2): conversion and validation count their steps
// (ConvertOptions::work_steps, ValidationResult::work_steps), and every input here — cycles of every
// kind, long chains, fan-out behind chains, exponential nesting — stays within a fixed multiple of its
// nodes + links. Step counts, not wall time: the bound holds on any machine. (Also built into the clang
// ThreadSanitizer test binary, tests/fuzz.)
#include <gtest/gtest.h>

#include "comfy/graph/validate.hpp"
#include "comfy/graph/workflow.hpp"
#include "graph_test_registry.hpp"

namespace comfy::test {
namespace {

using ojson = nlohmann::ordered_json;

// The bound every input must meet: a fixed multiple of its nodes + links, plus a small constant.
constexpr uint64_t kStepsPerElement = 40;
constexpr uint64_t kStepsConstant = 5000;

// Nodes + links of a UI workflow, over the root graph, subgraph definitions and group definitions.
uint64_t ui_size(const ojson& ui) {
  uint64_t n = 0;
  auto count = [&](const ojson& g) {
    for (const char* k : {"nodes", "links"})
      if (g.contains(k) && g[k].is_array()) n += g[k].size();
  };
  count(ui);
  if (ui.contains("definitions"))
    for (auto& d : ui["definitions"]["subgraphs"]) count(d);
  if (ui.contains("extra") && ui["extra"].contains("groupNodes"))
    for (auto& [k, d] : ui["extra"]["groupNodes"].items()) count(d);
  return n;
}

struct Outcome {
  uint64_t steps = 0;
  std::string error;  // the conversion error, "" when it converted
  Prompt prompt;
};

Outcome convert_counted(const ojson& ui) {
  Outcome o;
  ConvertOptions opt;
  opt.work_steps = &o.steps;
  try {
    o.prompt = convert_ui_to_api(ui, graph_test_registry(), opt);
    auto r = validate_prompt(o.prompt, graph_test_registry(), RuntimeConfig{});
    o.steps += r.work_steps;
  } catch (const Error& e) {
    o.error = e.what();
  }
  return o;
}

void expect_bounded(const Outcome& o, uint64_t size, const std::string& what) {
  EXPECT_LE(o.steps, kStepsPerElement * size + kStepsConstant)
      << what << ": " << o.steps << " steps for " << size << " nodes + links";
}

ojson link(int64_t id, int64_t from, int64_t from_slot, int64_t to, int64_t to_slot, const std::string& type) {
  return ojson::array({id, from, from_slot, to, to_slot, type});
}
ojson in(const std::string& name, const std::string& type, std::optional<int64_t> l) {
  return ojson{{"name", name}, {"type", type}, {"link", l ? ojson(*l) : ojson()}};
}
ojson node(int64_t id, const std::string& type, ojson inputs, ojson widgets = ojson::array(), int mode = 0) {
  return ojson{{"id", id}, {"type", type}, {"mode", mode}, {"inputs", std::move(inputs)},
               {"outputs", ojson::array({ojson{{"name", "LATENT"}, {"type", "LATENT"}}})},
               {"widgets_values", std::move(widgets)}};
}
ojson empty_latent(int64_t id) { return node(id, "EmptyLatentImage", ojson::array(), {64, 64, 1}); }
ojson save_latent(int64_t id, std::optional<int64_t> l) { return node(id, "SaveLatent", {in("samples", "LATENT", l)}, {"x"}); }
ojson reroute(int64_t id, std::optional<int64_t> l) { return node(id, "Reroute", {in("", "*", l)}); }
ojson repeat(int64_t id, std::optional<int64_t> l, int mode = 0) {
  return node(id, "RepeatLatentBatch", {in("samples", "LATENT", l)}, {1}, mode);
}
ojson ui_graph(ojson nodes, ojson links) {
  return ojson{{"version", 0.4}, {"nodes", std::move(nodes)}, {"links", std::move(links)}};
}

// The input of issue 14: a bypassed node whose output feeds its own input, behind a reroute
// (took 8 s, a million hops, to reject).
const char* kIssueInput = R"({"version": 0.4, "nodes": [
 {"id": 1, "type": "EmptyLatentImage", "mode": 0, "outputs": [{"name": "LATENT", "type": "LATENT", "linkw": [1]}], "widgets_values": [512, 512, 1]},
 {"id": 2, "type": "reRoute", "inputs": [{"name": "", "type": "*", "link": 1}], "outputs": [{"name": "", "lank": "LATENT", "links": [2]}]},
 {"id": 3, "type": "RepeatLatentBatch", "mode": 4, "inputs": [{"name": "samples", "type": "LATENT", "link": 3}, {"name": "amount", "type": "INT", "link": 5, "widget": {"name": "amount"}}], "outputs": [{"name": "LATENT", "type": "dependent_LATENT", "links": [3]}], "widgets_values": [2]},
 {"id": 4, "type": "SaveLatent", "inputs": [{"name": "samples", "type": "LATENT", "link": 3}], "widgets_values": ["%date:yyyy-MM-dd-/%Empty Latent Image.wi]th%"]},
 {"id": 6, "type": "PrimitiveNode", "outputs": [{"name": "INT", "type": "INT", "links": [5], "widget": {"name": "amount"}}], "widgets_values": [3, "fixed"]},
 {"id": 6, "type": "Note", "widgets_values": ["hi----------"]},
 {"id": 7, "type": "SaveImage", "mote": 2, "widgets_values": ["muted"]}],
 "links": [[1, 1, 0, 2, 0, "LATENT"], [2, 2, 0, 3, 0, "LATENT"], [3, 3, 0, 4, 0, "LATENT"], [5, 5, 0, 3, 1, "INT"]], "extra": {}})";

TEST(BoundedWork, IssueInputBypassFeedingItselfIsACycleFoundAtOnce) {
  ojson ui = parse_json_text(kIssueInput, "issue14.json");
  Outcome o = convert_counted(ui);
  EXPECT_NE(o.error.find("circular reference through reroute / bypassed nodes"), std::string::npos) << o.error;
  expect_bounded(o, ui_size(ui), "issue input");
  EXPECT_LT(o.steps, 200u);
}

TEST(BoundedWork, CycleThroughReroutes) {
  // 2 <- 3 <- 2 (reroutes feeding each other), consumer 4 reads reroute 3.
  ojson ui = ui_graph({reroute(2, 1), reroute(3, 2), save_latent(4, 3)},
                      {link(1, 3, 0, 2, 0, "*"), link(2, 2, 0, 3, 0, "*"), link(3, 3, 0, 4, 0, "LATENT")});
  Outcome o = convert_counted(ui);
  EXPECT_NE(o.error.find("circular reference"), std::string::npos) << o.error;
  expect_bounded(o, ui_size(ui), "reroute cycle");
}

TEST(BoundedWork, CycleThroughBypassedNodes) {
  ojson ui = ui_graph({repeat(2, 1, 4), repeat(3, 2, 4), save_latent(4, 3)},
                      {link(1, 3, 0, 2, 0, "LATENT"), link(2, 2, 0, 3, 0, "LATENT"), link(3, 3, 0, 4, 0, "LATENT")});
  Outcome o = convert_counted(ui);
  EXPECT_NE(o.error.find("circular reference"), std::string::npos) << o.error;
  expect_bounded(o, ui_size(ui), "bypass cycle");
}

TEST(BoundedWork, RerouteLinkedToItself) {
  ojson ui = ui_graph({reroute(2, 1), save_latent(4, 2)}, {link(1, 2, 0, 2, 0, "*"), link(2, 2, 0, 4, 0, "LATENT")});
  Outcome o = convert_counted(ui);
  EXPECT_NE(o.error.find("circular reference"), std::string::npos) << o.error;
  expect_bounded(o, ui_size(ui), "reroute to self");
}

TEST(BoundedWork, RealNodeLinkedToItselfIsADependencyCycleInValidation) {
  ojson ui = ui_graph({repeat(2, 1), save_latent(4, 2)}, {link(1, 2, 0, 2, 0, "LATENT"), link(2, 2, 0, 4, 0, "LATENT")});
  Outcome o = convert_counted(ui);
  EXPECT_EQ(o.error, "");
  auto r = validate_prompt(o.prompt, graph_test_registry(), RuntimeConfig{});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.to_json().dump().find("DependencyCycleError"), std::string::npos) << r.to_json().dump();
  expect_bounded(o, ui_size(ui), "node to self");
}

TEST(BoundedWork, CycleThroughAGroupNode) {
  // Group G: one inner Reroute; the instance's output is linked back into its own input.
  ojson ui = ui_graph({ojson{{"id", 5}, {"type", "workflow>G"}, {"inputs", {in("x", "*", 1)}},
                             {"outputs", {ojson{{"name", "y"}, {"type", "*"}}}}},
                       save_latent(6, 2)},
                      {link(1, 5, 0, 5, 0, "*"), link(2, 5, 0, 6, 0, "LATENT")});
  ui["extra"] = {{"groupNodes", {{"G", {{"nodes", {ojson{{"type", "Reroute"}, {"index", 0},
                                                          {"inputs", {in("", "*", std::nullopt)}},
                                                          {"outputs", {ojson{{"name", ""}, {"type", "*"}}}}}}},
                                        {"links", ojson::array()}}}}}};
  Outcome o = convert_counted(ui);
  EXPECT_NE(o.error.find("circular reference"), std::string::npos) << o.error;
  expect_bounded(o, ui_size(ui), "group cycle");
}

ojson subgraph_def(const std::string& id, ojson nodes, ojson links, int n_in = 1, int n_out = 1) {
  ojson ins = ojson::array(), outs = ojson::array();
  for (int i = 0; i < n_in; ++i) ins.push_back({{"name", "x" + std::to_string(i)}, {"type", "*"}});
  for (int i = 0; i < n_out; ++i) outs.push_back({{"name", "y" + std::to_string(i)}, {"type", "*"}});
  return ojson{{"id", id}, {"name", id}, {"inputs", ins}, {"outputs", outs}, {"nodes", std::move(nodes)},
               {"links", std::move(links)}};
}
ojson obj_link(int64_t id, int64_t from, int64_t from_slot, int64_t to, int64_t to_slot) {
  return ojson{{"id", id}, {"origin_id", from}, {"origin_slot", from_slot}, {"target_id", to},
               {"target_slot", to_slot}, {"type", "*"}};
}

TEST(BoundedWork, CycleThroughASubgraph) {
  // The definition passes its input straight to its output; the instance feeds itself.
  ojson ui = ui_graph({ojson{{"id", 5}, {"type", "sg"}, {"inputs", {in("x0", "*", 1)}},
                             {"outputs", {ojson{{"name", "y0"}, {"type", "*"}}}}},
                       save_latent(6, 2)},
                      {link(1, 5, 0, 5, 0, "*"), link(2, 5, 0, 6, 0, "LATENT")});
  ui["definitions"] = {{"subgraphs", {subgraph_def("sg", ojson::array(), {obj_link(10, -10, 0, -20, 0)})}}};
  Outcome o = convert_counted(ui);
  EXPECT_NE(o.error.find("circular reference"), std::string::npos) << o.error;
  expect_bounded(o, ui_size(ui), "subgraph cycle");
}

TEST(BoundedWork, SubgraphContainingItselfIsACycleNotAnExpansion) {
  // Definition "sg" holds ten instances of itself: 10^16 scopes if followed to the nesting limit.
  ojson inner = ojson::array();
  for (int i = 1; i <= 10; ++i) inner.push_back(ojson{{"id", i}, {"type", "sg"}, {"inputs", ojson::array()}});
  ojson ui = ui_graph({ojson{{"id", 5}, {"type", "sg"}}, save_latent(6, std::nullopt)}, ojson::array());
  ui["definitions"] = {{"subgraphs", {subgraph_def("sg", inner, ojson::array(), 0, 0)}}};
  Outcome o = convert_counted(ui);
  EXPECT_NE(o.error.find("contains itself"), std::string::npos) << o.error;
  expect_bounded(o, ui_size(ui), "recursive subgraph");
}

TEST(BoundedWork, ExponentialNestingOfDistinctSubgraphsIsRefused) {
  // sg0 holds 8 instances of sg1, which holds 8 of sg2, ... (16 levels): 8^16 nodes from 150 lines.
  ojson defs = ojson::array();
  for (int d = 0; d < 16; ++d) {
    ojson inner = ojson::array();
    for (int i = 1; i <= 8; ++i)
      inner.push_back(d < 15 ? ojson{{"id", i}, {"type", "sg" + std::to_string(d + 1)}} : empty_latent(i));
    defs.push_back(subgraph_def("sg" + std::to_string(d), inner, ojson::array(), 0, 0));
  }
  ojson ui = ui_graph({ojson{{"id", 5}, {"type", "sg0"}}, save_latent(6, std::nullopt)}, ojson::array());
  ui["definitions"] = {{"subgraphs", defs}};
  Outcome o = convert_counted(ui);
  EXPECT_NE(o.error.find("expands to more than"), std::string::npos) << o.error;
  EXPECT_LE(o.steps, kStepsPerElement * 64 * ui_size(ui) + kStepsConstant * 8);
}

TEST(BoundedWork, LegitimateRepeatedSubgraphStillConverts) {
  // One definition of 3 nodes used 50 times: 150 nodes from ~60 nodes + links, well inside the budget.
  ojson root = ojson::array(), links = ojson::array();
  for (int i = 1; i <= 50; ++i) root.push_back(ojson{{"id", i}, {"type", "sg"}});
  root.push_back(save_latent(100, std::nullopt));
  ojson ui = ui_graph(root, links);
  ui["definitions"] = {{"subgraphs", {subgraph_def("sg", {empty_latent(1), empty_latent(2), empty_latent(3)},
                                                   ojson::array(), 0, 0)}}};
  Outcome o = convert_counted(ui);
  EXPECT_EQ(o.error, "");
  EXPECT_TRUE(o.prompt.contains("50:3"));
  expect_bounded(o, ui_size(ui), "repeated subgraph");
}

// A chain of n nodes in the UI format: EmptyLatentImage, then reroute / bypassed / real nodes in turn.
ojson ui_chain(int n) {
  ojson nodes = ojson::array({empty_latent(1)}), links = ojson::array();
  for (int i = 2; i <= n; ++i) {
    links.push_back(link(i - 1, i - 1, 0, i, 0, "LATENT"));
    nodes.push_back(i % 3 == 0 ? reroute(i, i - 1) : repeat(i, i - 1, i % 3 == 1 ? 4 : 0));
  }
  links.push_back(link(n, n, 0, n + 1, 0, "LATENT"));
  nodes.push_back(save_latent(n + 1, n));
  return ui_graph(std::move(nodes), std::move(links));
}

TEST(BoundedWork, HundredThousandNodeUiChainOfReroutesBypassesAndNodes) {
  ojson ui = ui_chain(100000);
  Outcome o = convert_counted(ui);
  EXPECT_EQ(o.error, "");
  EXPECT_TRUE(o.prompt.contains("100001"));
  expect_bounded(o, ui_size(ui), "100k UI chain");
}

TEST(BoundedWork, HundredThousandNodeApiChainValidates) {
  const int n = 100000;
  std::string text = R"({"0": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}})";
  for (int i = 1; i < n; ++i)
    text += ",\"" + std::to_string(i) + R"(": {"class_type": "RepeatLatentBatch", "inputs": {"samples": [")" +
            std::to_string(i - 1) + R"(", 0], "amount": 1}})";
  text += R"(, "out": {"class_type": "SaveLatent", "inputs": {"filename_prefix": "x", "samples": [")" +
          std::to_string(n - 1) + R"(", 0]}}})";
  Prompt p = parse_json_text(text, "chain.json");
  auto r = validate_prompt(p, graph_test_registry(), RuntimeConfig{});
  EXPECT_TRUE(r.all_ok());
  EXPECT_LE(r.work_steps, kStepsPerElement * uint64_t(2 * n) + kStepsConstant) << r.work_steps;
}

TEST(BoundedWork, ManyConsumersBehindALongRerouteChainResolveOnce) {
  // n reroutes in a row, then n SaveLatent nodes all reading the last one: n^2 hops if each consumer
  // walked the chain again.
  const int n = 3000;
  ojson nodes = ojson::array({empty_latent(1)}), links = ojson::array();
  for (int i = 2; i <= n; ++i) {
    nodes.push_back(reroute(i, i - 1));
    links.push_back(link(i - 1, i - 1, 0, i, 0, "*"));
  }
  for (int k = 0; k < n; ++k) {
    const int id = n + 1 + k;
    nodes.push_back(save_latent(id, id));
    links.push_back(link(id, n, 0, id, 0, "LATENT"));
  }
  ojson ui = ui_graph(std::move(nodes), std::move(links));
  Outcome o = convert_counted(ui);
  EXPECT_EQ(o.error, "");
  EXPECT_EQ(o.prompt[std::to_string(2 * n)]["inputs"]["samples"], ojson::array({"1", 0}));
  expect_bounded(o, ui_size(ui), "fan-out behind a chain");
}

TEST(BoundedWork, NodeWithManySocketsConvertsInLinearSteps) {
  // An unknown node type with 20 000 input sockets, each linked from the latent.
  const int n = 20000;
  ojson ins = ojson::array(), links = ojson::array();
  for (int i = 0; i < n; ++i) {
    ins.push_back(in("in" + std::to_string(i), "LATENT", i + 1));
    links.push_back(link(i + 1, 1, 0, 2, i, "LATENT"));
  }
  ojson ui = ui_graph({empty_latent(1), node(2, "SomeCustomNode", ins)}, links);
  Outcome o = convert_counted(ui);
  EXPECT_EQ(o.prompt["2"]["inputs"].size(), size_t(n));
  expect_bounded(o, ui_size(ui), "many sockets");
}

}  // namespace
}  // namespace comfy::test
