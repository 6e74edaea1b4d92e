// Executor behaviour (workflow-execution.md section 8) on small test-only nodes: which nodes run, the
// order, hidden inputs, errors, caching across runs, lists, interrupts and events.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <stdexcept>

#include "comfy/core/error.hpp"
#include "comfy/exec/executor.hpp"

using namespace comfy;
using ojson = nlohmann::ordered_json;

namespace {

// Every call of a test node is logged (class + node id) so tests can count and order executions.
struct Log {
  std::vector<std::string> calls;  // node ids in call order
  std::map<std::string, int> per_node;
  void add(const std::string& id) { calls.push_back(id); per_node[id]++; }
};

Log* g_log = nullptr;

Registry make_registry() {
  Registry r;
  // Const: value INT -> INT
  r.add({NodeSchema("Const").int_("value", 0, -1000000, 1000000).output("INT"),
         [](const NodeInputs& in, ExecContext& ctx) {
           g_log->add(ctx.node_id);
           return NodeOutput{{in.get("value")}};
         }});
  // Add: a + b (b optional)
  r.add({NodeSchema("Add").input("a", "INT").optional().input("b", "INT").output("INT"),
         [](const NodeInputs& in, ExecContext& ctx) {
           g_log->add(ctx.node_id);
           int64_t v = in.i64("a") + (in.has("b") ? in.i64("b") : 0);
           return NodeOutput{{Value(v)}};
         }});
  // Sink: output node with a UI payload {"values": [a]}
  r.add({NodeSchema("Sink").output_node_().input("a", "INT"),
         [](const NodeInputs& in, ExecContext& ctx) {
           g_log->add(ctx.node_id);
           NodeOutput o;
           o.ui = {{"values", nlohmann::json::array({int64_t(in.i64("a"))})}};
           return o;
         }});
  // Hidden: records what the hidden inputs carried
  r.add({NodeSchema("Hidden").output_node_().input("a", "INT").hidden()
             .hidden_input("prompt", "PROMPT").hidden_input("extra_pnginfo", "EXTRA_PNGINFO").hidden_input("unique_id", "UNIQUE_ID"),
         [](const NodeInputs& in, ExecContext& ctx) {
           g_log->add(ctx.node_id);
           NodeOutput o;
           o.ui = {{"unique_id", in.str("unique_id")},
                   {"prompt_has_self", ctx.prompt && ctx.prompt->contains(ctx.node_id)},
                   {"pnginfo", ctx.extra_pnginfo ? *ctx.extra_pnginfo : nlohmann::json(nullptr)}};
           return o;
         }});
  r.add({NodeSchema("Fail").input("a", "INT").output("INT"),
         [](const NodeInputs& in, ExecContext& ctx) -> NodeOutput {
           g_log->add(ctx.node_id);
           if (in.i64("a") == 1) fail("a", "a must not be 1");
           throw std::runtime_error("plain exception");
         }});
  NodeSchema random("Random");
  random.not_idempotent_().output("INT");
  r.add({random, [](const NodeInputs&, ExecContext& ctx) {
           g_log->add(ctx.node_id);
           return NodeOutput{{Value(int64_t(g_log->calls.size()))}};
         }});
  // Range: OUTPUT_IS_LIST — count INT -> [0 .. count-1]
  r.add({NodeSchema("Range").int_("count", 3, 1, 100).output("INT", "INT", true),
         [](const NodeInputs& in, ExecContext& ctx) {
           g_log->add(ctx.node_id);
           auto l = std::make_shared<ValueList>();
           for (int64_t i = 0; i < in.i64("count"); ++i) l->items.push_back(Value(i));
           return NodeOutput{{Value(l)}};
         }});
  // SumList: INPUT_IS_LIST — sums a whole list in one call
  NodeSchema sum("SumList");
  sum.input("a", "INT").output("INT");
  sum.input_is_list = true;
  r.add({sum, [](const NodeInputs& in, ExecContext& ctx) {
           g_log->add(ctx.node_id);
           int64_t s = 0;
           for (auto& v : in.list("a")) s += v.as_i64();
           return NodeOutput{{Value(s)}};
         }});
  // Progress: reports 3 steps, checks the interrupt flag at each
  r.add({NodeSchema("Steps").input("a", "INT").output("INT"),
         [](const NodeInputs& in, ExecContext& ctx) {
           g_log->add(ctx.node_id);
           for (int i = 0; i < 3; ++i) {
             if (ctx.interrupted()) throw Error("interrupted", "Processing interrupted");
             ctx.progress(i + 1, 3);
           }
           return NodeOutput{{in.get("a")}};
         }});
  return r;
}

ojson node(const std::string& cls, ojson inputs) { return {{"class_type", cls}, {"inputs", std::move(inputs)}}; }
ojson link(const std::string& id, int slot = 0) { return ojson::array({id, slot}); }

struct ExecutorTest : ::testing::Test {
  Log log;
  Registry reg = (g_log = &log, make_registry());
  std::vector<Event> events;
  Executor ex{reg, RuntimeConfig{}, [this](const Event& e) { events.push_back(e); }};
  std::vector<std::string> types() const {
    std::vector<std::string> t;
    for (auto& e : events) t.push_back(e.type);
    return t;
  }
  void TearDown() override { g_log = nullptr; }
};

}  // namespace

