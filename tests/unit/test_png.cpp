// PNG / JPEG reading and writing, checked against an independent reader and writer (Python's standard
// library: zlib + struct, tests/support/py/png_tool.py) and closed-form pixel values.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <jpeglib.h>

#include <cstdio>
#include <fstream>

#include "comfy/core/error.hpp"
#include "comfy/io/files.hpp"
#include "comfy/io/image.hpp"
#include "comfy/io/jpeg.hpp"
#include "comfy/io/png.hpp"
#include "test_util.hpp"

namespace fs = std::filesystem;
using namespace comfy;
using nlohmann::json;

namespace {

std::string capture(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  EXPECT_EQ(pclose(p), 0) << cmd;
  return out;
}
std::string png_tool() { return "/usr/bin/python3 " + (test::source_dir() / "tests/support/py/png_tool.py").string(); }

// Encodes an RGB u8 [H,W,3] JPEG with libjpeg, optionally with an EXIF orientation APP1 marker.
std::string make_jpeg(const at::Tensor& u8, int orientation = 0, int quality = 100) {
  jpeg_compress_struct c;
  jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* mem = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &mem, &size);
  c.image_width = JDIMENSION(u8.size(1));
  c.image_height = JDIMENSION(u8.size(0));
  c.input_components = 3;
  c.in_color_space = JCS_RGB;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, quality, TRUE);
  c.comp_info[0].h_samp_factor = c.comp_info[0].v_samp_factor = 1;  // no chroma subsampling
  jpeg_start_compress(&c, TRUE);
  if (orientation) {
    // "Exif\0\0" + little-endian TIFF header + IFD with one SHORT entry 0x0112.
    unsigned char exif[] = {'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0,
                            0x12, 0x01, 3, 0, 1, 0, 0, 0, (unsigned char)orientation, 0, 0, 0, 0, 0, 0, 0};
    jpeg_write_marker(&c, JPEG_APP0 + 1, exif, sizeof exif);
  }
  auto t = u8.contiguous();
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = t.data_ptr<uint8_t>() + size_t(c.next_scanline) * c.image_width * 3;
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  std::string out(reinterpret_cast<char*>(mem), size);
  jpeg_destroy_compress(&c);
  free(mem);
  return out;
}

}  // namespace

TEST(ImageToU8, TruncatesLikeNumpyAstype) {
  auto x = at::tensor({0.0f, 0.5f, 0.999f, 1.0f, 1.5f, -0.1f, 0.00392f, 0.00393f, NAN}).view({1, 9, 1});
  auto u = io::image_to_u8(x).flatten();
  // 255*0.5 = 127.5 -> 127; 255*0.999 = 254.745 -> 254; 255*0.00392 = 0.9996 -> 0; 255*0.00393 = 1.002 -> 1
  std::vector<int> expect = {0, 127, 254, 255, 255, 0, 0, 1, 0};
  for (int i = 0; i < 9; ++i) EXPECT_EQ(u[i].item<int>(), expect[i]) << "index " << i;
}

TEST(Png, RoundTripRgbAndRgba) {
  at::manual_seed(3);
  for (int64_t c : {3, 4}) {
    auto img = at::rand({37, 53, c});
    auto bytes = io::encode_png(img);
    auto d = io::decode_png(bytes);
    auto u = io::image_to_u8(img).to(at::kFloat).div(255.0f);
    EXPECT_TRUE(at::equal(d.rgb, u.narrow(2, 0, 3).contiguous()));
    ASSERT_EQ(d.alpha.has_value(), c == 4);
    if (c == 4) EXPECT_TRUE(at::equal(*d.alpha, u.select(2, 3).contiguous()));
  }
}

TEST(Png, WrittenFileReadsBackWithIndependentReaderIncludingTextChunks) {
  test::TempDir tmp;
  at::manual_seed(4);
  auto img = at::rand({9, 11, 3});
  const std::string prompt = R"({"3": {"inputs": {"seed": 5}, "class_type": "KSampler"}})";
  const std::string workflow = "{\"nodes\": [], \"title\": \"caf\xc3\xa9\"}";  // non-ASCII -> iTXt
  auto bytes = io::encode_png(img, {{"prompt", prompt}, {"workflow", workflow}});
  auto path = tmp.path / "a.png";
  io::write_file_atomic(path, bytes);
  auto j = json::parse(capture(png_tool() + " dump " + path.string()));
  EXPECT_EQ(j["width"], 11);
  EXPECT_EQ(j["height"], 9);
  EXPECT_EQ(j["channels"], 3);
  auto u = io::image_to_u8(img).flatten();
  auto px = j["pixels"].get<std::vector<int>>();
  ASSERT_EQ(px.size(), size_t(u.numel()));
  for (size_t i = 0; i < px.size(); ++i) ASSERT_EQ(px[i], u[int64_t(i)].item<int>()) << i;
  ASSERT_EQ(j["text"].size(), 2u);
  EXPECT_EQ(j["text"][0][0], "prompt");
  EXPECT_EQ(j["text"][0][1], prompt);
  EXPECT_EQ(j["text"][1][0], "workflow");
  EXPECT_EQ(j["text"][1][1], workflow);
  // Text chunks come before the image data so a reader that stops at IDAT still finds them (§11.2).
  auto chunks = j["chunks"].get<std::vector<std::string>>();
  EXPECT_EQ(chunks.front(), "IHDR");
  EXPECT_EQ(chunks[1], "tEXt");
  EXPECT_EQ(chunks[2], "iTXt");
  EXPECT_EQ(chunks.back(), "IEND");
  // and our own text reader agrees
  auto t = io::read_png_text(bytes);
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].second, prompt);
  EXPECT_EQ(t[1].second, workflow);
}

