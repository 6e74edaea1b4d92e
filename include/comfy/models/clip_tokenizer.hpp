#pragma once
// CLIP's byte-level BPE tokenizer and ComfyUI's SD1 prompt tokenizer (comfy/sd1_clip.py:
// token_weights, escape_important, SDTokenizer.tokenize_with_weights, load_embed).
//
// The BPE reproduces transformers' slow CLIPTokenizer *without ftfy* (what ComfyUI runs with its own
// requirements): BasicTokenizer clean-up (control/format characters dropped, whitespace -> space,
// spaces around CJK ideographs, NFC, lower-case, whitespace collapsed), CLIP's regex split, then BPE.
#include <ATen/core/Tensor.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace comfy {
struct RuntimeConfig;

// ---- byte-level BPE (vocab.json + merges.txt)
class ClipBpe {
 public:
  static constexpr int64_t kStartToken = 49406;  // <|startoftext|>
  static constexpr int64_t kEndToken = 49407;    // <|endoftext|>, also the pad and unknown token

  // Reads `dir`/vocab.json and `dir`/merges.txt; throws comfy::Error naming the missing file.
  static std::shared_ptr<const ClipBpe> load(const std::filesystem::path& dir);
  // The first folder holding the SD1 vocabulary, searched in this order:
  //   cfg.tokenizer_dir (itself, or its sd1/ subfolder), <each models dir>/tokenizers/sd1,
  //   <build>/share/comfy-native/tokenizers/sd1 (scripts/setup.sh), <install prefix>/share/comfy-native/tokenizers/sd1.
  // Throws comfy::Error listing the places tried when none has both files.
  static std::filesystem::path find_sd1_dir(const RuntimeConfig& cfg);
  // load(find_sd1_dir(cfg)), cached per folder for the life of the process.
  static std::shared_ptr<const ClipBpe> sd1(const RuntimeConfig& cfg);

  // Token ids of `text` without start/end tokens (= HF tokenizer(text)["input_ids"][1:-1]).
  std::vector<int64_t> encode(const std::string& text) const;
  // The clean-up and split step alone (words as the regex finds them, UTF-8); exposed for tests.
  static std::vector<std::string> pre_tokenize(const std::string& text);
  const std::unordered_map<std::string, int64_t>& vocab() const { return vocab_; }

 private:
  std::vector<std::string> bpe(const std::string& word) const;  // word: byte-encoded characters
  std::vector<int64_t> encode_plain(const std::string& text) const;  // text without special tokens
  std::unordered_map<std::string, int64_t> vocab_;
  std::unordered_map<std::string, int> merge_rank_;  // "a b" -> rank
};

// ---- ComfyUI's prompt weighting syntax
namespace prompt {
// "(a)(b) c" -> ["(a)", "(b)", " c"]: top-level parenthesised groups and the text between them.
std::vector<std::string> parse_parentheses(const std::string& text);
// Segments with their weights: "(x)" multiplies by 1.1, "(x:w)" sets w (last ':' not at position 0,
// if what follows parses as a Python float), nesting multiplies; unbalanced parentheses tolerated.
std::vector<std::pair<std::string, double>> token_weights(const std::string& text, double current_weight);
std::string escape_important(const std::string& text);    // "\(" / "\)" -> private markers
std::string unescape_important(const std::string& text);  // markers -> "(" / ")"
// Python's float(str): surrounding whitespace, sign, digits with single underscores, exponent, inf/nan.
std::optional<double> parse_python_float(const std::string& s);
}  // namespace prompt

// One slot of a 77-token chunk: a vocabulary id, or an embedding vector (id == -1, `embedding` set).
struct PromptToken {
  int64_t id = 0;
  double weight = 1.0;
  int64_t word_id = 0;          // 0 for start/end/pad, else 1-based index of the token group
  at::Tensor embedding;         // [dim] when this slot holds a textual-inversion vector
  std::string embedding_name;   // which embedding, and which of its rows
  int64_t embedding_row = -1;
};
using TokenChunk = std::vector<PromptToken>;

// Loads a textual-inversion embedding as ComfyUI's load_embed does: `name` (or name + .safetensors /
// .pt / .bin) under any of `dirs` or their subfolders, never outside them. .pt / .bin files (torch.save
// zip) are read with the safe reader (io::read_pt_file); one it refuses falls back to the raw float32
// data records, as ComfyUI's safe_load_embed_zip. Returns the vectors ([n, dim] or [dim]) as float32,
// or nullopt when not found (or not readable, with a warning).
std::optional<at::Tensor> load_embedding(const std::string& name, const std::vector<std::filesystem::path>& dirs,
                                         int64_t embedding_size, const std::string& embed_key = "clip_l");

// ComfyUI SDTokenizer for SD1 (max_length 77, pad with end token, max_word_length 8).
class Sd1Tokenizer {
 public:
  Sd1Tokenizer(std::shared_ptr<const ClipBpe> bpe, std::optional<std::vector<std::filesystem::path>> embedding_dirs,
               int64_t embedding_size = 768);
  // tokenize_with_weights: chunks of exactly 77 slots.
  std::vector<TokenChunk> tokenize_with_weights(const std::string& text) const;
  const ClipBpe& bpe() const { return *bpe_; }

 private:
  std::shared_ptr<const ClipBpe> bpe_;
  std::optional<std::vector<std::filesystem::path>> embedding_dirs_;  // nullopt: "embedding:" is plain text
  int64_t embedding_size_;
};

}  // namespace comfy
