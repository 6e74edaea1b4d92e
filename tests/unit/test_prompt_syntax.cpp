// ComfyUI's prompt syntax (comfy/sd1_clip.py): weights, escapes, Python float parsing, chunking
// and textual-inversion lookup. Expected values are ComfyUI's own docstring examples and Python's
// float() rules; the chunking tests use a tiny made-up vocabulary so they need no data files.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "comfy/core/error.hpp"
#include "comfy/io/safetensors.hpp"
#include "comfy/models/clip_tokenizer.hpp"
#include "test_util.hpp"

using namespace comfy;
namespace fs = std::filesystem;
using Segments = std::vector<std::pair<std::string, double>>;

TEST(PromptWeights, ComfyUIDocstringExamples) {
  using prompt::token_weights;
  EXPECT_EQ(token_weights("(foo)", 1.0), (Segments{{"foo", 1.1}}));
  EXPECT_EQ(token_weights("(foo)(bar)", 1.0), (Segments{{"foo", 1.1}, {"bar", 1.1}}));
  EXPECT_EQ(token_weights("(foo:2.0)", 1.0), (Segments{{"foo", 2.0}}));
  EXPECT_EQ(token_weights("((foo))", 1.0), (Segments{{"foo", 1.1 * 1.1}}));
  EXPECT_EQ(token_weights("((foo):1.1)", 1.0), (Segments{{"foo", 1.1 * 1.1}}));
  EXPECT_EQ(token_weights("((foo:1.1))", 1.0), (Segments{{"foo", 1.1}}));
  EXPECT_EQ(token_weights("(foo:0.0)", 1.0), (Segments{{"foo", 0.0}}));
  EXPECT_EQ(token_weights("((foo:1.0):0.0)", 1.0), (Segments{{"foo", 1.0}}));
  EXPECT_EQ(token_weights("foo ((((lol (cat:666) attack:100)))) baz", 1.0),
            (Segments{{"foo ", 1.0}, {"lol ", 100.0}, {"cat", 666.0}, {" attack", 100.0}, {" baz", 1.0}}));
  EXPECT_EQ(token_weights("foo ((((lol (cat:666) attack):100))) baz", 1.0),
            (Segments{{"foo ", 1.0}, {"lol ", 100.0 * 1.1}, {"cat", 666.0}, {" attack", 100.0 * 1.1}, {" baz", 1.0}}));
}

TEST(PromptWeights, NestingMultipliesInDoubleLikePython) {
  auto s = prompt::token_weights("(((red)))", 1.0);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].second, 1.3310000000000004);  // 1.0 * 1.1 * 1.1 * 1.1 in double
}

TEST(PromptWeights, ColonRulesAndUnbalancedParentheses) {
  using prompt::token_weights;
  // not a number after the last colon: the 1.1 rule, and the colon stays in the text
  EXPECT_EQ(token_weights("(word:abc)", 1.0), (Segments{{"word:abc", 1.1}}));
  EXPECT_EQ(token_weights("(w:1.2.3)", 1.0), (Segments{{"w:1.2.3", 1.1}}));
  // the last colon counts; a colon at position 0 does not
  EXPECT_EQ(token_weights("(word:1.2:1.3)", 1.0), (Segments{{"word:1.2", 1.3}}));
  EXPECT_EQ(token_weights("(:1.2)", 1.0), (Segments{{":1.2", 1.1}}));
  // Python float() accepts surrounding whitespace
  EXPECT_EQ(token_weights("(  spaced  :  1.2  )", 1.0), (Segments{{"  spaced  ", 1.2}}));
  // unbalanced: an unclosed group is plain text, a stray ')' closes nothing
  EXPECT_EQ(token_weights("(unclosed paren: 1.2 test", 1.0), (Segments{{"(unclosed paren: 1.2 test", 1.0}}));
  EXPECT_EQ(token_weights("closed) paren (x)", 1.0), (Segments{{"closed) paren (x)", 1.0}}));  // depth stays < 0
  EXPECT_TRUE(token_weights("()", 1.0).empty());
  // square brackets and BREAK are plain text in ComfyUI
  EXPECT_EQ(token_weights("[low] BREAK x", 1.0), (Segments{{"[low] BREAK x", 1.0}}));
}

TEST(PromptWeights, ParseParenthesesSplitsTopLevelGroups) {
  EXPECT_EQ(prompt::parse_parentheses("(foo(bar)(test1))(test2(test3))"),
            (std::vector<std::string>{"(foo(bar)(test1))", "(test2(test3))"}));
  EXPECT_EQ(prompt::parse_parentheses("a (b) c"), (std::vector<std::string>{"a ", "(b)", " c"}));
}

