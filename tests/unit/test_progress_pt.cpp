// Progress latents and SaveLatentPT write .pt files that Python's torch.load opens with the right
// shape and values.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "comfy/core/node.hpp"
#include "comfy/core/types.hpp"
#include "comfy/models/toy_gaussian.hpp"
#include "test_util.hpp"

using namespace comfy;
namespace fs = std::filesystem;

namespace {

std::string run_python(const std::string& script) {
  test::TempDir d;
  auto py = d.path / "check.py";
  std::ofstream(py) << script;
  std::string cmd = test::python_with_torch() + " " + py.string() + " 2>&1";
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[512];
  while (p && fgets(buf, sizeof buf, p)) out += buf;
  const int rc = p ? pclose(p) : -1;
  return (rc == 0 ? "" : "rc!=0: ") + out;
}

NodeInputs progress_inputs(const at::Tensor& latent) {
  NodeInputs in;
  in.values["model"] = Value(make_toy_gaussian_model());
  in.values["positive"] = Value(toy_conditioning(true));
  in.values["negative"] = Value(toy_conditioning(false));
  auto l = std::make_shared<Latent>();
  l->samples = latent;
  in.values["latent_image"] = Value(l);
  in.values["seed"] = Value(Int(3));
  in.values["steps"] = Value(Int(4));
  in.values["cfg"] = Value(2.0);
  in.values["sampler_name"] = Value("euler");
  in.values["scheduler"] = Value("karras");
  in.values["denoise"] = Value(1.0);
  in.values["noise_mode"] = Value("CPU");
  in.values["interval"] = Value(Int(2));
  in.values["omit_start_latent"] = Value(false);
  in.values["omit_final_latent"] = Value(false);
  return in;
}

}  // namespace

TEST(ProgressDump, KSamplerProgressWritesTorchLoadableFrames) {
  if (test::python_with_torch().empty()) GTEST_SKIP() << "no python3 with torch to read the .pt file";
  test::TempDir dir;
  RuntimeConfig cfg;
  cfg.dump_progress_dir = dir.path / "progress";
  ExecContext ctx;
  ctx.node_id = "7";
  ctx.config = &cfg;
  auto latent = at::zeros({2, 4, 3, 5});
  const NodeDef* def = Registry::global().find("KSamplerProgress //Inspire");
  ASSERT_NE(def, nullptr);
  auto out = def->execute(progress_inputs(latent), ctx);
  auto progress = out.values.at(1).as<Latent>()->samples;
  // start + steps 0, 2 and the last step 3 + final = 5 frames of batch 2
  ASSERT_EQ(progress.size(0), 10);
  auto file = *cfg.dump_progress_dir / "7_progress_00001_.pt";
  ASSERT_TRUE(fs::exists(file)) << file;
  // Expected values travel to Python as text; torch.load must give the same tensor.
  auto ref = dir.path / "ref.txt";
  {
    std::ofstream f(ref);
    f.precision(9);
    auto c = progress.contiguous();
    for (int64_t i = 0; i < c.numel(); ++i) f << c.data_ptr<float>()[i] << "\n";
  }
  std::string script =
      "import torch\n"
      "d = torch.load('" + file.string() + "')\n"
      "s = d['samples']\n"
      "assert tuple(s.shape) == (10, 4, 3, 5), s.shape\n"
      "ref = torch.tensor([float(v) for v in open('" + ref.string() + "')]).reshape(10, 4, 3, 5)\n"
      "assert torch.allclose(s, ref, rtol=1e-6, atol=1e-6), (s - ref).abs().max()\n"
      "assert d['steps'].tolist() == [-1, -1, 0, 0, 2, 2, 3, 3, 4, 4], d['steps']\n"
      "assert torch.isnan(d['sigmas'][0]) and d['sigmas'][-1] == 0 and d['sigmas'][2] > 14, d['sigmas']\n"
      "assert d['node_id'] == '7'\n";
  EXPECT_EQ(run_python(script), "");
}

TEST(SaveLatentPT, WritesCountedFilesInsideOutputDirOnly) {
  if (test::python_with_torch().empty()) GTEST_SKIP() << "no python3 with torch to read the .pt file";
  test::TempDir dir;
  RuntimeConfig cfg;
  cfg.output_dir = dir.path / "out";
  ExecContext ctx;
  ctx.config = &cfg;
  const NodeDef* def = Registry::global().find("SaveLatentPT");
  ASSERT_NE(def, nullptr);
  NodeInputs in;
  auto l = std::make_shared<Latent>();
  l->samples = at::arange(24, at::kFloat).reshape({1, 4, 2, 3});
  in.values["samples"] = Value(l);
  in.values["filename_prefix"] = Value("latents/run");
  def->execute(in, ctx);
  def->execute(in, ctx);
  EXPECT_TRUE(fs::exists(cfg.output_dir / "latents" / "run_00001_.pt"));
  EXPECT_TRUE(fs::exists(cfg.output_dir / "latents" / "run_00002_.pt"));
  in.values["filename_prefix"] = Value("../escape");
  EXPECT_THROW(def->execute(in, ctx), Error);
  std::string script = "import torch\n"
                       "d = torch.load('" + (cfg.output_dir / "latents" / "run_00002_.pt").string() + "')\n"
                       "assert torch.equal(d['samples'], torch.arange(24.).reshape(1, 4, 2, 3))\n";
  EXPECT_EQ(run_python(script), "");
}
