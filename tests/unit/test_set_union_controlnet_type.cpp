// SetUnionControlNetType (comfy_extras/nodes_controlnet.py): extra_args["control_type"] from
// comfy/cldm/control_types.py's UNION_CONTROLNET_TYPES (openpose 0 ... repaint 7; "auto" = []), on a copy
// that keeps hint, strength and range but drops the chain, and that ControlNetApplyAdvanced carries on.
// A non-union ControlNet (the golden tiny one) ignores the type: the same residuals.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "comfy/core/node.hpp"
#include "comfy/core/types.hpp"
#include "comfy/models/controlnet.hpp"
#include "node_runner.hpp"
#include "test_util.hpp"

using namespace comfy;

namespace {

using test::run_node;

std::shared_ptr<ControlNet> tiny_controlnet() {
  RuntimeConfig cfg;
  return load_controlnet(test::golden_root() / "control" / "tiny-controlnet.safetensors", cfg);
}

std::shared_ptr<const ControlNet> typed(std::shared_ptr<ControlNet> cn, const std::string& type) {
  return run_node("SetUnionControlNetType", {{"control_net", Value(cn)}, {"type", Value(type)}})
      .values.at(0)
      .as<ControlNet>();
}

}  // namespace

TEST(SetUnionControlNetType, EachTypeIsItsNumberInComfyUIsTableAndAutoIsEmpty) {
  const std::vector<std::pair<std::string, int64_t>> table = {
      {"openpose", 0}, {"depth", 1}, {"hed/pidi/scribble/ted", 2}, {"canny/lineart/anime_lineart/mlsd", 3},
      {"normal", 4},   {"segment", 5}, {"tile", 6},              {"repaint", 7}};
  auto cn = tiny_controlnet();
  for (const auto& [name, number] : table) {
    auto c = typed(cn, name);
    EXPECT_EQ(c->control_type, (std::vector<int64_t>{number})) << name;
    EXPECT_NE(c.get(), cn.get());
    EXPECT_EQ(c->net.get(), cn->net.get());  // the weights are shared, not copied
  }
  EXPECT_TRUE(cn->control_type.empty());  // the input is untouched
  auto depth = std::const_pointer_cast<ControlNet>(typed(cn, "depth"));
  EXPECT_TRUE(typed(depth, "auto")->control_type.empty());
  // the combo is "auto" then the table, in order
  const auto& in = Registry::global().find("SetUnionControlNetType")->schema.inputs;
  auto it = std::find_if(in.begin(), in.end(), [](const InputSpec& s) { return s.name == "type"; });
  ASSERT_NE(it, in.end());
  std::vector<std::string> want = {"auto"};
  for (const auto& [name, _] : table) want.push_back(name);
  EXPECT_EQ(it->choices(), want);
}

TEST(SetUnionControlNetType, TheCopyKeepsHintAndRangeDropsTheChainAndApplyCarriesTheType) {
  auto image = at::rand({1, 3, 64, 64});
  auto prev = tiny_controlnet()->with_hint(image, 0.3, 0, 1, nullptr);
  auto hinted = tiny_controlnet()->with_hint(image, 0.6, 0.2, 0.8, prev);
  auto c = typed(hinted, "tile");
  EXPECT_TRUE(at::equal(c->cond_hint_original, image));
  EXPECT_DOUBLE_EQ(c->strength, 0.6);
  EXPECT_DOUBLE_EQ(c->start_percent, 0.2);
  EXPECT_DOUBLE_EQ(c->end_percent, 0.8);
  EXPECT_EQ(c->previous, nullptr);  // ControlNet.copy does not copy previous_controlnet

  auto cond = std::make_shared<Conditioning>();
  CondEntry e;
  e.cross_attn = at::randn({1, 77, 32});
  cond->entries.push_back(e);
  auto apply = [&](std::shared_ptr<const ControlNet> cn) {
    auto out = run_node("ControlNetApplyAdvanced",
                        {{"positive", Value(cond)}, {"negative", Value(cond)},
                         {"control_net", Value(std::const_pointer_cast<ControlNet>(cn))},
                         {"image", Value(at::rand({1, 64, 64, 3}, at::TensorOptions().dtype(at::kFloat)))},
                         {"strength", Value(1.0)}, {"start_percent", Value(0.0)}, {"end_percent", Value(1.0)}});
    return out.values.at(0).as<Conditioning>()->entries.at(0).extra.at("control").as<ControlNet>();
  };
  at::manual_seed(5);
  auto with_type = apply(typed(tiny_controlnet(), "canny/lineart/anime_lineart/mlsd"));
  at::manual_seed(5);
  auto without = apply(tiny_controlnet());
  EXPECT_EQ(with_type->control_type, (std::vector<int64_t>{3}));
  EXPECT_TRUE(without->control_type.empty());
  auto ms = std::make_shared<ModelSampling>(ModelSampling::discrete());
  with_type->pre_run(ms);
  without->pre_run(ms);
  ModelConds conds;
  conds.c_crossattn = at::randn({1, 77, 32});
  auto x = at::randn({1, 4, 8, 8});
  auto a = with_type->get_control(x, 3.0f, conds, 1), b = without->get_control(x, 3.0f, conds, 1);
  ASSERT_TRUE(a && b);
  ASSERT_EQ(a->output.size(), b->output.size());
  for (size_t i = 0; i < a->output.size(); ++i) EXPECT_TRUE(at::equal(a->output[i], b->output[i])) << i;
}
