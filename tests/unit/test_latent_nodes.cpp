// LatentFromBatch / RepeatLatentBatch (workflow-nodes-files.md 9.12, 9.13) against the spec's formulas,
// and SaveLatent / LoadLatent (.latent format 11.3) checked by parsing the file independently.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "comfy/core/types.hpp"
#include "comfy/exec/executor.hpp"
#include "comfy/io/python_json.hpp"
#include "comfy/io/safetensors.hpp"
#include "test_util.hpp"

using namespace comfy;
namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

namespace {

NodeOutput call(const std::string& cls, std::map<std::string, Value> inputs, RuntimeConfig* cfg = nullptr) {
  const NodeDef* def = Registry::global().find(cls);
  EXPECT_NE(def, nullptr) << cls;
  NodeInputs in;
  in.values = std::move(inputs);
  ExecContext ctx;
  ctx.node_id = "1";
  ctx.class_type = cls;
  ctx.config = cfg;
  return def->execute(in, ctx);
}

std::shared_ptr<Latent> latent(int64_t b, std::optional<at::Tensor> mask = std::nullopt,
                               std::optional<std::vector<int64_t>> idx = std::nullopt) {
  auto l = std::make_shared<Latent>();
  l->samples = at::arange(b * 4 * 2 * 3, at::kFloat).reshape({b, 4, 2, 3});
  l->noise_mask = mask;
  l->batch_index = idx;
  return l;
}

std::shared_ptr<const Latent> out_latent(const NodeOutput& o) { return o.values.at(0).as<Latent>(); }

// Independent safetensors reader: 8-byte LE header size, JSON header, data section.
struct RawSafetensors {
  nlohmann::json header;
  std::string data;
};
RawSafetensors read_raw(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_GE(bytes.size(), 8u);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | uint8_t(bytes[size_t(i)]);
  RawSafetensors r;
  r.header = nlohmann::json::parse(bytes.substr(8, n));
  r.data = bytes.substr(8 + n);
  return r;
}

}  // namespace

TEST(LatentFromBatch, SlicesSamplesAndRecordsBatchIndex) {
  auto o = out_latent(call("LatentFromBatch", {{"samples", Value(latent(5))}, {"batch_index", Value(3)}, {"length", Value(4)}}));
  // b = min(4, 3) = 3, n = min(5 - 3, 4) = 2
  EXPECT_TRUE(at::equal(o->samples, latent(5)->samples.slice(0, 3, 5)));
  EXPECT_EQ(*o->batch_index, (std::vector<int64_t>{3, 4}));
  o = out_latent(call("LatentFromBatch", {{"samples", Value(latent(2))}, {"batch_index", Value(63)}, {"length", Value(1)}}));
  EXPECT_TRUE(at::equal(o->samples, latent(2)->samples.slice(0, 1, 2)));  // index clamped to B-1
  EXPECT_EQ(*o->batch_index, (std::vector<int64_t>{1}));
}

TEST(LatentFromBatch, SlicesAnExistingBatchIndexAndTiledMasks) {
  at::Tensor mask2 = at::stack({at::zeros({1, 2, 3}), at::ones({1, 2, 3})});  // 2 entries for a batch of 4
  auto o = out_latent(call("LatentFromBatch",
                           {{"samples", Value(latent(4, mask2, std::vector<int64_t>{10, 11, 12, 13}))},
                            {"batch_index", Value(1)}, {"length", Value(2)}}));
  EXPECT_EQ(*o->batch_index, (std::vector<int64_t>{11, 12}));
  // tiled mask = [m0, m1, m0, m1]; entries 1..2 = [m1, m0]
  ASSERT_TRUE(o->noise_mask);
  EXPECT_TRUE(at::equal(*o->noise_mask, at::stack({at::ones({1, 2, 3}), at::zeros({1, 2, 3})})));
  at::Tensor mask1 = at::full({1, 1, 2, 3}, 0.5);
  o = out_latent(call("LatentFromBatch", {{"samples", Value(latent(4, mask1))}, {"batch_index", Value(2)}, {"length", Value(1)}}));
  EXPECT_TRUE(at::equal(*o->noise_mask, mask1));  // a single mask is kept whole
}