TEST(Png, DecodesFilesFromIndependentWriter) {
  test::TempDir tmp;
  for (std::string kind : {"gray16", "rgb16", "palette_trns", "gray_alpha"}) {
    auto path = tmp.path / (kind + ".png");
    auto e = json::parse(capture(png_tool() + " make " + kind + " " + path.string()));
    auto d = io::decode_image(io::read_file(path), path.string());
    const int64_t w = e["width"], h = e["height"];
    auto rgb = at::tensor(e["rgb"].get<std::vector<float>>()).view({h, w, 3}).div(255.0f);
    EXPECT_TRUE(at::equal(d.rgb, rgb)) << kind << "\n" << d.rgb.mul(255) << rgb.mul(255);
    ASSERT_EQ(d.alpha.has_value(), !e["alpha"].is_null()) << kind;
    if (d.alpha) {
      auto a = at::tensor(e["alpha"].get<std::vector<float>>()).view({h, w}).div(255.0f);
      EXPECT_TRUE(at::equal(*d.alpha, a)) << kind;
    }
    if (kind == "gray_alpha") {
      auto t = io::read_png_text(io::read_file(path));
      ASSERT_EQ(t.size(), 2u);
      EXPECT_EQ(t[0], std::make_pair(std::string("zkey"), std::string("compressed text")));
      EXPECT_EQ(t[1], std::make_pair(std::string("ikey"), std::string("caf\xc3\xa9")));
    }
  }
}

TEST(Png, DamagedFilesAreReportedNotCrashing) {
  auto good = io::encode_png(at::rand({8, 8, 3}));
  EXPECT_THROW(io::decode_png("not a png"), Error);
  EXPECT_THROW(io::decode_png(good.substr(0, good.size() / 2)), Error);
  auto bad = good;
  bad[good.size() / 2] ^= 0x55;  // breaks a CRC or the zlib stream
  EXPECT_THROW(io::decode_png(bad), Error);
  try {
    io::decode_image("GIF89a....", "x.gif");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.type, "invalid_image");
    EXPECT_NE(std::string(e.what()).find("x.gif"), std::string::npos);
  }
}

TEST(Jpeg, DecodesCloseToSourceAndAppliesExifOrientation) {
  // A smooth gradient survives quality-100 JPEG within a few levels.
  auto yy = at::arange(24).view({24, 1, 1}).expand({24, 40, 1});
  auto xx = at::arange(40).view({1, 40, 1}).expand({24, 40, 1});
  auto u8 = at::cat({xx * 6, yy * 10, (xx + yy) * 3}, 2).clamp(0, 255).to(at::kByte);
  auto ref = u8.to(at::kFloat).div(255.0f);
  auto d = io::decode_image(make_jpeg(u8));
  EXPECT_FALSE(d.alpha.has_value());
  EXPECT_LT((d.rgb - ref).abs().max().item<float>(), 4.0f / 255.0f);
  // EXIF 6 = rotate 90° clockwise for display (PIL exif_transpose -> ROTATE_270).
  auto r6 = io::decode_jpeg(make_jpeg(u8, 6)).rgb;
  ASSERT_EQ(r6.sizes(), at::IntArrayRef({40, 24, 3}));
  EXPECT_LT((r6 - ref.transpose(0, 1).flip({1})).abs().max().item<float>(), 4.0f / 255.0f);
  auto r3 = io::decode_jpeg(make_jpeg(u8, 3)).rgb;
  EXPECT_LT((r3 - ref.flip({0, 1})).abs().max().item<float>(), 4.0f / 255.0f);
  EXPECT_THROW(io::decode_jpeg(make_jpeg(u8).substr(0, 100)), Error);
}