TEST_F(ExecutorTest, RunsOnlyNodesFeedingTheOutputs) {
  Prompt p;
  p["1"] = node("Const", {{"value", 5}});
  p["2"] = node("Const", {{"value", 7}});  // feeds nothing
  p["3"] = node("Add", {{"a", link("1")}});
  p["4"] = node("Sink", {{"a", link("3")}});
  auto r = ex.execute(p, {"4"});
  EXPECT_EQ(log.per_node.count("2"), 0u);
  EXPECT_EQ(log.calls, (std::vector<std::string>{"1", "3", "4"}));
  EXPECT_EQ(r.ui_outputs["4"]["values"][0], 5);
  EXPECT_EQ(r.stats.executed, 3);
}

TEST_F(ExecutorTest, SharedProducerRunsOnceAndOptionalInputIsOmitted) {
  Prompt p;
  p["1"] = node("Const", {{"value", 2}});
  p["2"] = node("Add", {{"a", link("1")}, {"b", link("1")}});
  p["3"] = node("Add", {{"a", link("1")}});  // b absent: omitted, not None
  p["4"] = node("Add", {{"a", link("2")}, {"b", link("3")}});
  p["5"] = node("Sink", {{"a", link("4")}});
  auto r = ex.execute(p, {"5"});
  EXPECT_EQ(log.per_node["1"], 1);
  EXPECT_EQ(r.ui_outputs["5"]["values"][0], 6);  // (2+2) + 2
}

TEST_F(ExecutorTest, PicksNodesFeedingOutputsFirst) {
  // Pending order after add_node(O) is O, Q, P, R; ready = {Q, R}; Q feeds the output directly, so
  // ComfyUI's ux_friendly_pick_node runs Q before R (a plain depth-first order would run R, P, Q).
  Prompt p;
  p["R"] = node("Const", {{"value", 1}});
  p["P"] = node("Add", {{"a", link("R")}});
  p["Q"] = node("Const", {{"value", 2}});
  p["O"] = node("Hidden", {{"a", link("P")}, {"unused", link("Q")}});
  // "unused" is undeclared: a link there still makes Q a dependency in ComfyUI's graph walk
  ex.execute(p, {"O"});
  EXPECT_EQ(log.calls, (std::vector<std::string>{"Q", "R", "P", "O"}));
}

TEST_F(ExecutorTest, OutputNodesRunAsSoonAsTheyAreReady) {
  // Two outputs: O1 <- A, O2 <- C <- B. Once A ran, O1 is ready and runs before B.
  Prompt p;
  p["A"] = node("Const", {{"value", 1}});
  p["B"] = node("Const", {{"value", 2}});
  p["C"] = node("Add", {{"a", link("B")}});
  p["O1"] = node("Sink", {{"a", link("A")}});
  p["O2"] = node("Sink", {{"a", link("C")}});
  ex.execute(p, {"O1", "O2"});
  EXPECT_EQ(log.calls, (std::vector<std::string>{"A", "O1", "B", "C", "O2"}));
}

