// Text and conditioning nodes: schemas as ComfyUI declares them (workflow-nodes-files.md 9.4-9.8)
// and the conditioning-list behaviour of Combine / SetArea / ZeroOut / CLIPSetLastLayer.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "comfy/core/node.hpp"
#include "comfy/core/types.hpp"
#include "comfy/models/clip.hpp"

using namespace comfy;

namespace {
const NodeDef& node(const std::string& cls) {
  const NodeDef* d = Registry::global().find(cls);
  if (!d) throw std::runtime_error("node not registered: " + cls);
  return *d;
}
NodeOutput run(const std::string& cls, std::map<std::string, Value> values) {
  NodeInputs in;
  in.values = std::move(values);
  ExecContext ctx;
  ctx.class_type = cls;
  return node(cls).execute(in, ctx);
}
std::shared_ptr<Conditioning> cond_of(std::vector<float> first_values) {
  auto c = std::make_shared<Conditioning>();
  for (float v : first_values) {
    CondEntry e;
    e.cross_attn = at::full({1, 77, 8}, v);
    e.pooled_output = at::full({1, 8}, v);
    c->entries.push_back(e);
  }
  return c;
}
std::vector<std::string> input_names(const NodeSchema& s) {
  std::vector<std::string> n;
  for (const auto& i : s.inputs) n.push_back(i.name);
  return n;
}

struct CountingEncoder : TextEncoder {
  std::vector<std::pair<std::string, std::optional<int64_t>>> calls;
  std::vector<CondEntry> encode(const std::string& text, std::optional<int64_t> layer_idx) override {
    calls.emplace_back(text, layer_idx);
    CondEntry e;
    e.cross_attn = at::zeros({1, 77, 4});
    return {e};
  }
};
}  // namespace

TEST(ConditioningNodes, SchemasMatchComfyUI) {
  const auto& enc = node("CLIPTextEncode").schema;
  EXPECT_EQ(enc.display_name, "CLIP Text Encode (Prompt)");
  EXPECT_EQ(enc.category, "conditioning");
  EXPECT_EQ(input_names(enc), (std::vector<std::string>{"text", "clip"}));
  EXPECT_TRUE(enc.inputs[0].multiline);
  EXPECT_TRUE(enc.inputs[0].dynamic_prompts);
  EXPECT_EQ(enc.outputs.at(0).type, "CONDITIONING");

  const auto& last = node("CLIPSetLastLayer").schema;
  EXPECT_EQ(last.display_name, "CLIP Set Last Layer");
  EXPECT_EQ(input_names(last), (std::vector<std::string>{"clip", "stop_at_clip_layer"}));
  EXPECT_EQ(last.inputs[1].default_value, -1);
  EXPECT_TRUE(last.inputs[1].int_min == Int(-24) && last.inputs[1].int_max == Int(-1));
  EXPECT_EQ(last.outputs.at(0).type, "CLIP");

  EXPECT_EQ(node("ConditioningCombine").schema.display_name, "Conditioning (Combine)");
  EXPECT_EQ(input_names(node("ConditioningCombine").schema), (std::vector<std::string>{"conditioning_1", "conditioning_2"}));

  const auto& area = node("ConditioningSetArea").schema;
  EXPECT_EQ(area.display_name, "Conditioning (Set Area)");
  EXPECT_EQ(input_names(area), (std::vector<std::string>{"conditioning", "width", "height", "x", "y", "strength"}));
  EXPECT_EQ(area.inputs[1].default_value, 64);
  EXPECT_TRUE(area.inputs[1].int_min == Int(64) && area.inputs[1].int_max == Int(16384));
  EXPECT_EQ(area.inputs[1].step, 8.0);
  EXPECT_EQ(area.inputs[5].default_value, 1.0);
  EXPECT_EQ(area.inputs[5].float_max, 10.0);

  const auto& zero = node("ConditioningZeroOut").schema;
  EXPECT_EQ(zero.category, "advanced/conditioning");
  EXPECT_EQ(input_names(zero), (std::vector<std::string>{"conditioning"}));
}

