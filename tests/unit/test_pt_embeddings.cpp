// Textual-inversion embeddings in torch.save (.pt / .bin) files, written by Python torch at test time in
// every form ComfyUI's load_embed reads, and the safe reader's refusals.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "comfy/core/error.hpp"
#include "comfy/core/node.hpp"
#include "comfy/core/types.hpp"
#include "comfy/io/pt_file.hpp"
#include "comfy/io/safetensors.hpp"
#include "comfy/models/clip.hpp"
#include "comfy/models/clip_tokenizer.hpp"
#include "io/pt_unpickle.hpp"
#include "test_util.hpp"

using namespace comfy;
namespace fs = std::filesystem;

namespace {

void write_raw(const fs::path& p, const at::Tensor& t) {  // little-endian float32, row-major
  auto c = t.to(at::kFloat).contiguous();
  std::ofstream(p, std::ios::binary).write(static_cast<const char*>(c.data_ptr()), std::streamsize(c.numel() * 4));
}

// Runs `script` with Python torch in `dir`; returns its output, and fails the test on a non-zero exit.
std::string run_python(const fs::path& dir, const std::string& script) {
  const fs::path py = dir / "make.py";
  std::ofstream(py) << script;
  const std::string cmd = "cd '" + dir.string() + "' && " + test::python_with_torch() + " make.py 2>&1";
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[512];
  while (p && fgets(buf, sizeof buf, p)) out += buf;
  const int rc = p ? pclose(p) : -1;
  EXPECT_EQ(rc, 0) << out;
  return out;
}

// Python preamble: raw(name, *shape) reads a float32 tensor written by write_raw.
const char* kPreamble = R"(
import os, collections, torch
def raw(name, *shape):
    with open(name, 'rb') as f:
        return torch.frombuffer(bytearray(f.read()), dtype=torch.float32).reshape(*shape).clone()
)";

}  // namespace

TEST(PtEmbedding, ReadsEveryTorchSaveFormComfyUIsLoadEmbedAccepts) {
  if (test::python_with_torch().empty()) GTEST_SKIP() << "no python3 with torch to write the .pt files";
  test::TempDir td;
  const int64_t W = 32;
  const auto a = at::randn({3, W}), b = at::randn({W}), c = at::randn({2, W}), big = at::randn({4, W + 5});
  const auto wide = at::randn({2, 768});
  write_raw(td.path / "a.raw", a);
  write_raw(td.path / "b.raw", b);
  write_raw(td.path / "c.raw", c);
  write_raw(td.path / "big.raw", big);
  write_raw(td.path / "wide.raw", wide);
  run_python(td.path, std::string(kPreamble) + R"(
a, b, c, big, wide = raw('a.raw', 3, 32), raw('b.raw', 32), raw('c.raw', 2, 32), raw('big.raw', 4, 37), raw('wide.raw', 2, 768)
v = a.clone().requires_grad_(True)   # A1111 saves the trained vector, which requires grad
torch.save({'string_to_token': {'*': 265}, 'string_to_param': {'*': v}, 'name': 'a1111', 'step': 1500,
            'sd_checkpoint': '4c86efd062', 'sd_checkpoint_name': None, 'lr': 0.005, 'ok': True}, 'a1111.pt')
torch.save({'string_to_param': {'*': torch.nn.Parameter(a.clone())}}, 'param.pt')
torch.save({'emb_params': c}, 'emb_params.pt')
torch.save({'clip_g': big, 'clip_l': c}, 'keyed.pt')
torch.save(b, 'bare.pt')
torch.save({'<cat-toy>': b}, 'diffusers.bin')
torch.save([{'x': b}, {'y': c, 'z': big}], 'listed.pt')
torch.save({'emb_params': c.half()}, 'half.pt')
torch.save({'view': big[1:3, 2:34], 'base': big}, 'view.pt')   # a strided view sharing its storage
torch.save(collections.OrderedDict([('first', c), ('second', a)]), 'ordered.pt')
torch.save({'string_to_param': torch.nn.ParameterDict({'*': torch.nn.Parameter(wide.clone())})}, 'pdict.pt')
)");
  const std::vector<fs::path> dirs{td.path};
  auto load = [&](const std::string& name) {
    auto t = load_embedding(name, dirs, W);
    EXPECT_TRUE(t.has_value()) << name;
    return t ? *t : at::Tensor();
  };
  EXPECT_TRUE(at::equal(load("a1111"), a));
  EXPECT_TRUE(at::equal(load("param"), a));
  EXPECT_TRUE(at::equal(load("emb_params"), c));
  EXPECT_TRUE(at::equal(load("keyed"), c));  // embed_key clip_l
  EXPECT_TRUE(at::equal(load("bare"), b));
  EXPECT_TRUE(at::equal(load("diffusers"), b));  // .bin, first value
  EXPECT_TRUE(at::equal(load("listed"), at::cat({b.unsqueeze(0), c}, 0)));  // vectors of width 32 only
  EXPECT_TRUE(at::equal(load("half"), c.to(at::kHalf).to(at::kFloat)));
  EXPECT_TRUE(at::equal(load("view"), big.slice(0, 1, 3).slice(1, 2, 34)));
  EXPECT_TRUE(at::equal(load("ordered"), c));  // first entry in insertion order
  // A ParameterDict is a module (a GLOBAL the reader refuses): ComfyUI's safe_load_embed_zip fallback
  // reads the raw float32 data record instead.
  EXPECT_TRUE(at::equal(load("pdict"), wide));

  // The non-tensor values come through as plain data.
  auto d = io::read_pt_file(td.path / "a1111.pt");
  ASSERT_EQ(d.kind, io::PtValue::Kind::Dict);
  EXPECT_EQ(d.find("name")->s, "a1111");
  EXPECT_EQ(d.find("step")->i, 1500);
  EXPECT_EQ(d.find("sd_checkpoint")->s, "4c86efd062");
  EXPECT_EQ(d.find("sd_checkpoint_name")->kind, io::PtValue::Kind::None);
  EXPECT_DOUBLE_EQ(d.find("lr")->f, 0.005);
  EXPECT_TRUE(d.find("ok")->b);
  EXPECT_EQ(d.find("string_to_token")->find("*")->i, 265);
}