TEST_F(ExecutorTest, FillsHiddenInputs) {
  Prompt p;
  p["1"] = node("Const", {{"value", 3}});
  p["9"] = node("Hidden", {{"a", link("1")}});
  nlohmann::json pnginfo = {{"workflow", {{"nodes", nlohmann::json::array()}}}};
  auto r = ex.execute(p, {"9"}, pnginfo);
  EXPECT_EQ(r.ui_outputs["9"]["unique_id"], "9");
  EXPECT_EQ(r.ui_outputs["9"]["prompt_has_self"], true);
  EXPECT_EQ(r.ui_outputs["9"]["pnginfo"], pnginfo);
}

TEST_F(ExecutorTest, NodeErrorsNameNodeClassAndInput) {
  Prompt p;
  p["1"] = node("Const", {{"value", 1}});
  p["2"] = node("Fail", {{"a", link("1")}});
  p["3"] = node("Sink", {{"a", link("2")}});
  try {
    ex.execute(p, {"3"});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.type, "execution_error");
    EXPECT_EQ(e.node_id, "2");
    EXPECT_EQ(e.class_type, "Fail");
    EXPECT_EQ(e.input_name, "a");
    EXPECT_NE(std::string(e.what()).find("a must not be 1"), std::string::npos);
  }
  EXPECT_EQ(log.per_node.count("3"), 0u);  // processing stops at the failure
  ASSERT_FALSE(events.empty());
  auto it = std::find_if(events.begin(), events.end(), [](const Event& e) { return e.type == "execution_error"; });
  ASSERT_NE(it, events.end());
  EXPECT_EQ(it->data["node_id"], "2");
  EXPECT_EQ(it->data["node_type"], "Fail");
  EXPECT_EQ(it->data["executed"], nlohmann::json::array({"1"}));
  EXPECT_EQ(it->data["current_inputs"]["a"], nlohmann::json::array({1}));
  EXPECT_EQ(events.back().type, "executing");
  EXPECT_TRUE(events.back().data["node"].is_null());
}

TEST_F(ExecutorTest, PlainExceptionsBecomeExecutionErrors) {
  Prompt p;
  p["1"] = node("Const", {{"value", 2}});
  p["2"] = node("Fail", {{"a", link("1")}});
  p["3"] = node("Sink", {{"a", link("2")}});
  try {
    ex.execute(p, {"3"});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.type, "execution_error");
    EXPECT_EQ(e.node_id, "2");
    EXPECT_EQ(e.class_type, "Fail");
    EXPECT_STREQ(e.what(), "plain exception");
  }
  // What finished stays cached: the next run does not re-run node 1.
  p["2"]["inputs"]["a"] = link("1");
  log.calls.clear();
  EXPECT_THROW(ex.execute(p, {"3"}), Error);
  EXPECT_EQ(log.calls, (std::vector<std::string>{"2"}));
}

TEST_F(ExecutorTest, RerunReusesEverythingAndResendsOutputs) {
  Prompt p;
  p["1"] = node("Const", {{"value", 4}});
  p["2"] = node("Add", {{"a", link("1")}});
  p["3"] = node("Sink", {{"a", link("2")}});
  ex.execute(p, {"3"});
  events.clear();
  auto r = ex.execute(p, {"3"});
  EXPECT_EQ(r.stats.executed, 0);
  EXPECT_EQ(r.stats.cached, 1);  // only the output node is visited; its ancestors are not even scheduled
  EXPECT_EQ(log.calls.size(), 3u);
  EXPECT_EQ(r.ui_outputs["3"]["values"][0], 4);
  std::vector<std::string> t = types();
  EXPECT_EQ(t, (std::vector<std::string>{"execution_start", "execution_cached", "executed", "execution_success", "executing"}));
  EXPECT_EQ(events[1].data["nodes"].size(), 3u);
  EXPECT_EQ(ex.lifetime_stats().executed, 3);
}

