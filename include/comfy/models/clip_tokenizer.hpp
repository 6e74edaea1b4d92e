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
#include <string_view>
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
  // The same from the two files' contents; `what` names them in messages.
  static std::shared_ptr<const ClipBpe> parse(std::string_view vocab_json, std::string_view merges_txt,
                                              const std::string& what);
  // The vocabulary compiled into the program (data/tokenizers/sd1), parsed once per process.
  static std::shared_ptr<const ClipBpe> embedded();
  static std::string_view embedded_vocab_json();
  static std::string_view embedded_merges_txt();
  static const char* embedded_sha256();  // "<vocab sha256> <merges sha256>" as the build hashed them
  // The SD1 vocabulary of a run: cfg.tokenizer_dir (itself, or its sd1/ subfolder) when given (an
  // override; an error when it has no vocab.json + merges.txt), else the embedded one. Cached per folder.
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

// ComfyUI SDTokenizer (max_length 77, max_word_length 8): SD1's and SDXL's clip_l pad with the end
// token; SDXL's clip_g (embedding key "clip_g") and SD2's clip_h ("clip_h") pad with 0.
class Sd1Tokenizer {
 public:
  Sd1Tokenizer(std::shared_ptr<const ClipBpe> bpe, std::optional<std::vector<std::filesystem::path>> embedding_dirs,
               int64_t embedding_size = 768, std::string embedding_key = "clip_l",
               int64_t pad_token = ClipBpe::kEndToken);
  // tokenize_with_weights: chunks of exactly 77 slots.
  std::vector<TokenChunk> tokenize_with_weights(const std::string& text) const;
  const ClipBpe& bpe() const { return *bpe_; }

 private:
  std::shared_ptr<const ClipBpe> bpe_;
  std::optional<std::vector<std::filesystem::path>> embedding_dirs_;  // nullopt: "embedding:" is plain text
  int64_t embedding_size_;
  std::string embedding_key_;
  int64_t pad_token_;
};

}  // namespace comfy
