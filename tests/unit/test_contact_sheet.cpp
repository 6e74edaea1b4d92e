// Progress dumps and contact sheets (`comfy-native preview`): Python torch writes the .pt files, the
// sheet's layout and the SD1.x linear preview are checked in closed form.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdlib>

#include "comfy/core/error.hpp"
#include "comfy/io/contact_sheet.hpp"
#include "comfy/io/files.hpp"
#include "comfy/io/png.hpp"
#include "comfy/io/safetensors.hpp"
#include "test_util.hpp"

namespace fs = std::filesystem;
using namespace comfy;

TEST(ProgressFile, ReadsTorchSaveDictsAndLatentFiles) {
  const std::string py = test::python_with_torch();
  if (py.empty()) GTEST_SKIP() << "needs /usr/bin/python3 with torch";
  test::TempDir tmp;
  const std::string script =
      "import torch, sys\n"
      "g = torch.Generator().manual_seed(5)\n"
      "d = {'samples': torch.randn(6, 4, 3, 5, generator=g), 'steps': [1, 2, 3], "
      "'sigmas': torch.tensor([9.5, 4.25, 1.0]), 'node_id': '12'}\n"
      "torch.save(d, sys.argv[1] + '/zip.pt')\n"

      "torch.save(d['samples'], sys.argv[1] + '/samples.pt')\n";
  io::write_file_atomic(tmp.path / "w.py", script);
  ASSERT_EQ(std::system((py + " " + (tmp.path / "w.py").string() + " " + tmp.path.string()).c_str()), 0);
  auto gen = at::detail::createCPUGenerator(5);
  for (std::string f : {"zip.pt"}) {
    auto pf = io::load_progress_file(tmp.path / f);
    ASSERT_EQ(pf.samples.sizes(), at::IntArrayRef({6, 4, 3, 5})) << f;
    EXPECT_EQ(pf.steps, (std::vector<int64_t>{1, 2, 3})) << f;
    EXPECT_EQ(pf.sigmas, (std::vector<double>{9.5, 4.25, 1.0})) << f;
    EXPECT_EQ(pf.node_id, "12") << f;
  }
  EXPECT_EQ(io::load_progress_file(tmp.path / "samples.pt").samples.size(0), 6);
  // .latent (safetensors) files: the current format as is, the old one rescaled by 1/0.18215
  auto z = at::ones({2, 4, 3, 3});
  io::save_safetensors(tmp.path / "new.latent", {{"latent_tensor", z}, {"latent_format_version_0", at::empty({0})}});
  io::save_safetensors(tmp.path / "old.latent", {{"latent_tensor", z}});
  EXPECT_TRUE(at::allclose(io::load_progress_file(tmp.path / "new.latent").samples, z));
  EXPECT_TRUE(at::allclose(io::load_progress_file(tmp.path / "old.latent").samples, z / 0.18215));
  io::write_file_atomic(tmp.path / "junk.pt", std::string("\x80\x02garbage", 9));
  EXPECT_THROW(io::load_progress_file(tmp.path / "junk.pt"), Error);
}

TEST(ContactSheet, LinearSd15PreviewMatchesLatentRgbFactors) {
  // one latent pixel (1, 0, 0, 0) / 0.18215 -> rgb = first factor row, then (x + 1) / 2
  auto z = at::zeros({1, 4, 1, 1});
  z[0][0][0][0] = 1.0f / 0.18215f;
  auto rgb = io::sd15_latent_to_rgb(z).flatten();
  EXPECT_NEAR(rgb[0].item<float>(), (0.3512f + 1) / 2, 1e-5);
  EXPECT_NEAR(rgb[1].item<float>(), (0.2297f + 1) / 2, 1e-5);
  EXPECT_NEAR(rgb[2].item<float>(), (0.3227f + 1) / 2, 1e-5);
  z[0][3][0][0] = 10.0f;  // clamped
  EXPECT_LE(io::sd15_latent_to_rgb(z).max().item<float>(), 1.0f);
}

TEST(ContactSheet, LaysOutItemsAsRowsAndStepsAsColumnsWithLabels) {
  // 2 batch items x 3 frames, frame-major; picture i is a flat grey level i/10
  const int64_t n = 6, H = 20, W = 30;
  auto imgs = at::arange(n).to(at::kFloat).div(10).view({n, 1, 1, 1}).expand({n, H, W, 3}).contiguous();
  std::vector<std::vector<std::string>> labels(n, std::vector<std::string>{"step 1", "sigma 2.5"});
  auto sheet = io::contact_sheet(imgs, 2, labels);
  const int64_t label_h = 2 * 10, pad = 4;  // 2 lines of 7 + 3 px at scale 1
  ASSERT_EQ(sheet.size(0), 2 * (H + label_h + pad) + pad);
  ASSERT_EQ(sheet.size(1), 3 * (W + pad) + pad);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t r = i % 2, c = i / 2;
    const int64_t y = pad + r * (H + label_h + pad) + label_h + H / 2, x = pad + c * (W + pad) + W / 2;
    EXPECT_NEAR(sheet[y][x][0].item<float>(), i / 10.0f, 1e-6) << i;
  }
  // the label strip above picture 0 has text pixels, and only there
  auto strip = sheet.narrow(0, pad, label_h).narrow(1, pad, W);
  EXPECT_GT((strip > 0.9f).sum().item<int64_t>(), 20);
  EXPECT_EQ(io::text_width("step 1", 1), 35);
}

TEST(PreviewCommand, WritesASheetFromAProgressDumpWithTheBuiltinVae) {
  const std::string py = test::python_with_torch();
  if (py.empty()) GTEST_SKIP() << "needs /usr/bin/python3 with torch";
  test::TempDir tmp;
  const std::string script =
      "import torch, sys\n"
      "torch.save({'samples': torch.zeros(4, 4, 8, 8), 'steps': [3, 6], 'sigmas': [2.0, 0.5], 'node_id': '3'},"
      " sys.argv[1] + '/p.pt')\n";
  io::write_file_atomic(tmp.path / "w.py", script);
  ASSERT_EQ(std::system((py + " " + (tmp.path / "w.py").string() + " " + tmp.path.string()).c_str()), 0);
  auto r = test::run_cli({"preview", (tmp.path / "p.pt").string(), "-o", (tmp.path / "sheet.png").string(), "--vae",
                          "builtin:shapes"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("2 rows x 2 steps"), std::string::npos) << r.out;
  auto img = io::decode_png(io::read_file(tmp.path / "sheet.png"));
  // 64x64 pictures (8x8 latents decoded 8x), 2 label lines at scale 1
  EXPECT_EQ(img.rgb.size(1), 2 * (64 + 4) + 4);
  EXPECT_EQ(img.rgb.size(0), 2 * (64 + 20 + 4) + 4);
  // never overwrite without --overwrite; the linear preview without --vae works too
  auto again = test::run_cli({"preview", (tmp.path / "p.pt").string(), "-o", (tmp.path / "sheet.png").string()});
  EXPECT_NE(again.exit_code, 0);
  auto lin = test::run_cli({"preview", (tmp.path / "p.pt").string(), "-o", (tmp.path / "lin.png").string()});
  EXPECT_EQ(lin.exit_code, 0) << lin.err;
}
