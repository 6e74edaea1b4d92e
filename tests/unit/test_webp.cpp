// LoadImage's WebP reading against pictures PIL wrote (tests/fuzz/make_seeds.py): a lossless WebP
// decodes to exactly the pattern it was made from; lossy stays close; animated and oversized files
// are refused with a message.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "comfy/core/error.hpp"
#include "comfy/io/files.hpp"
#include "comfy/io/image.hpp"
#include "comfy/io/webp.hpp"
#include "test_util.hpp"

using namespace comfy;
namespace fs = std::filesystem;

namespace {
fs::path seed(const char* name) { return test::source_dir() / "tests/fuzz/corpus/image" / name; }

// The 7x5 pattern make_seeds.py draws: (x*30 % 256, y*50 % 256, x*y*17 % 256).
at::Tensor pattern() {
  auto t = at::empty({5, 7, 3});
  for (int y = 0; y < 5; ++y)
    for (int x = 0; x < 7; ++x) {
      t[y][x][0] = float(x * 30 % 256) / 255.0f;
      t[y][x][1] = float(y * 50 % 256) / 255.0f;
      t[y][x][2] = float(x * y * 17 % 256) / 255.0f;
    }
  return t;
}
}  // namespace

TEST(WebP, LosslessWithAlphaDecodesExactly) {
  auto img = io::decode_image(io::read_file(seed("lossless_alpha.webp")), "lossless_alpha.webp");
  ASSERT_EQ(img.rgb.sizes(), (std::vector<int64_t>{5, 7, 3}));
  EXPECT_TRUE(at::equal(img.rgb, pattern()));
  ASSERT_TRUE(img.alpha);
  // alpha (x + y) * 20 + 10, as make_seeds.py sets it
  auto a = at::empty({5, 7});
  for (int y = 0; y < 5; ++y)
    for (int x = 0; x < 7; ++x) a[y][x] = float((x + y) * 20 + 10) / 255.0f;
  EXPECT_TRUE(at::equal(*img.alpha, a));
}

TEST(WebP, LossyStaysCloseAndHasNoAlpha) {
  auto img = io::decode_image(io::read_file(seed("lossy.webp")), "lossy.webp");
  ASSERT_EQ(img.rgb.sizes(), (std::vector<int64_t>{5, 7, 3}));
  EXPECT_FALSE(img.alpha);
  EXPECT_LT((img.rgb - pattern()).abs().mean().item<float>(), 0.1f);
}

TEST(WebP, AnimatedAndOversizedAreRefused) {
  try {
    io::decode_image(io::read_file(seed("animated.webp")), "animated.webp");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("animated WebP is not supported"), std::string::npos) << e.what();
  }
  try {
    io::decode_webp(io::read_file(seed("lossy.webp")), "lossy.webp", 34);  // 7 x 5 = 35 pixels
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Image size (35 pixels) exceeds limit of 34 pixels"), std::string::npos) << e.what();
  }
  EXPECT_THROW(io::decode_image(std::string("RIFF\x10\0\0\0WEBPVP8 ", 16), "cut.webp"), Error);
}

TEST(ImageLimits, PngAndJpegHeadersBeyondThePixelLimitAreRefusedBeforeDecoding) {
  // bomb.png / bomb.jpg claim 30000 x 30000 = 900 000 000 pixels, over PIL's 178 956 970.
  for (const char* f : {"bomb.png", "bomb.jpg"}) {
    try {
      io::decode_image(io::read_file(seed(f)), f);
      FAIL() << f;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("Image size (900000000 pixels) exceeds limit of 178956970 pixels, could be "
                                           "decompression bomb DOS attack."),
                std::string::npos)
          << e.what();
    }
  }
}