TEST(RepeatLatentBatch, RepeatsSamplesMasksAndOffsetsBatchIndex) {
  at::Tensor mask2 = at::rand({2, 1, 2, 3});
  auto src = latent(2, mask2, std::vector<int64_t>{3, 5});
  auto o = out_latent(call("RepeatLatentBatch", {{"samples", Value(src)}, {"amount", Value(3)}}));
  EXPECT_TRUE(at::equal(o->samples, at::cat({src->samples, src->samples, src->samples})));
  EXPECT_TRUE(at::equal(*o->noise_mask, at::cat({mask2, mask2, mask2})));
  // offset = max - min + 1 = 3: [3,5] + [6,8] + [9,11]
  EXPECT_EQ(*o->batch_index, (std::vector<int64_t>{3, 5, 6, 8, 9, 11}));
  o = out_latent(call("RepeatLatentBatch", {{"samples", Value(latent(1))}, {"amount", Value(2)}}));
  EXPECT_FALSE(o->batch_index.has_value());
  EXPECT_EQ(o->samples.size(0), 2);
}

TEST(SaveLatent, WritesComfyUIsLatentFormatAndCounts) {
  test::TempDir td;
  RuntimeConfig cfg;
  cfg.output_dir = td.path / "output";
  cfg.input_dir = td.path / "input";
  Executor ex(Registry::global(), cfg);
  Prompt p = ojson::parse(R"({
    "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 48, "batch_size": 2}},
    "6": {"class_type": "RepeatLatentBatch", "inputs": {"samples": ["5", 0], "amount": 2}},
    "9": {"class_type": "SaveLatent", "inputs": {"samples": ["6", 0], "filename_prefix": "latents/ComfyUI"},
          "_meta": {"title": "Save \u00e9"}}})");
  nlohmann::json pnginfo = {{"workflow", {{"version", 0.4}, {"nodes", nlohmann::json::array()}}}};
  auto r = ex.execute(p, {"9"}, pnginfo);
  EXPECT_EQ(r.ui_outputs["9"], nlohmann::json::parse(
      R"({"latents": [{"filename": "ComfyUI_00001_.latent", "subfolder": "latents", "type": "output"}]})"));
  fs::path file = cfg.output_dir / "latents" / "ComfyUI_00001_.latent";
  ASSERT_TRUE(fs::exists(file));

  auto raw = read_raw(file);
  auto& lt = raw.header["latent_tensor"];
  EXPECT_EQ(lt["dtype"], "F32");
  EXPECT_EQ(lt["shape"], nlohmann::json::array({4, 4, 6, 8}));
  uint64_t b = lt["data_offsets"][0], e = lt["data_offsets"][1];
  EXPECT_EQ(e - b, 4u * 4 * 6 * 8 * 4);
  auto& mk = raw.header["latent_format_version_0"];
  EXPECT_EQ(mk["dtype"], "F32");
  EXPECT_EQ(mk["shape"], nlohmann::json::array({0}));
  EXPECT_EQ(mk["data_offsets"][0], mk["data_offsets"][1]);
  // metadata: prompt and workflow as Python's json.dumps text
  auto md = raw.header["__metadata__"];
  EXPECT_EQ(md["prompt"].get<std::string>().substr(0, 41), R"({"5": {"class_type": "EmptyLatentImage", )");
  EXPECT_NE(md["prompt"].get<std::string>().find("\"Save \\u00e9\""), std::string::npos);
  EXPECT_EQ(md["workflow"], R"({"nodes": [], "version": 0.4})");
  EXPECT_EQ(raw.header.size(), 3u);  // only the two tensors + metadata: no noise_mask / batch_index

  // A changed prefix runs again; the counter continues in the shared namespace of folder+name.
  p["9"]["inputs"]["filename_prefix"] = "latents/ComfyUI/../ComfyUI";
  r = ex.execute(p, {"9"});
  EXPECT_EQ(r.ui_outputs["9"]["latents"][0]["filename"], "ComfyUI_00002_.latent");
}

TEST(SaveLatent, RejectsPrefixesOutsideTheOutputFolder) {
  test::TempDir td;
  RuntimeConfig cfg;
  cfg.output_dir = td.path / "output";
  fs::create_directories(cfg.output_dir);
  fs::create_directories(td.path / "elsewhere");
  fs::create_directory_symlink(td.path / "elsewhere", cfg.output_dir / "link");
  Executor ex(Registry::global(), cfg);
  for (std::string prefix : {"../x", "/tmp/x", "a/../../x", "link/x"}) {
    Prompt p = ojson::parse(R"({
      "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
      "9": {"class_type": "SaveLatent", "inputs": {"samples": ["5", 0]}}})");
    p["9"]["inputs"]["filename_prefix"] = prefix;
    try {
      ex.execute(p, {"9"});
      ADD_FAILURE() << prefix << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.node_id, "9") << prefix;
      EXPECT_EQ(e.input_name, "filename_prefix") << prefix;
      EXPECT_NE(std::string(e.what()).find("outside the output folder"), std::string::npos) << e.what();
    }
  }
  EXPECT_TRUE(fs::is_empty(td.path / "elsewhere"));
  EXPECT_FALSE(fs::exists(td.path / "x"));
}

