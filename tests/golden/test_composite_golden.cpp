// Golden compositing cases ($COMFY_NATIVE_GOLDEN_DIR/control, kinds LatentComposite,
// LatentCompositeMasked, ImageScaleToTotalPixels): each runs through the node with the recorded
// widgets; outputs within 1e-6 (nearest/area exact, bilinear/bicubic float rounding).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "comfy/core/node.hpp"
#include "comfy/core/types.hpp"
#include "control_golden_util.hpp"
#include "test_util.hpp"

using namespace comfy;
using nlohmann::json;
using namespace comfy::control_golden;

namespace {

class CompositeGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(CompositeGolden, MatchesComfyUI) {
  const json& c = find_case(GetParam());
  const std::string kind = c["kind"];
  const NodeDef* def = Registry::global().find(kind);
  ASSERT_NE(def, nullptr) << kind;
  auto st = test::golden_file("control/" + c["file"].get<std::string>());
  NodeInputs in;
  for (const auto& [k, v] : c["widgets"].items()) {
    if (v.is_boolean()) in.values[k] = Value(v.get<bool>());
    else if (v.is_number_integer()) in.values[k] = Value(v.get<int64_t>());
    else if (v.is_number()) in.values[k] = Value(v.get<double>());
    else in.values[k] = Value(v.get<std::string>());
  }
  for (const auto& [k, v] : c["inputs"].items()) {
    auto t = st->get(v.get<std::string>()).clone();
    if (k == "mask" || k == "image") {
      in.values[k] = Value(t);
    } else {
      auto l = std::make_shared<Latent>();
      l->samples = t;
      in.values[k] = Value(l);
    }
  }
  RuntimeConfig rc;
  ExecContext ctx;
  ctx.config = &rc;
  auto out = def->execute(in, ctx).values.at(0);
  std::map<std::string, at::Tensor> got;
  if (out.is_tensor()) got[c["outputs"].begin().key()] = out.as_tensor();
  else got["samples"] = out.as<Latent>()->samples;
  const bool ok = compare_all(c, *st, got, Tolerance{1e-6, 1e-6, false});
  if (c.contains("output_shape"))
    EXPECT_EQ(got.begin()->second.sizes().vec(), c["output_shape"].get<std::vector<int64_t>>());
  tally().add(kind, ok && !HasFailure());
}

INSTANTIATE_TEST_SUITE_P(Manifest, CompositeGolden,
                         ::testing::ValuesIn(case_ids({"LatentComposite", "LatentCompositeMasked",
                                                       "ImageScaleToTotalPixels"})),
                         sanitize);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(CompositeGolden);

}  // namespace