TEST_F(ExecutorTest, ChangedInputRerunsOnlyThatNodeAndItsDependents) {
  Prompt p;
  p["1"] = node("Const", {{"value", 1}});
  p["2"] = node("Const", {{"value", 10}});
  p["3"] = node("Add", {{"a", link("1")}});
  p["4"] = node("Add", {{"a", link("2")}, {"b", link("3")}});
  p["5"] = node("Add", {{"a", link("2")}});
  p["6"] = node("Sink", {{"a", link("4")}});
  p["7"] = node("Sink", {{"a", link("5")}});
  ex.execute(p, {"6", "7"});
  EXPECT_EQ(log.calls.size(), 7u);
  log = Log{};
  p["1"]["inputs"]["value"] = 2;
  auto r = ex.execute(p, {"6", "7"});
  std::map<std::string, int> expected{{"1", 1}, {"3", 1}, {"4", 1}, {"6", 1}};
  EXPECT_EQ(log.per_node, expected);
  EXPECT_EQ(r.stats.executed, 4);
  EXPECT_EQ(r.ui_outputs["6"]["values"][0], 12);
  EXPECT_EQ(r.ui_outputs["7"]["values"][0], 10);  // re-sent from the cache
}

TEST_F(ExecutorTest, IdenticalNodesShareOneResultUnlessNotIdempotent) {
  Prompt p;
  p["1"] = node("Const", {{"value", 3}});
  p["2"] = node("Const", {{"value", 3}});  // same class and inputs as 1
  p["3"] = node("Random", ojson::object());
  p["4"] = node("Random", ojson::object());
  p["5"] = node("Add", {{"a", link("1")}, {"b", link("2")}});
  p["6"] = node("Add", {{"a", link("3")}, {"b", link("4")}});
  p["7"] = node("Sink", {{"a", link("5")}});
  p["8"] = node("Sink", {{"a", link("6")}});
  auto r = ex.execute(p, {"7", "8"});
  EXPECT_EQ(log.per_node.count("1") + log.per_node.count("2"), 1u);
  EXPECT_EQ(log.per_node["3"], 1);
  EXPECT_EQ(log.per_node["4"], 1);
  EXPECT_EQ(r.ui_outputs["7"]["values"][0], 6);
}

TEST_F(ExecutorTest, IsChangedControlsReuse) {
  std::string token = "a";
  int throws = 0;
  NodeDef d{NodeSchema("Volatile").int_("value", 0, 0, 10).output("INT"), [](const NodeInputs& in, ExecContext& ctx) {
              g_log->add(ctx.node_id);
              return NodeOutput{{in.get("value")}};
            }};
  d.is_changed = [&](const NodeInputs& in, const RuntimeConfig&) -> std::string {
    if (throws) throw std::runtime_error("cannot tell");
    return token + std::to_string(int64_t(in.i64("value")));
  };
  reg.add(d);
  Prompt p;
  p["1"] = node("Volatile", {{"value", 1}});
  p["2"] = node("Sink", {{"a", link("1")}});
  ex.execute(p, {"2"});
  ex.execute(p, {"2"});
  EXPECT_EQ(log.calls.size(), 2u);  // unchanged token: reused
  token = "b";
  ex.execute(p, {"2"});
  EXPECT_EQ(log.calls.size(), 4u);  // new token: node and its consumer re-run
  throws = 1;
  ex.execute(p, {"2"});
  ex.execute(p, {"2"});
  EXPECT_EQ(log.calls.size(), 8u);  // an exception means "never cached"
}

TEST_F(ExecutorTest, ListOutputsMapDownstreamNodesAndListInputsSeeWholeLists) {
  Prompt p;
  p["1"] = node("Range", {{"count", 4}});
  p["2"] = node("Const", {{"value", 10}});
  p["3"] = node("Add", {{"a", link("1")}, {"b", link("2")}});  // called 4 times, b repeats
  p["4"] = node("SumList", {{"a", link("3")}});               // one call: 10+11+12+13
  p["5"] = node("Sink", {{"a", link("4")}});
  p["6"] = node("Sink", {{"a", link("3")}});                  // called 4 times; UI lists merged
  auto r = ex.execute(p, {"5", "6"});
  EXPECT_EQ(log.per_node["3"], 4);
  EXPECT_EQ(log.per_node["4"], 1);
  EXPECT_EQ(log.per_node["6"], 4);
  EXPECT_EQ(r.ui_outputs["5"]["values"], nlohmann::json::array({46}));
  EXPECT_EQ(r.ui_outputs["6"]["values"], nlohmann::json::array({10, 11, 12, 13}));
}

