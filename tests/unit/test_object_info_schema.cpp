// Schemas read from ComfyUI's /object_info (custom nodes' widget mapping): the real server's entries
// recorded in ../shared/server-traces map to the widget layout the frontend builds, and every built-in
// schema survives to_object_info -> schema_from_object_info -> to_object_info unchanged.
#include <gtest/gtest.h>

#include <fstream>

#include "comfy/graph/object_info.hpp"
#include "comfy/graph/workflow.hpp"
#include "test_util.hpp"

using namespace comfy;
using ojson = nlohmann::ordered_json;
namespace fs = std::filesystem;

namespace {

// /object_info/<CLASS> answers recorded from the real ComfyUI server.
ojson recorded_object_info() {
  std::ifstream f(test::shared_dir() / "server-traces" / "06_get_routes.json");
  ojson trace = ojson::parse(f);
  ojson all = ojson::object();
  for (auto& ex : trace["exchanges"]) {
    const std::string path = ex["request"]["path"];
    if (path.rfind("/object_info/", 0) == 0 && ex["response"].contains("json"))
      for (auto& [k, v] : ex["response"]["json"].items()) all[k] = v;
  }
  return all;
}

std::vector<std::string> layout_names(const NodeSchema& s) {
  std::vector<std::string> out;
  for (auto& w : widget_layout(s))
    out.push_back(w.kind == WidgetSlot::Value ? w.name : w.kind == WidgetSlot::Control ? "<control>" : "<upload>");
  return out;
}

}  // namespace

TEST(ObjectInfoSchema, RecordedKSamplerMapsToTheFrontendsWidgetLayout) {
  ojson info = recorded_object_info();
  ASSERT_TRUE(info.contains("KSampler"));
  NodeSchema s = schema_from_object_info("KSampler", info["KSampler"]);
  EXPECT_EQ(layout_names(s), (std::vector<std::string>{"seed", "<control>", "steps", "cfg", "sampler_name", "scheduler",
                                                       "denoise"}));
  EXPECT_EQ(s.outputs.size(), 1u);
  EXPECT_EQ(s.outputs[0].type, "LATENT");
  // Options read back as the server sent them (the seed's max is 2^64-1, beyond int64).
  EXPECT_EQ(s.to_object_info()["input"]["required"]["seed"], nlohmann::json(info["KSampler"]["input"]["required"]["seed"]));
}

TEST(ObjectInfoSchema, RecordedLoadImageHasItsUploadWidget) {
  ojson info = recorded_object_info();
  ASSERT_TRUE(info.contains("LoadImage"));
  NodeSchema s = schema_from_object_info("LoadImage", info["LoadImage"]);
  EXPECT_EQ(layout_names(s), (std::vector<std::string>{"image", "<upload>"}));
}

TEST(ObjectInfoSchema, EveryBuiltInSchemaRoundTrips) {
  for (auto& [name, def] : Registry::global().all()) {
    const nlohmann::json first = def.schema.to_object_info();
    NodeSchema back = schema_from_object_info(name, ojson(first));
    EXPECT_EQ(back.to_object_info(), first) << name;
    EXPECT_EQ(layout_names(back), layout_names(def.schema)) << name;
  }
}

TEST(ObjectInfoSchema, CustomNodeWorkflowConvertsWithTheReadSchemas) {
  // The fuzz seed: a custom sampler with a seed-like INT (no control flag: named noise_seed), a combo
  // with control_after_generate, a forceInput INT, a promoted text widget fed by a PrimitiveNode.
  std::ifstream f(test::source_dir() / "tests/fuzz/corpus/ui_schema/custom_nodes.json");
  ojson doc = ojson::parse(f);
  Registry reg;
  EXPECT_EQ(add_object_info_nodes(reg, doc["object_info"]), 2u);
  Prompt p = convert_ui_to_api(doc["workflow"], reg, ConvertOptions{});
  const ojson& in = p["2"]["inputs"];
  EXPECT_EQ(in["noise_seed"], 7);
  EXPECT_EQ(in["mode"], "slow");           // after noise_seed's control value
  EXPECT_EQ(in["strength"], 0.25);         // after mode's control value
  EXPECT_EQ(in["steps"], ojson::array({"1", 0}));  // forceInput: a socket, no widget value
  EXPECT_EQ(in["text"], "from a primitive");
  EXPECT_EQ(in["enabled"], false);
  EXPECT_EQ(in["scale"], "4x");
  EXPECT_EQ(p["1"]["inputs"]["start"], 3);
}

TEST(ObjectInfoSchema, MalformedEntriesNameTheClassAndInput) {
  auto msg = [](const char* text) {
    try {
      schema_from_object_info("Bad", ojson::parse(text));
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  EXPECT_EQ(msg(R"({"input": {"required": {"x": 5}}})"),
            "object_info for Bad: input 'x' must be [TYPE] or [TYPE, {options}]");
  EXPECT_EQ(msg(R"({"input": {"required": {"x": [["a", {}]]}}})"),
            "object_info for Bad: input 'x': combo choices must be strings or numbers");
  EXPECT_EQ(msg(R"({"output": "LATENT"})"), "object_info for Bad: 'output' must be a list");
  EXPECT_EQ(msg(R"([])"), "object_info for Bad: the entry must be an object");
}