TEST(PromptWeights, EscapedParenthesesAreLiteral) {
  std::string esc = prompt::escape_important("\\(foo\\)(bar)");
  EXPECT_EQ(esc, std::string("\0\2foo\0\1(bar)", 12));
  EXPECT_EQ(prompt::unescape_important(esc), "(foo)(bar)");
  auto s = prompt::token_weights(prompt::escape_important("a \\(red\\) car \\(x:1.5\\)"), 1.0);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].second, 1.0);
  EXPECT_EQ(prompt::unescape_important(s[0].first), "a (red) car (x:1.5)");
}

TEST(PythonFloat, AcceptsWhatPythonAccepts) {
  using prompt::parse_python_float;
  EXPECT_EQ(parse_python_float("1.2"), 1.2);
  EXPECT_EQ(parse_python_float(" 2.5\n"), 2.5);
  EXPECT_EQ(parse_python_float("-0.5"), -0.5);
  EXPECT_EQ(parse_python_float("+3"), 3.0);
  EXPECT_EQ(parse_python_float(".5"), 0.5);
  EXPECT_EQ(parse_python_float("5."), 5.0);
  EXPECT_EQ(parse_python_float("1e3"), 1000.0);
  EXPECT_EQ(parse_python_float("1E-2"), 0.01);
  EXPECT_EQ(parse_python_float("1_000.5"), 1000.5);
  EXPECT_EQ(parse_python_float("1.5\xE3\x80\x80"), 1.5);  // U+3000 is whitespace to Python
  EXPECT_EQ(parse_python_float("inf"), HUGE_VAL);
  EXPECT_EQ(parse_python_float("-Infinity"), -HUGE_VAL);
  EXPECT_TRUE(std::isnan(*parse_python_float("NaN")));
}

TEST(PythonFloat, RejectsWhatPythonRejects) {
  using prompt::parse_python_float;
  for (const char* bad : {"", " ", "abc", "1.2.3", "1__0", "_1", "1_", "e5", "1e", "0x10", "1 2", "--1", "."})
    EXPECT_FALSE(parse_python_float(bad).has_value()) << "'" << bad << "'";
}

// ---- chunking and embeddings with a made-up vocabulary: one token per letter word
namespace {
struct TinyVocab {
  test::TempDir dir;
  std::shared_ptr<const ClipBpe> bpe;
  TinyVocab() {
    nlohmann::json v = {{"<|startoftext|>", 49406}, {"<|endoftext|>", 49407}, {",</w>", 267}};
    int id = 320;
    for (char c = 'a'; c <= 'z'; ++c) v[std::string(1, c) + "</w>"] = id++;
    std::ofstream(dir.path / "vocab.json") << v.dump();
    std::ofstream(dir.path / "merges.txt") << "#version: 0.2\n";
    bpe = ClipBpe::load(dir.path);
  }
};
std::string repeat(const std::string& w, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += (i ? " " : "") + w;
  return s;
}
std::vector<int64_t> ids_of(const TokenChunk& c) {
  std::vector<int64_t> ids;
  for (const auto& t : c) ids.push_back(t.embedding.defined() ? -1 : t.id);
  return ids;
}
}  // namespace

TEST(Sd1Tokenizer, ChunksAre77WithStartEndAndEndPadding) {
  TinyVocab v;
  Sd1Tokenizer tok(v.bpe, std::vector<fs::path>{});
  auto chunks = tok.tokenize_with_weights("a b");
  ASSERT_EQ(chunks.size(), 1u);
  ASSERT_EQ(chunks[0].size(), 77u);
  auto ids = ids_of(chunks[0]);
  EXPECT_EQ(ids[0], 49406);
  EXPECT_EQ(ids[1], 320);
  EXPECT_EQ(ids[2], 321);
  for (size_t j = 3; j < 77; ++j) EXPECT_EQ(ids[j], 49407);
  EXPECT_EQ(chunks[0][1].word_id, 1);  // one weighted segment = one group
  EXPECT_EQ(chunks[0][3].word_id, 0);
}

TEST(Sd1Tokenizer, SeventyFiveTokensFitOneChunkSeventySixSplit) {
  TinyVocab v;
  Sd1Tokenizer tok(v.bpe, std::vector<fs::path>{});
  EXPECT_EQ(tok.tokenize_with_weights(repeat("a", 75)).size(), 1u);
  auto two = tok.tokenize_with_weights(repeat("a", 76));
  ASSERT_EQ(two.size(), 2u);  // a large group is split across chunks
  EXPECT_EQ(ids_of(two[0])[76], 49407);
  EXPECT_EQ(ids_of(two[1])[1], 320);
  EXPECT_EQ(ids_of(two[1])[2], 49407);
}