TEST_F(ExecutorTest, LongChainsRunIteratively) {
  Prompt p;
  const int n = 5000;
  p["0"] = node("Const", {{"value", 0}});
  for (int i = 1; i < n; ++i) p[std::to_string(i)] = node("Add", {{"a", link(std::to_string(i - 1))}});
  p["out"] = node("Sink", {{"a", link(std::to_string(n - 1))}});
  auto r = ex.execute(p, {"out"});
  EXPECT_EQ(r.stats.executed, n + 1);
  p["0"]["inputs"]["value"] = 1;
  r = ex.execute(p, {"out"});
  EXPECT_EQ(r.stats.executed, n + 1);
  EXPECT_EQ(r.ui_outputs["out"]["values"][0], 1);
}

// Ordering work is bounded by nodes + links (issue 14 item 2): ExecutionStats::schedule_steps counts
// the scheduler's steps (ready-set updates, consumer walks), so wide graphs with thousands of ready
// nodes do not make each pick scan them all.
TEST_F(ExecutorTest, WideGraphsScheduleInStepsLinearInNodesAndLinks) {
  const int n = 10000;
  // n independent Const -> Add -> Sink triples: all n Consts are ready at once
  Prompt p;
  std::vector<std::string> outs;
  for (int i = 0; i < n; ++i) {
    const std::string k = std::to_string(i);
    p["c" + k] = node("Const", {{"value", i}});
    p["a" + k] = node("Add", {{"a", link("c" + k)}});
    p["s" + k] = node("Sink", {{"a", link("a" + k)}});
    outs.push_back("s" + k);
  }
  auto r = ex.execute(p, outs);
  const int64_t size = 3 * n + 2 * n;  // nodes + links
  EXPECT_EQ(r.stats.executed, 3 * n);
  EXPECT_LE(r.stats.schedule_steps, 10 * size) << "steps for " << size << " nodes + links";
  // ComfyUI's pick: only Consts are ready at first (two steps from an output); each one's Add then
  // feeds an output and its Sink is an output, so every triple finishes before the next starts.
  ASSERT_EQ(log.calls.size(), size_t(3 * n));
  for (int i : {0, 1, n / 2, n - 1}) {
    const std::string k = std::to_string(i);
    EXPECT_EQ(log.calls[size_t(3 * i)], "c" + k);
    EXPECT_EQ(log.calls[size_t(3 * i + 1)], "a" + k);
    EXPECT_EQ(log.calls[size_t(3 * i + 2)], "s" + k);
  }
  // one producer with n consumers, each an output; and an Add fed twice by the same producer
  Prompt q;
  q["src"] = node("Const", {{"value", 3}});
  q["twice"] = node("Add", {{"a", link("src")}, {"b", link("src")}});
  std::vector<std::string> q_outs{"t"};
  q["t"] = node("Sink", {{"a", link("twice")}});
  for (int i = 0; i < n; ++i) {
    q["o" + std::to_string(i)] = node("Sink", {{"a", link("src")}});
    q_outs.push_back("o" + std::to_string(i));
  }
  r = ex.execute(q, q_outs);
  EXPECT_EQ(r.ui_outputs["t"]["values"][0], 6);
  EXPECT_LE(r.stats.schedule_steps, 10 * (2 * (n + 3)));
}

TEST_F(ExecutorTest, CycleIsReported) {
  Prompt p;
  p["1"] = node("Add", {{"a", link("2")}});
  p["2"] = node("Add", {{"a", link("1")}});
  p["3"] = node("Sink", {{"a", link("2")}});
  try {
    ex.execute(p, {"3"});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.extra_info.value("exception_type", ""), "graph.DependencyCycleError");
    EXPECT_NE(std::string(e.what()).find("cycle"), std::string::npos);
  }
  EXPECT_TRUE(log.calls.empty());
}

TEST_F(ExecutorTest, DanglingLinkNamesNodeAndInput) {
  Prompt p;
  p["1"] = node("Add", {{"a", link("42")}});
  p["3"] = node("Sink", {{"a", link("1")}});
  try {
    ex.execute(p, {"3"});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.node_id, "1");
    EXPECT_EQ(e.input_name, "a");
    EXPECT_NE(std::string(e.what()).find("'42'"), std::string::npos);
  }
}

