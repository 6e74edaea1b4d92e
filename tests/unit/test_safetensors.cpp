#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <fstream>

#include "comfy/core/error.hpp"
#include "comfy/io/safetensors.hpp"
#include "test_util.hpp"

using namespace comfy;
namespace fs = std::filesystem;

TEST(SafeTensors, RoundTripsEveryDtype) {
  test::TempDir td;
  std::map<std::string, at::Tensor> t = {
      {"f32", at::arange(6, at::kFloat).reshape({2, 3})}, {"f16", at::arange(4, at::kHalf)},
      {"bf16", at::arange(4, at::kBFloat16)},            {"f64", at::arange(3, at::kDouble)},
      {"i64", at::arange(5, at::kLong)},                  {"i32", at::arange(5, at::kInt)},
      {"u8", at::arange(7, at::kByte)},                   {"b", at::ones({3}, at::kBool)}};
  io::save_safetensors(td.path / "a.safetensors", t, {{"k", "v"}});
  auto st = io::SafeTensors::open(td.path / "a.safetensors");
  EXPECT_EQ(st->metadata().at("k"), "v");
  for (auto& [name, tensor] : t) {
    auto got = st->get(name);
    EXPECT_EQ(got.scalar_type(), tensor.scalar_type()) << name;
    EXPECT_TRUE(at::equal(got, tensor)) << name;
  }
}

TEST(SafeTensors, RefusesToOverwrite) {
  test::TempDir td;
  io::save_safetensors(td.path / "a.safetensors", {{"x", at::ones({2})}});
  EXPECT_THROW(io::save_safetensors(td.path / "a.safetensors", {{"x", at::zeros({2})}}), Error);
  EXPECT_TRUE(at::equal(io::SafeTensors::open(td.path / "a.safetensors")->get("x"), at::ones({2})));
}

TEST(SafeTensors, TruncatedFileGivesClearError) {
  test::TempDir td;
  auto bytes = io::safetensors_bytes({{"x", at::ones({100})}});
  for (size_t cut : {size_t(0), size_t(4), size_t(12), bytes.size() - 1}) {
    try {
      io::SafeTensors::from_bytes(bytes.substr(0, cut));
      FAIL() << "no error for a file cut at " << cut;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
    }
  }
}

TEST(SafeTensors, ReadsGoldenFile) {
  auto st = test::golden_file("sampling/common.safetensors");
  auto sig = st->get("model_sampling.sigmas");
  EXPECT_EQ(sig.numel(), 1000);
}
