// Golden upscale-model cases ($COMFY_NATIVE_GOLDEN_DIR/control, kinds upscale_*): spandrel's detection
// of each file (both key layouts, .pth through the restricted unpickler and .safetensors) and
// ImageUpscaleWithModel's outputs (single tile, batch, unshuffle padding, the real two-tile run and the
// node's steps with small tiles), |diff| <= 1e-4 + 1e-4|ref| as the README suggests.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <map>

#include "comfy/core/node.hpp"
#include "comfy/models/upscale_model.hpp"
#include "comfy/ops/tiled_scale.hpp"
#include "control_golden_util.hpp"
#include "test_util.hpp"

using namespace comfy;
using nlohmann::json;
using namespace comfy::control_golden;

namespace {

std::shared_ptr<UpscaleModel> model(const std::string& file) {
  static std::map<std::string, std::shared_ptr<UpscaleModel>> cache;
  auto& m = cache[file];
  if (!m) m = load_upscale_model(test::golden_root() / "control" / file, c10::Device(c10::kCPU));
  return m;
}

void run_load(const json& c) {
  auto m = model(c["model_file"].get<std::string>());
  const json& d = c["detected"];
  const auto& cfg = m->net->config();
  EXPECT_EQ(m->architecture, d["architecture"].get<std::string>());
  EXPECT_EQ(cfg.scale(), d["scale"].get<int64_t>());
  EXPECT_EQ(cfg.input_channels(), d["input_channels"].get<int64_t>());
  EXPECT_EQ(cfg.out_nc, d["output_channels"].get<int64_t>());
  EXPECT_EQ(cfg.tags(), d["tags"].get<std::vector<std::string>>());
  EXPECT_EQ(cfg.minimum(), d["size_requirements"]["minimum"].get<int64_t>());
  EXPECT_EQ(cfg.multiple_of(), d["size_requirements"]["multiple_of"].get<int64_t>());
  const json& kw = d["rrdbnet_kwargs"];
  EXPECT_EQ(cfg.in_nc, kw["in_nc"].get<int64_t>());
  EXPECT_EQ(cfg.out_nc, kw["out_nc"].get<int64_t>());
  EXPECT_EQ(cfg.num_filters, kw["num_filters"].get<int64_t>());
  EXPECT_EQ(cfg.num_blocks, kw["num_blocks"].get<int64_t>());
  EXPECT_EQ(cfg.arch_scale, kw["scale"].get<int64_t>());
  EXPECT_EQ(cfg.shuffle_factor, kw["shuffle_factor"].is_null() ? 0 : kw["shuffle_factor"].get<int64_t>());
  EXPECT_FALSE(kw.value("plus", false)) << "ESRGAN+ is not built";
}

class UpscaleGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(UpscaleGolden, MatchesComfyUI) {
  const json& c = find_case(GetParam());
  const std::string kind = c["kind"];
  if (kind == "upscale_model_load") {
    run_load(c);
    tally().add(kind, !HasFailure());
    return;
  }
  auto st = test::golden_file("control/" + c["file"].get<std::string>());
  auto m = model(c["model_file"].get<std::string>());
  auto image = st->get(c["inputs"]["image"].get<std::string>()).clone();
  std::map<std::string, at::Tensor> got;
  if (kind == "upscale_image") {
    // The real node (tile 512, overlap 32).
    NodeInputs in;
    in.values = {{"upscale_model", Value(m)}, {"image", Value(image)}};
    RuntimeConfig rc;
    ExecContext ctx;
    ctx.config = &rc;
    got["image"] = Registry::global().find("ImageUpscaleWithModel")->execute(in, ctx).values.at(0).as_tensor();
  } else {
    got["image"] = upscale_image_with_model(*m, image, c["tile"].get<int64_t>(), c["overlap"].get<int64_t>());
    got["untiled"] = (*m)(image.movedim(-1, 1)).movedim(1, -1);
  }
  const bool ok = compare_all(c, *st, got, Tolerance{1e-4, 1e-4, false});
  tally().add(kind, ok && !HasFailure());
}

INSTANTIATE_TEST_SUITE_P(Manifest, UpscaleGolden,
                         ::testing::ValuesIn(case_ids({"upscale_model_load", "upscale_image", "upscale_tiled"})),
                         sanitize);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(UpscaleGolden);

}  // namespace
