#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cctype>
#include <fstream>

#include "comfy/core/error.hpp"
#include "comfy/io/safetensors.hpp"
#include "comfy/models/weights.hpp"
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

namespace {
// Resident bytes of this process's mapping of `file` (/proc/self/smaps: the mapping's Rss line).
double mapped_rss(const fs::path& file) {
  std::ifstream f("/proc/self/smaps");
  std::string line;
  bool in_file = false;
  double kb = 0;
  while (std::getline(f, line)) {
    if (!line.empty() && std::isxdigit(static_cast<unsigned char>(line[0])) && line.find(' ') < line.find(':'))
      in_file = line.size() >= file.string().size() &&
                line.compare(line.size() - file.string().size(), std::string::npos, file.string()) == 0;
    else if (in_file && line.rfind("Rss:", 0) == 0)
      kb += std::stod(line.substr(4));
  }
  return kb * 1024;
}
}  // namespace

TEST(SafeTensors, ConvertedWeightsLeaveTheFilePagesOutOfTheResidentSet) {
  test::TempDir td;
  const auto w = at::randn({4096, 1024}).to(at::kHalf);  // 8 MiB in the file
  const fs::path file = fs::canonical(td.path) / "w.safetensors";
  io::save_safetensors(file, {{"w", w}, {"w2", w}});
  auto st = io::SafeTensors::open(file);
  auto view = st->get("w"), view2 = st->get("w2");
  ASSERT_TRUE(io::is_mapped_view(view));
  EXPECT_FALSE(io::is_mapped_view(view.to(at::kFloat)));
  EXPECT_FALSE(io::is_mapped_view(io::SafeTensors::from_bytes(io::safetensors_bytes({{"w", w}}))->get("w")));
  ASSERT_TRUE(at::equal(view, w) && at::equal(view2, w));  // pages both views in
  const double both = mapped_rss(file);
  ASSERT_GE(both, 16.0 * (1 << 20)) << "smaps does not show the mapping of " << file;
  // What a loader does: convert, and the file's pages of that tensor leave the resident set.
  const auto kept = to_device(view, at::kCPU, at::kFloat);
  EXPECT_LE(mapped_rss(file), both - 7.9 * (1 << 20));
  // A tensor kept in the file's dtype is the mapping itself: nothing released.
  const auto same = to_device(view2, at::kCPU, at::kHalf);
  EXPECT_TRUE(same.is_alias_of(view2));
  EXPECT_GE(mapped_rss(file), 7.9 * (1 << 20));
  // The view still reads the file's values (paged in again on use).
  EXPECT_TRUE(at::equal(view, w));
  EXPECT_TRUE(at::equal(kept, w.to(at::kFloat)));
}

TEST(SafeTensors, ReleasingPagesOfAnInMemoryFileIsANoOp) {
  const auto w = at::arange(1 << 20, at::kFloat);
  auto st = io::SafeTensors::from_bytes(io::safetensors_bytes({{"w", w}}));
  auto view = st->get("w");
  io::release_mapped_pages(view);  // heap memory: madvise(DONTNEED) here would zero it
  EXPECT_TRUE(at::equal(view, w));
}
