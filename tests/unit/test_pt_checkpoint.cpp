// Pickled checkpoints in both torch.save formats (spec M8), read from files Python's torch 1.13 wrote
// (the seed corpus of tests/fuzz/fuzz_pt_checkpoint): values, dtypes, views into a shared storage, and
// ComfyUI's "state_dict" nesting rule.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <fstream>

#include "comfy/core/error.hpp"
#include "comfy/io/pt_file.hpp"
#include "comfy/models/state_dict.hpp"
#include "test_util.hpp"

using namespace comfy;

namespace {

std::filesystem::path seed(const std::string& name) {
  return test::source_dir() / "tests" / "fuzz" / "corpus" / "pt_checkpoint" / name;
}

class PtCheckpointFormats : public ::testing::TestWithParam<std::string> {};

TEST_P(PtCheckpointFormats, ViewsIntoOneStorageKeepTheirOffsetsAndStrides) {
  // {"view": t[1:, 1:3], "base": t, "bf16": ones(2, bf16)} with t = arange(12).reshape(3, 4)
  auto v = io::read_pt_file(seed(GetParam() + "_views.pt"));
  ASSERT_EQ(v.kind, io::PtValue::Kind::Dict);
  auto base = at::arange(12, at::kFloat).reshape({3, 4});
  EXPECT_TRUE(at::equal(v.find("base")->tensor, base));
  EXPECT_TRUE(at::equal(v.find("view")->tensor, base.slice(0, 1).slice(1, 1, 3)));
  EXPECT_EQ(v.find("bf16")->tensor.scalar_type(), at::kBFloat16);
  EXPECT_TRUE(at::equal(v.find("bf16")->tensor.to(at::kFloat), at::ones({2})));
}

TEST_P(PtCheckpointFormats, TheStateDictEntryIsTakenAndOtherEntriesIgnored) {
  const auto sd = load_state_dict(seed(GetParam() + "_state_dict.ckpt"));
  ASSERT_EQ(sd.size(), 3u);  // global_step is outside the state dict
  EXPECT_TRUE(at::equal(sd.at("model.diffusion_model.input_blocks.0.0.weight"), at::arange(6, at::kFloat).reshape({2, 3})));
  EXPECT_EQ(sd.at("position_ids").scalar_type(), at::kLong);
  EXPECT_EQ(sd.at("half").scalar_type(), at::kHalf);
}

INSTANTIATE_TEST_SUITE_P(TorchSave, PtCheckpointFormats, ::testing::Values("zip", "legacy"));

TEST(PtCheckpoint, AFlatDictIsItsOwnStateDict) {
  const auto sd = load_state_dict(seed("legacy_flat.pth"));
  ASSERT_EQ(sd.size(), 1u);
  EXPECT_TRUE(at::equal(sd.at("w"), at::zeros({2})));
}

TEST(PtCheckpoint, ATruncatedLegacyFileIsAnError) {
  test::TempDir tmp;
  std::ifstream in(seed("legacy_state_dict.ckpt"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  for (size_t cut : {size_t(20), bytes.size() / 2, bytes.size() - 3}) {
    const auto p = tmp.path / ("cut" + std::to_string(cut) + ".ckpt");
    std::ofstream(p, std::ios::binary).write(bytes.data(), std::streamsize(cut));
    EXPECT_THROW(load_state_dict(p), Error) << cut;
  }
}

}  // namespace
