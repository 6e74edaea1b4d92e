#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "comfy/sampling/model_sampling.hpp"
#include "test_util.hpp"

using namespace comfy;

// The SD1.x discrete sigma table and its log table, against ComfyUI's ModelSamplingDiscrete.
TEST(ModelSamplingGolden, Sd15SigmaTablesMatchBitForBit) {
  auto st = test::golden_file("sampling/common.safetensors");
  auto ms = ModelSampling::discrete();
  EXPECT_EQ(test::check_close(ms.sigmas, st->get("model_sampling.sigmas"), 0, 0), "");
  EXPECT_EQ(test::check_close(ms.log_sigmas, st->get("model_sampling.log_sigmas"), 0, 0), "");
  EXPECT_FLOAT_EQ(ms.sigma_max(), 14.614641189575195f);
  EXPECT_FLOAT_EQ(ms.sigma_min(), 0.029167158529162407f);
}

TEST(ModelSampling, PercentToSigmaMatchesSpecValues) {
  auto ms = ModelSampling::discrete();
  EXPECT_NEAR(ms.percent_to_sigma(0.2), 5.092408180236816, 1e-12);
  EXPECT_NEAR(ms.percent_to_sigma(0.8), 0.5711888670921326, 1e-12);
}
