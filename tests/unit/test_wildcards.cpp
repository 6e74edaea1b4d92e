// Impact wildcards beyond the golden cases: wildcard files that are missing, empty or include
// themselves, upstream's exceptions as clear errors, how files are read (latin-1, line breaks,
// YAML), BREAK splitting and comment joining, and the numpy generator's edge cases.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <future>

#include "comfy/core/error.hpp"
#include "comfy/core/node.hpp"
#include "comfy/prompt/numpy_random.hpp"
#include "comfy/prompt/wildcards.hpp"
#include "test_util.hpp"

using namespace comfy;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& p, const std::string& s) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << s;
}

struct Wildcards : ::testing::Test {
  test::TempDir td;
  wildcards::Dictionary load() { return wildcards::load_dictionary({td.path}); }
  std::string message_of(const std::string& text, const wildcards::Dictionary& d, uint64_t seed = 0) {
    try {
      wildcards::process(text, seed, d);
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  }
};

}  // namespace

TEST_F(Wildcards, MissingWildcardIsLeftAsStarSlashLikeImpact) {
  write(td.path / "colors.txt", "red\n");
  auto d = load();
  EXPECT_EQ(wildcards::process("a __nothere__ b __colors__", 7, d), "a __*/nothere__ b red");
  // with a '/' there is no fallback: left exactly as written
  EXPECT_EQ(wildcards::process("__sub/nothere__", 7, d), "__sub/nothere__");
}

TEST_F(Wildcards, EmptyWildcardFileIsAClearErrorNamingTheWildcard) {
  write(td.path / "empty.txt", "");
  write(td.path / "comments.txt", "# only a comment\n");
  auto d = load();
  ASSERT_NE(d.find("empty"), nullptr);
  EXPECT_TRUE(d.find("empty")->empty());
  for (const char* text : {"x __empty__", "__comments__", "__empt*__"}) {
    const std::string m = message_of(text, d);
    EXPECT_NE(m.find("a cannot be empty unless no samples are taken"), std::string::npos) << text << ": " << m;
    EXPECT_NE(m.find("empty wildcard file"), std::string::npos) << m;
  }
}

TEST_F(Wildcards, SelfIncludingWildcardStopsAfterImpactsNinetyNineRounds) {
  write(td.path / "loop.txt", "again __loop__\n");
  auto d = load();
  const auto t0 = std::chrono::steady_clock::now();
  const std::string out = wildcards::process("__loop__", 1, d);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  // 99 rounds, each replacing the one wildcard: 99 "again" then the unexpanded wildcard
  std::string expected;
  for (int i = 0; i < 99; ++i) expected += "again ";
  EXPECT_EQ(out, expected + "__loop__");
}

TEST_F(Wildcards, SelfDoublingWildcardIsStoppedBySizeNotMemory) {
  write(td.path / "boom.txt", "__boom__ __boom__\n");
  auto d = load();
  const auto t0 = std::chrono::steady_clock::now();
  const std::string m = message_of("__boom__", d);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
  EXPECT_NE(m.find("includes itself"), std::string::npos) << m;
}

TEST_F(Wildcards, UpstreamExceptionsBecomeErrorsWithTheirPythonMessages) {
  wildcards::Dictionary d;
  EXPECT_NE(message_of("{$$a|b}", d).find("AttributeError"), std::string::npos);
  EXPECT_NE(message_of("{0::a|0::b}", d).find("ZeroDivisionError"), std::string::npos);
  EXPECT_NE(message_of("{-1::a|2::b}", d).find("probabilities are not non-negative"), std::string::npos);
  EXPECT_NE(message_of("{3-1$$a|b|c}", d).find("low >= high"), std::string::npos);
  EXPECT_NE(message_of("{2$$0::a|b}", d).find("Fewer non-zero entries in p than size"), std::string::npos);
  EXPECT_NE(message_of("{99999999999999999999$$a}", d).find("out of bounds for int64"), std::string::npos);
  EXPECT_NE(message_of("2#__+a__", d).find("nothing to repeat"), std::string::npos);
}

TEST_F(Wildcards, CountsZeroAndOverflowingTheOptionsFollowNumpy) {
  wildcards::Dictionary d;
  EXPECT_EQ(wildcards::process("[{0$$a|b}]", 3, d), "[]");
  // more than there are: all of them, shuffled (numpy's shuffle of the same seed)
  numpy::Generator g(5);
  std::vector<std::string> v{"a", "b", "c"};
  g.shuffle(v);
  EXPECT_EQ(wildcards::process("{4$$a|b|c}", 5, d), v[0] + " " + v[1] + " " + v[2]);
}

TEST_F(Wildcards, FilesAreReadAsLatin1WithPythonsLineBreaks) {
  write(td.path / "l1.txt", std::string("caf\xE9\r\nsecond\x85third\x0b" "fourth\n\n  # c\n"));
  auto d = load();
  ASSERT_NE(d.find("l1"), nullptr);
  EXPECT_EQ(*d.find("l1"), (std::vector<std::string>{"caf\xC3\xA9", "second", "third", "fourth", ""}));
}

TEST_F(Wildcards, YamlListsStringsAndNestedMappingsBecomeKeys) {
  write(td.path / "sub dir" / "More Things.txt", "x\n");
  write(td.path / "w.yaml", "Top Key:\n  inner: [a, 'b']\n  deeper:\n    leaf: one line\nnum: 5\nlst:\n  - &x anchored\n  - *x\n");
  auto d = load();
  ASSERT_NE(d.find("sub-dir/more-things"), nullptr);
  ASSERT_NE(d.find("top-key/inner"), nullptr);
  EXPECT_EQ(*d.find("top-key/inner"), (std::vector<std::string>{"a", "b"}));
  ASSERT_NE(d.find("top-key/deeper/leaf"), nullptr);
  EXPECT_EQ(*d.find("top-key/deeper/leaf"), (std::vector<std::string>{"one line"}));
  EXPECT_EQ(d.find("num"), nullptr);  // PyYAML reads 5 as an int: not a wildcard
  EXPECT_EQ(*d.find("lst"), (std::vector<std::string>{"anchored", "anchored"}));
}