TEST(Sd1Tokenizer, ShortGroupThatDoesNotFitMovesWholeToNextChunk) {
  TinyVocab v;
  Sd1Tokenizer tok(v.bpe, std::vector<fs::path>{});
  auto chunks = tok.tokenize_with_weights(repeat("a", 73) + " (b c d:1.2)");
  ASSERT_EQ(chunks.size(), 2u);
  auto first = ids_of(chunks[0]);
  EXPECT_EQ(first[73], 320);
  EXPECT_EQ(first[74], 49407);  // end token, then padding where b c d would have gone
  EXPECT_EQ(first[75], 49407);
  auto second = ids_of(chunks[1]);
  EXPECT_EQ(second[1], 321);
  EXPECT_EQ(second[3], 323);
  EXPECT_EQ(chunks[1][1].weight, 1.2);
  EXPECT_EQ(chunks[1][1].word_id, 2);  // groups: "a ... a " (1), "b c d" (2)
}

TEST(Sd1Tokenizer, EmbeddingsFromSafetensorsAndMissingOnesDropped) {
  TinyVocab v;
  test::TempDir emb;
  fs::create_directories(emb.path / "sub");
  io::save_safetensors(emb.path / "sub" / "tiny.safetensors", {{"emb_params", at::arange(8, at::kFloat).reshape({2, 4})}});
  Sd1Tokenizer tok(v.bpe, std::vector<fs::path>{emb.path});
  // found in a subfolder; two rows -> two slots with id -1
  auto c = tok.tokenize_with_weights("embedding:tiny a")[0];
  auto ci = ids_of(c);
  EXPECT_EQ((std::vector<int64_t>(ci.begin(), ci.begin() + 5)),
            (std::vector<int64_t>{49406, -1, -1, 320, 49407}));
  EXPECT_EQ(c[2].embedding_row, 1);
  EXPECT_TRUE(at::equal(c[2].embedding, at::arange(4, 8, at::kFloat)));
  // a missing embedding is dropped, the rest of the word (after the stripped comma) is kept
  auto m = tok.tokenize_with_weights("embedding:nope, a")[0];
  auto mi = ids_of(m);
  EXPECT_EQ((std::vector<int64_t>(mi.begin(), mi.begin() + 4)),
            (std::vector<int64_t>{49406, 267, 320, 49407}));
  // a name may not leave the embeddings folder
  io::save_safetensors(emb.path / "outside.safetensors", {{"emb_params", at::zeros({1, 4})}});
  EXPECT_FALSE(load_embedding("../outside", {emb.path / "sub"}, 4).has_value());
  EXPECT_TRUE(load_embedding("outside", {emb.path}, 4).has_value());
  EXPECT_TRUE(load_embedding("sub/tiny", {emb.path}, 4).has_value());
  // "embedding:" only counts at the start of a segment or after whitespace
  auto glued = tok.tokenize_with_weights("xembedding:tiny")[0];
  EXPECT_NE(ids_of(glued)[1], -1);
  // without an embedding directory the syntax is plain text
  Sd1Tokenizer plain(v.bpe, std::nullopt);
  EXPECT_NE(ids_of(plain.tokenize_with_weights("embedding:tiny")[0])[1], -1);
}

TEST(ClipBpe, CleanUpMatchesTransformersBasicTokenizer) {
  // control/format characters removed, whitespace collapsed, lower-cased, CJK ideographs split
  EXPECT_EQ(ClipBpe::pre_tokenize("  A\tB\u200bC\n"), (std::vector<std::string>{"a", "bc"}));
  EXPECT_EQ(ClipBpe::pre_tokenize("\xE4\xB8\xAD\xE6\x96\x87x"), (std::vector<std::string>{"\xE4\xB8\xAD", "\xE6\x96\x87", "x"}));
  // CLIP's regex: contractions, letter runs, single digits, punctuation runs
  EXPECT_EQ(ClipBpe::pre_tokenize("don't 123!!x"),
            (std::vector<std::string>{"don", "'t", "1", "2", "3", "!!", "x"}));
  // NFC: e + combining acute becomes one letter
  EXPECT_EQ(ClipBpe::pre_tokenize("cafe\xCC\x81"), (std::vector<std::string>{"caf\xC3\xA9"}));
}

TEST(ClipBpe, SpecialTokensInTheTextAreSplitOffFirst) {
  TinyVocab v;
  EXPECT_EQ(v.bpe->encode("a<|endoftext|>b"), (std::vector<int64_t>{320, 49407, 321}));
  EXPECT_EQ(v.bpe->encode("<|startoftext|>, a"), (std::vector<int64_t>{49406, 267, 320}));
  // lower-cased by the clean-up, then matched by the CLIP regex as the special token
  EXPECT_EQ(v.bpe->encode("a <|ENDOFTEXT|>"), (std::vector<int64_t>{320, 49407}));
}