TEST_F(ExecutorTest, InterruptStopsBeforeTheNextNode) {
  std::atomic<bool> flag{false};
  RuntimeConfig cfg;
  cfg.interrupt = &flag;
  Executor ex2(reg, cfg, [&](const Event& e) {
    events.push_back(e);
    if (e.type == "progress" && e.data["value"] == 2) flag = true;  // "SIGINT" during the sampler
  });
  Prompt p;
  p["1"] = node("Const", {{"value", 1}});
  p["2"] = node("Steps", {{"a", link("1")}});
  p["3"] = node("Sink", {{"a", link("2")}});
  try {
    ex2.execute(p, {"3"});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.type, "interrupted");
    EXPECT_EQ(e.node_id, "2");
  }
  EXPECT_EQ(log.per_node.count("3"), 0u);
  auto t = types();
  EXPECT_NE(std::find(t.begin(), t.end(), "execution_interrupted"), t.end());
  EXPECT_EQ(std::find(t.begin(), t.end(), "execution_success"), t.end());
}

TEST_F(ExecutorTest, EventsFollowComfyUIsSequence) {
  Prompt p;
  p["1"] = node("Const", {{"value", 1}});
  p["2"] = node("Steps", {{"a", link("1")}});
  p["3"] = node("Sink", {{"a", link("2")}});
  ex.execute(p, {"3"});
  std::vector<std::string> expected{"execution_start", "execution_cached", "executing", "executing", "progress", "progress",
                                    "progress", "executing", "executed", "execution_success", "executing"};
  EXPECT_EQ(types(), expected);
  std::string pid = events[0].data["prompt_id"];
  for (auto& e : events) EXPECT_EQ(e.data["prompt_id"], pid) << e.type;
  EXPECT_EQ(events[2].data["node"], "1");
  EXPECT_EQ(events[4].data["node"], "2");
  EXPECT_EQ(events[4].data["value"], 1);
  EXPECT_EQ(events[4].data["max"], 3);
  EXPECT_EQ(events[8].data["output"]["values"][0], 1);
}

TEST_F(ExecutorTest, ServeOptionsSetThePromptIdAndAddProgressState) {
  Prompt p;
  p["1"] = node("Const", {{"value", 1}});
  p["2"] = node("Steps", {{"a", link("1")}});
  p["3"] = node("Sink", {{"a", link("2")}});
  ExecuteOptions opt;
  opt.prompt_id = "client-chosen";
  opt.progress_state = true;
  ex.execute(p, {"3"}, opt);
  // ComfyUI's order (shared/server-traces/01_txt2img.json): state on node start, before each progress,
  // and "finished" after the node (after its `executed`).
  std::vector<std::string> expected{"execution_start", "execution_cached",
                                    "progress_state", "executing", "progress_state",
                                    "progress_state", "executing", "progress_state", "progress", "progress_state", "progress",
                                    "progress_state", "progress", "progress_state",
                                    "progress_state", "executing", "executed", "progress_state",
                                    "execution_success", "executing"};
  EXPECT_EQ(types(), expected);
  for (auto& e : events) EXPECT_EQ(e.data["prompt_id"], "client-chosen") << e.type;
  const auto& last_state = events[17].data["nodes"];
  ASSERT_EQ(last_state.size(), 3u);
  EXPECT_EQ(last_state["2"]["state"], "finished");
  EXPECT_EQ(last_state["2"]["value"], 3.0);
  EXPECT_EQ(last_state["2"]["max"], 3.0);
  EXPECT_EQ(last_state["3"]["node_id"], "3");
  EXPECT_TRUE(last_state["3"]["parent_node_id"].is_null());
  EXPECT_EQ(events[7].data["nodes"]["2"]["value"], 1.0);  // the step's state precedes its progress
  EXPECT_EQ(events[7].data["nodes"]["2"]["state"], "running");

  // A re-run: everything cached, the output node replays `executed` and is reported finished.
  events.clear();
  opt.prompt_id = "second";
  ex.execute(p, {"3"}, opt);
  EXPECT_EQ(types(), (std::vector<std::string>{"execution_start", "execution_cached", "executed", "progress_state",
                                               "execution_success", "executing"}));
  EXPECT_EQ(events[1].data["nodes"], nlohmann::json::array({"1", "2", "3"}));  // prompt key order
}