TEST(LoadLatent, RoundTripsAndRescalesOldFiles) {
  test::TempDir td;
  RuntimeConfig cfg;
  cfg.output_dir = td.path / "output";
  cfg.input_dir = td.path / "input";
  fs::create_directories(cfg.input_dir);
  at::Tensor x = at::randn({1, 4, 3, 5});
  io::save_safetensors(cfg.input_dir / "new.latent", {{"latent_tensor", x}, {"latent_format_version_0", at::empty({0})}});
  io::save_safetensors(cfg.input_dir / "old.latent", {{"latent_tensor", x.to(at::kHalf)}});
  auto a = out_latent(call("LoadLatent", {{"latent", Value("new.latent")}}, &cfg));
  EXPECT_TRUE(at::equal(a->samples, x));
  auto b = out_latent(call("LoadLatent", {{"latent", Value("old.latent")}}, &cfg));
  EXPECT_EQ(b->samples.scalar_type(), at::kFloat);
  EXPECT_TRUE(at::allclose(b->samples, x.to(at::kHalf).to(at::kFloat) * (1.0 / 0.18215)));

  const NodeDef* def = Registry::global().find("LoadLatent");
  ASSERT_TRUE(def->validate);
  EXPECT_EQ(def->validate("latent", Value("new.latent"), cfg), "");
  EXPECT_EQ(def->validate("latent", Value("missing.latent"), cfg), "Invalid latent file: missing.latent");
  io::save_safetensors(td.path / "secret.latent", {{"latent_tensor", x}});  // exists, but outside the input folder
  EXPECT_EQ(def->validate("latent", Value("../secret.latent"), cfg), "Invalid latent file: ../secret.latent");
  EXPECT_EQ(def->validate("latent", Value("new.latent [input]"), cfg), "");
  NodeInputs in;
  in.values["latent"] = Value("new.latent");
  std::string h1 = def->is_changed(in, cfg);
  EXPECT_EQ(h1.size(), 64u);
  in.values["latent"] = Value("old.latent");
  EXPECT_NE(def->is_changed(in, cfg), h1);
}

TEST(SaveLatent, PythonTorchReadsTheFile) {
  std::string py = test::python_with_torch();
  if (py.empty()) GTEST_SKIP() << "/usr/bin/python3 with torch is not installed";
  test::TempDir td;
  RuntimeConfig cfg;
  cfg.output_dir = td.path;
  Executor ex(Registry::global(), cfg);
  Prompt p = ojson::parse(R"({
    "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 3}},
    "7": {"class_type": "LatentFromBatch", "inputs": {"samples": ["5", 0], "batch_index": 1, "length": 2}},
    "9": {"class_type": "SaveLatent", "inputs": {"samples": ["7", 0], "filename_prefix": "x"}}})");
  p["5"]["_meta"] = {{"title", "caf\u00e9 \xf0\x9f\x98\x80"}};
  p["7"]["inputs"]["cfg"] = 8.0;
  p["7"]["inputs"]["tiny"] = 1e-05;
  p["7"]["inputs"]["big"] = 18446744073709551615ull;
  ex.execute(p, {"9"});
  fs::path file = td.path / "x_00001_.latent";
  ASSERT_TRUE(fs::exists(file));
  // A tiny safetensors parser in Python (python3-safetensors may be absent); also checks that the
  // prompt metadata is exactly what json.dumps produces for the same document.
  std::ofstream(td.path / "check.py") << R"PY(
import json, struct, sys, torch
raw = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
h = json.loads(raw[8:8 + n])
data = raw[8 + n:]
meta = h.pop('__metadata__')
assert sorted(h) == ['latent_format_version_0', 'latent_tensor'], sorted(h)
t = h['latent_tensor']; b, e = t['data_offsets']
x = torch.frombuffer(bytearray(data[b:e]), dtype=torch.float32).reshape(t['shape'])
assert list(x.shape) == [2, 4, 8, 8] and torch.all(x == 0)
assert h['latent_format_version_0']['shape'] == [0]
prompt = json.loads(meta['prompt'])
assert json.dumps(prompt) == meta['prompt'], (json.dumps(prompt), meta['prompt'])
assert prompt['7']['inputs']['big'] == 18446744073709551615
print('ok')
)PY";
  std::string cmd = py + " " + (td.path / "check.py").string() + " " + file.string() + " 2>&1";
  FILE* f = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (size_t k = fread(buf, 1, sizeof buf, f)) out.append(buf, k);
  int rc = pclose(f);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "ok\n");
}