TEST(PtEmbedding, SafeReaderRefusesCodeAndDamagedFilesAndReadsLegacy) {
  if (test::python_with_torch().empty()) GTEST_SKIP() << "no python3 with torch to write the .pt files";
  test::TempDir td;
  const fs::path marker = td.path / "pwned";
  run_python(td.path, std::string(kPreamble) + R"(
class Evil:
    def __reduce__(self):
        return (os.system, ('touch pwned',))
torch.save({'emb_params': Evil()}, 'evil.pt')
torch.save({'emb_params': torch.ones(2, 32)}, 'legacy.pt', _use_new_zipfile_serialization=False)
torch.save({'emb_params': torch.ones(2, 32)}, 'good.pt')
data = open('good.pt', 'rb').read()
open('truncated.pt', 'wb').write(data[:len(data) // 2])
)");
  ASSERT_FALSE(fs::exists(marker));
  try {
    io::read_pt_file(td.path / "evil.pt");
    ADD_FAILURE() << "evil.pt was read";
  } catch (const Error& e) {
    EXPECT_EQ(e.type, "invalid_pt_file");
    EXPECT_NE(std::string(e.what()).find("posix system"), std::string::npos) << e.what();
  }
  // Through the embedding path: refused, no data record to fall back on, skipped with a warning.
  EXPECT_FALSE(load_embedding("evil", {td.path}, 32).has_value());
  EXPECT_FALSE(fs::exists(marker));
  // The pre-1.6 (non-zip) format is read like torch.load reads it.
  EXPECT_TRUE(at::equal(io::read_pt_file(td.path / "legacy.pt").find("emb_params")->tensor, at::ones({2, 32})));
  EXPECT_THROW(io::read_pt_file(td.path / "truncated.pt"), Error);
  EXPECT_FALSE(load_embedding("truncated", {td.path}, 32).has_value());
  EXPECT_TRUE(at::equal(io::read_pt_file(td.path / "good.pt").find("emb_params")->tensor, at::ones({2, 32})));
}

TEST(CLIPTextEncode, PtEmbeddingGivesTheSameCondAsTheSameEmbeddingInSafetensors) {
  if (test::python_with_torch().empty()) GTEST_SKIP() << "no python3 with torch to write the .pt file";
  test::TempDir td;
  const fs::path nets = test::golden_root() / "nets";
  // The golden tinyemb embedding ([2, 32], key emb_params) as .safetensors and as an A1111 .pt.
  auto st = io::SafeTensors::open(nets / "embeddings" / "tinyemb.safetensors");
  const auto vec = st->get("emb_params", at::kFloat);
  ASSERT_EQ(vec.sizes(), at::IntArrayRef({2, 32}));
  fs::create_directories(td.path / "models" / "embeddings");
  io::save_safetensors(td.path / "models" / "embeddings" / "st_emb.safetensors", {{"emb_params", vec}});
  write_raw(td.path / "vec.raw", vec);
  run_python(td.path, std::string(kPreamble) + R"(
torch.save({'string_to_token': {'*': 265}, 'string_to_param': {'*': raw('vec.raw', 2, 32).requires_grad_(True)},
            'name': 'pt_emb', 'step': 3000, 'sd_checkpoint': None, 'sd_checkpoint_name': None},
           'models/embeddings/pt_emb.pt')
)");

  RuntimeConfig cfg;
  cfg.models_dirs = {td.path / "models"};
  for (const auto& d : {test::golden_root().parent_path() / "tokenizers" / "sd1", test::shared_dir() / "tokenizers" / "sd1"})
    if (fs::exists(d / "vocab.json")) {
      cfg.tokenizer_dir = d;
      break;
    }
  auto clip = std::make_shared<Clip>(*load_sd1_clip(io::SafeTensors::open(nets / "tiny-sd15.safetensors"),
                                                    "cond_stage_model.transformer.", cfg));
  const NodeDef* def = Registry::global().find("CLIPTextEncode");
  ASSERT_NE(def, nullptr);
  auto encode = [&](const std::string& text) {
    NodeInputs in;
    in.values["clip"] = Value(clip);
    in.values["text"] = Value(text);
    ExecContext ctx;
    ctx.class_type = "CLIPTextEncode";
    ctx.config = &cfg;
    return def->execute(in, ctx).values.at(0).as<Conditioning>()->entries.at(0);
  };
  auto from_pt = encode("embedding:pt_emb, a (cat:1.1)");
  auto from_st = encode("embedding:st_emb, a (cat:1.1)");
  auto without = encode("a (cat:1.1)");
  EXPECT_TRUE(at::equal(from_pt.cross_attn, from_st.cross_attn));
  EXPECT_TRUE(at::equal(*from_pt.pooled_output, *from_st.pooled_output));
  EXPECT_FALSE(at::allclose(from_pt.cross_attn, without.cross_attn));  // the vectors were used
}

TEST(PtEmbedding, SafeReaderSurvivesDeepAndSelfReferencingPickles) {
  io::PtStorageLoader no_storage = [](const std::string&, c10::ScalarType, int64_t) -> at::Tensor {
    throw Error("invalid_pt_file", "no storages here");
  };
  // 300000 nested lists: refused (too deep), and tearing the structure down must not recurse.
  const size_t n = 300000;
  const std::string deep = "\x80\x02" + std::string(n, ']') + std::string(n - 1, 'a') + ".";
  EXPECT_THROW(io::unpickle_pt(deep, no_storage, "deep"), Error);
  // a list holding itself
  EXPECT_THROW(io::unpickle_pt(std::string("\x80\x02]q\x00h\x00" "a.", 10), no_storage, "cycle"), Error);
  // a flat list is fine
  auto v = io::unpickle_pt(std::string("\x80\x02](K\x01K\x02" "e.", 11), no_storage, "flat");
  ASSERT_EQ(v.kind, io::PtValue::Kind::List);
  ASSERT_EQ(v.items.size(), 2u);
  EXPECT_EQ(v.items[1].i, 2);
}
