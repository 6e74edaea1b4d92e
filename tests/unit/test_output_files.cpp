// Output naming (workflow-nodes-files.md 11.1), SHA-256 and Python-style JSON text.
#include <gtest/gtest.h>

#include <ctime>
#include <fstream>

#include "comfy/core/error.hpp"
#include "comfy/io/hash.hpp"
#include "comfy/io/output_names.hpp"
#include "comfy/io/python_json.hpp"
#include "test_util.hpp"

using namespace comfy;
namespace fs = std::filesystem;

namespace {
void touch(const fs::path& p) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << "x";
}
}  // namespace

TEST(OutputNames, CounterContinuesAfterTheHighestExistingOne) {
  test::TempDir td;
  EXPECT_EQ(io::next_output_path(td.path, "ComfyUI", "png").filename, "ComfyUI_00001_.png");
  touch(td.path / "ComfyUI_00001_.png");
  touch(td.path / "ComfyUI_00007_.latent");     // other extensions share the counter
  touch(td.path / "ComfyUI_temp_00099_.png");   // another name: "temp" is not a number -> 0
  touch(td.path / "Other_00050_.png");
  auto o = io::next_output_path(td.path, "ComfyUI", "png");
  EXPECT_EQ(o.filename, "ComfyUI_00008_.png");
  EXPECT_EQ(o.subfolder, "");
  touch(td.path / "ComfyUI_123456_.png");       // padding is a minimum
  EXPECT_EQ(io::next_output_path(td.path, "ComfyUI", "png").filename, "ComfyUI_123457_.png");
}

TEST(OutputNames, SubfoldersAndTokens) {
  test::TempDir td;
  auto o = io::next_output_path(td.path, "portraits/%date:yyyy%/img_%width%x%height%", "png", 512, 768);
  std::time_t now = std::time(nullptr);
  std::tm t{};
  localtime_r(&now, &t);
  std::string year = std::to_string(t.tm_year + 1900);
  EXPECT_EQ(o.subfolder, "portraits/" + year);
  EXPECT_EQ(o.filename, "img_512x768_00001_.png");
  EXPECT_EQ(o.path, fs::weakly_canonical(td.path) / "portraits" / year / "img_512x768_00001_.png");
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &t);
  EXPECT_EQ(io::expand_prefix_tokens("%date:yyyy-MM-dd%", 0, 0, now), buf);
  EXPECT_EQ(io::expand_prefix_tokens("%year%-%month%-%day%", 0, 0, now), buf);
  EXPECT_EQ(io::expand_prefix_tokens("plain", 0, 0, now), "plain");
}

TEST(OutputNames, WritesNeverOverwriteEvenWithBatchNum) {
  test::TempDir td;
  auto t = io::resolve_output_target(td.path, "b_%batch_num%");
  auto a = io::write_output_file(t, "png", "first", 0);
  EXPECT_EQ(a.filename, "b_0_00001_.png");
  // ComfyUI's scan never matches %batch_num% names, so the counter restarts at 1 and it overwrites;
  // we skip the taken name instead.
  auto t2 = io::resolve_output_target(td.path, "b_%batch_num%");
  EXPECT_EQ(t2.counter, 1);
  auto b = io::write_output_file(t2, "png", "second", 0);
  EXPECT_EQ(b.filename, "b_0_00002_.png");
  std::ifstream f(a.path);
  std::string s;
  f >> s;
  EXPECT_EQ(s, "first");
  for (auto& e : fs::directory_iterator(td.path)) EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos);
}

TEST(OutputNames, RejectsEscapes) {
  test::TempDir td;
  for (std::string bad : {"../x", "/etc/x", "a/../../x", "..", "", "./"}) {
    try {
      io::resolve_output_target(td.path / "out", bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.input_name, "filename_prefix");
    }
  }
  EXPECT_EQ(io::resolve_output_target(td.path / "out", "a/../b").name, "b");
}

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(io::sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(io::sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(io::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(io::sha256_hex(std::string(1000000, 'a')), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(PythonJson, MatchesJsonDumps) {
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(R"({"b": [1, 2.0, 0.1, 1e-05, 1e16, 123456.789, -0.0, true, null],
      "a": {"s": "caf\u00e9 \ud83d\ude00 \"q\" \\ \n\t\u0001\u007f", "big": 18446744073709551615, "neg": -9223372036854775808},
      "e": {}, "f": []})");
  EXPECT_EQ(io::python_json_dumps(j),
            R"({"b": [1, 2.0, 0.1, 1e-05, 1e+16, 123456.789, -0.0, true, null], )"
            R"("a": {"s": "caf\u00e9 \ud83d\ude00 \"q\" \\ \n\t\u0001\u007f", "big": 18446744073709551615, )"
            R"("neg": -9223372036854775808}, "e": {}, "f": []})");
  EXPECT_EQ(io::python_json_dumps(nlohmann::json(std::nan(""))), "NaN");
  EXPECT_EQ(io::python_json_dumps(nlohmann::json(-1.0 / 0.0)), "-Infinity");
}