TEST(ConditioningCombine, ConcatenatesFirstThenSecond) {
  auto out = run("ConditioningCombine", {{"conditioning_1", Value(cond_of({1, 2}))}, {"conditioning_2", Value(cond_of({3}))}});
  auto c = out.values.at(0).as<Conditioning>();
  ASSERT_EQ(c->entries.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(c->entries[i].cross_attn[0][0][0].item<float>(), float(i + 1));
}

TEST(ConditioningSetArea, SetsAreaInLatentUnitsOnEveryEntry) {
  auto in = cond_of({1, 2});
  auto out = run("ConditioningSetArea", {{"conditioning", Value(in)}, {"width", Value(int64_t(516))},
                                         {"height", Value(int64_t(320))}, {"x", Value(int64_t(64))},
                                         {"y", Value(int64_t(15))}, {"strength", Value(0.5)}});
  auto c = out.values.at(0).as<Conditioning>();
  ASSERT_EQ(c->entries.size(), 2u);
  for (const auto& e : c->entries) {
    ASSERT_TRUE(e.area.has_value());
    EXPECT_EQ(e.area->height, 40);
    EXPECT_EQ(e.area->width, 64);  // 516 // 8
    EXPECT_EQ(e.area->y, 1);       // 15 // 8
    EXPECT_EQ(e.area->x, 8);
    EXPECT_EQ(e.strength, 0.5);
    EXPECT_FALSE(e.set_area_to_bounds);
  }
  EXPECT_FALSE(in->entries[0].area.has_value()) << "the input conditioning must not change";
}

TEST(ConditioningZeroOut, ZerosTensorAndPooledKeepsOtherKeys) {
  auto in = cond_of({3});
  in->entries[0].strength = 0.7;
  in->entries[0].extra["conditioning_lyrics"] = Value(at::ones({2}));
  auto out = run("ConditioningZeroOut", {{"conditioning", Value(in)}});
  const auto& e = out.values.at(0).as<Conditioning>()->entries.at(0);
  EXPECT_TRUE(at::equal(e.cross_attn, at::zeros({1, 77, 8})));
  EXPECT_TRUE(at::equal(*e.pooled_output, at::zeros({1, 8})));
  EXPECT_TRUE(at::equal(e.extra.at("conditioning_lyrics").as_tensor(), at::zeros({2})));
  EXPECT_EQ(e.strength, 0.7);
  EXPECT_EQ(in->entries[0].cross_attn[0][0][0].item<float>(), 3.0f);
}

TEST(ClipNodes, SetLastLayerClonesAndTextEncodeUsesTheLayer) {
  auto enc = std::make_shared<CountingEncoder>();
  auto clip = std::make_shared<Clip>();
  clip->encoder = enc;
  auto skipped = run("CLIPSetLastLayer", {{"clip", Value(clip)}, {"stop_at_clip_layer", Value(int64_t(-2))}})
                     .values.at(0).as<Clip>();
  EXPECT_EQ(skipped->layer_idx, -2);
  EXPECT_EQ(clip->layer_idx, std::nullopt) << "the input CLIP must not change (family default layer)";
  EXPECT_EQ(skipped->encoder, clip->encoder) << "weights are shared, not copied";
  auto c = run("CLIPTextEncode", {{"text", Value("a cat")}, {"clip", Value(skipped)}}).values.at(0).as<Conditioning>();
  EXPECT_EQ(c->entries.size(), 1u);
  ASSERT_EQ(enc->calls.size(), 1u);
  EXPECT_EQ(enc->calls[0].first, "a cat");
  EXPECT_EQ(enc->calls[0].second, std::optional<int64_t>(-2));
}

TEST(ClipNodes, TextEncodeWithoutClipFailsClearly) {
  try {
    run("CLIPTextEncode", {{"text", Value("a cat")}, {"clip", Value()}});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("clip input is invalid: None"), std::string::npos) << e.what();
    EXPECT_EQ(e.input_name, "clip");
  }
}