TEST_F(Wildcards, BrokenYamlIsAnErrorNamingTheFile) {
  write(td.path / "bad.yaml", "a: [unclosed\n");
  try {
    load();
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.yaml"), std::string::npos) << e.what();
  }
}

TEST_F(Wildcards, MissingWildcardsDirIsAnErrorNamingNodeAndOption) {
  RuntimeConfig cfg;
  cfg.wildcards_dirs = {td.path / "nope"};
  ExecContext ctx;
  ctx.config = &cfg;
  NodeInputs in;
  in.values = {{"wildcard_text", Value("__a__")}, {"populated_text", Value("")}, {"mode", Value(true)},
               {"seed", Value(int64_t{1})}, {"Select to add Wildcard", Value("x")}};
  try {
    Registry::global().find("ImpactWildcardProcessor")->execute(in, ctx);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--wildcards-dir"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("nope"), std::string::npos) << e.what();
  }
}

TEST_F(Wildcards, ProcessorErrorsNameTheTextInput) {
  write(td.path / "empty.txt", "");
  RuntimeConfig cfg;
  cfg.wildcards_dirs = {td.path};
  ExecContext ctx;
  ctx.config = &cfg;
  NodeInputs in;
  in.values = {{"wildcard_text", Value("__empty__")}, {"populated_text", Value("")}, {"mode", Value(true)},
               {"seed", Value(int64_t{1})}, {"Select to add Wildcard", Value("x")}};
  try {
    Registry::global().find("ImpactWildcardProcessor")->execute(in, ctx);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.input_name, "wildcard_text");
  }
  // Fixed mode: the populated text is processed as is (a second pass; nothing left to choose)
  in.values["mode"] = Value(false);
  in.values["populated_text"] = Value("kept {as|as} is");
  auto out = Registry::global().find("ImpactWildcardProcessor")->execute(in, ctx);
  EXPECT_EQ(out.values.at(0).as_string(), "kept as is");
}

TEST(WildcardText, BreakSplitsOnTheSubstringAndDropsEmptyPieces) {
  EXPECT_EQ(wildcards::split_break("a BREAK b"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(wildcards::split_break("a BREAKFAST"), (std::vector<std::string>{"a", "FAST"}));
  EXPECT_EQ(wildcards::split_break(" BREAK BREAK "), (std::vector<std::string>{""}));
  EXPECT_EQ(wildcards::split_break("a break b"), (std::vector<std::string>{"a break b"}));
}

TEST(WildcardText, CommentLinesJoinTheNextLineWithASpace) {
  EXPECT_EQ(wildcards::remove_comments("# c\nA\nB"), "A B");
  EXPECT_EQ(wildcards::remove_comments("A\n  # c\nB\nC"), "A B\nC");
  EXPECT_EQ(wildcards::remove_comments("A\nB"), "A\nB");
}

TEST(NumpyGenerator, IntegersRefuseAnEmptyRangeAndCoverFullWidth) {
  numpy::Generator g(1);
  EXPECT_THROW(g.integers(5, 5), numpy::ValueError);
  EXPECT_EQ(g.integers(7, 8), 7);  // one value: no draw
  numpy::Generator a(1), b(1);
  EXPECT_EQ(a.next64(), b.next64());
  // a range wider than 32 bits takes 64-bit draws
  const int64_t big = a.integers(0, int64_t{1} << 40);
  EXPECT_GE(big, 0);
  EXPECT_LT(big, int64_t{1} << 40);
}

TEST(NumpyGenerator, ChoiceChecksProbabilitiesLikeNumpy) {
  numpy::Generator g(0);
  EXPECT_THROW(g.choice_without_replacement({0.5, 0.4}, 1), numpy::ValueError);  // sum 0.9
  EXPECT_THROW(g.choice_without_replacement({1.5, -0.5}, 1), numpy::ValueError);
  EXPECT_THROW(g.choice_without_replacement({1.0, 0.0}, 2), numpy::ValueError);
  EXPECT_EQ(g.choice_without_replacement({0.0, 1.0}, 1), (std::vector<size_t>{1}));
}

// The --wildcards-dir folders belong to the run's configuration (no process-wide list): two runs with
// different folders, at once on two threads, each read their own files.
TEST_F(Wildcards, EachRunReadsItsOwnWildcardsDirs) {
  write(td.path / "one" / "a.txt", "first\n");
  write(td.path / "two" / "a.txt", "second\n");
  auto run = [&](const char* sub) {
    RuntimeConfig cfg;
    cfg.wildcards_dirs = {td.path / sub};
    ExecContext ctx;
    ctx.config = &cfg;
    NodeInputs in;
    in.values = {{"wildcard_text", Value("__a__")}, {"populated_text", Value("")}, {"mode", Value(true)},
                 {"seed", Value(int64_t{1})}, {"Select to add Wildcard", Value("x")}};
    std::string last;
    for (int i = 0; i < 50; ++i)
      last = Registry::global().find("ImpactWildcardProcessor")->execute(in, ctx).values.at(0).as_string();
    return last;
  };
  auto f1 = std::async(std::launch::async, run, "one");
  auto f2 = std::async(std::launch::async, run, "two");
  EXPECT_EQ(f1.get(), "first");
  EXPECT_EQ(f2.get(), "second");
}
