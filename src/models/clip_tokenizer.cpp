// CLIP byte-level BPE as transformers' slow CLIPTokenizer runs it without ftfy (ComfyUI's setup):
// BasicTokenizer clean-up, CLIP's regex split, GPT-2 byte mapping, BPE with merges.txt ranks.
#include "comfy/models/clip_tokenizer.hpp"

#include <nlohmann/json.hpp>
#include <utf8proc.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <map>
#include <mutex>
#include <sstream>

#include "comfy/build_config.hpp"
#include "comfy/core/error.hpp"
#include "comfy/core/runtime.hpp"
#include "comfy/io/files.hpp"

namespace comfy {
namespace fs = std::filesystem;

namespace {

std::vector<int32_t> decode_utf8(const std::string& s) {
  std::vector<int32_t> out;
  out.reserve(s.size());
  auto p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  utf8proc_ssize_t n = static_cast<utf8proc_ssize_t>(s.size()), i = 0;
  while (i < n) {
    int32_t cp = -1;
    utf8proc_ssize_t len = utf8proc_iterate(p + i, n - i, &cp);
    if (len <= 0) {  // invalid byte: Python would never hold it; treat as U+FFFD (dropped by the clean-up)
      out.push_back(0xFFFD);
      ++i;
    } else {
      out.push_back(cp);
      i += len;
    }
  }
  return out;
}

void append_utf8(std::string& s, int32_t cp) {
  utf8proc_uint8_t buf[4];
  auto len = utf8proc_encode_char(cp, buf);
  s.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(len));
}

std::string encode_utf8(const std::vector<int32_t>& cps) {
  std::string s;
  s.reserve(cps.size());
  for (int32_t c : cps) append_utf8(s, c);
  return s;
}

bool is_letter(utf8proc_category_t c) {
  return c == UTF8PROC_CATEGORY_LU || c == UTF8PROC_CATEGORY_LL || c == UTF8PROC_CATEGORY_LT ||
         c == UTF8PROC_CATEGORY_LM || c == UTF8PROC_CATEGORY_LO;
}
bool is_number(utf8proc_category_t c) {
  return c == UTF8PROC_CATEGORY_ND || c == UTF8PROC_CATEGORY_NL || c == UTF8PROC_CATEGORY_NO;
}

// Python's str.isspace() / str.split() separators (also the regex module's \s for these strings).
bool is_py_space(int32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// BasicTokenizer._is_control: categories C* except \t \n \r.
bool is_control(int32_t c) {
  if (c == '\t' || c == '\n' || c == '\r') return false;
  auto cat = utf8proc_category(c);
  return cat == UTF8PROC_CATEGORY_CN || cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF ||
         cat == UTF8PROC_CATEGORY_CS || cat == UTF8PROC_CATEGORY_CO;
}
// BasicTokenizer._is_whitespace
bool is_bt_whitespace(int32_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || utf8proc_category(c) == UTF8PROC_CATEGORY_ZS;
}
// BasicTokenizer._is_chinese_char (CJK Unified Ideographs blocks)
bool is_cjk(int32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

bool is_cased(int32_t c) {
  auto cat = utf8proc_category(c);
  return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT;
}
bool is_case_ignorable(int32_t c) {
  auto cat = utf8proc_category(c);
  return cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_ME || cat == UTF8PROC_CATEGORY_CF ||
         cat == UTF8PROC_CATEGORY_LM || cat == UTF8PROC_CATEGORY_SK || c == '\'' || c == '.' || c == ':' ||
         c == 0xB7 || c == 0x2019;
}

// Python's str.lower(): simple lower-case mapping plus the two special cases of SpecialCasing.txt it
// applies (U+0130 -> "i\u0307", final sigma).
std::vector<int32_t> py_lower(const std::vector<int32_t>& in) {
  std::vector<int32_t> out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    int32_t c = in[i];
    if (c == 0x130) {
      out.push_back('i');
      out.push_back(0x307);
    } else if (c == 0x3A3) {
      bool before = false, after = false;
      for (size_t j = i; j-- > 0;) {
        if (is_case_ignorable(in[j])) continue;
        before = is_cased(in[j]);
        break;
      }
      for (size_t j = i + 1; j < in.size(); ++j) {
        if (is_case_ignorable(in[j])) continue;
        after = is_cased(in[j]);
        break;
      }
      out.push_back(before && !after ? 0x3C2 : 0x3C3);
    } else {
      out.push_back(utf8proc_tolower(c));
    }
  }
  return out;
}

std::vector<std::vector<int32_t>> split_py_whitespace(const std::vector<int32_t>& cps) {
  std::vector<std::vector<int32_t>> out;
  std::vector<int32_t> cur;
  for (int32_t c : cps) {
    if (is_py_space(c)) {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

// BasicTokenizer(strip_accents=False, do_split_on_punc=False).tokenize(text), joined with spaces.
std::vector<int32_t> basic_clean(const std::string& text) {
  std::vector<int32_t> cleaned;
  for (int32_t c : decode_utf8(text)) {
    if (c == 0 || c == 0xFFFD || is_control(c)) continue;
    if (is_bt_whitespace(c)) {
      cleaned.push_back(' ');
    } else if (is_cjk(c)) {
      cleaned.push_back(' ');
      cleaned.push_back(c);
      cleaned.push_back(' ');
    } else {
      cleaned.push_back(c);
    }
  }
  std::string utf8 = encode_utf8(cleaned);
  utf8proc_uint8_t* nfc = utf8proc_NFC(reinterpret_cast<const utf8proc_uint8_t*>(utf8.c_str()));
  std::vector<int32_t> normalized;
  if (nfc) {
    normalized = decode_utf8(reinterpret_cast<const char*>(nfc));
    std::free(nfc);
  } else {
    normalized = cleaned;
  }
  std::vector<int32_t> joined;
  for (auto& tok : split_py_whitespace(normalized)) {
    if (!joined.empty()) joined.push_back(' ');
    auto low = py_lower(tok);
    joined.insert(joined.end(), low.begin(), low.end());
  }
  // whitespace_tokenize(" ".join(...)) once more: lower-casing adds no whitespace, so this is it.
  return joined;
}

bool starts_with_ci(const std::vector<int32_t>& s, size_t i, const char* lit) {
  for (size_t k = 0; lit[k]; ++k) {
    if (i + k >= s.size()) return false;
    int32_t c = s[i + k];
    if (c < 128 && c >= 'A' && c <= 'Z') c += 32;
    if (c != lit[k]) return false;
  }
  return true;
}

// The regex <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
// (IGNORECASE) applied with findall.
std::vector<std::string> clip_regex_split(const std::vector<int32_t>& s) {
  std::vector<std::string> out;
  size_t i = 0;
  auto fold = [](int32_t c) -> int32_t {  // IGNORECASE's simple case folding, for the contraction letters
    if (c == 0x17F) return 's';           // LATIN SMALL LETTER LONG S folds to 's'
    if (c == 0x212A) return 'k';
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
  };
  while (i < s.size()) {
    size_t len = 0;
    if (starts_with_ci(s, i, "<|startoftext|>")) {
      len = 15;
    } else if (starts_with_ci(s, i, "<|endoftext|>")) {
      len = 13;
    } else if (s[i] == '\'' && i + 1 < s.size()) {
      int32_t a = fold(s[i + 1]);
      int32_t b = i + 2 < s.size() ? fold(s[i + 2]) : 0;
      if (a == 's' || a == 't' || a == 'm' || a == 'd') len = 2;
      else if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) len = 3;
    }
    if (len == 0) {
      auto cat = utf8proc_category(s[i]);
      if (is_letter(cat)) {
        len = 1;
        while (i + len < s.size() && is_letter(utf8proc_category(s[i + len]))) ++len;
      } else if (is_number(cat)) {
        len = 1;
      } else if (!is_py_space(s[i])) {
        len = 1;
        while (i + len < s.size()) {
          int32_t c = s[i + len];
          auto ct = utf8proc_category(c);
          if (is_py_space(c) || is_letter(ct) || is_number(ct)) break;
          ++len;
        }
      }
    }
    if (len == 0) {  // whitespace: findall skips it
      ++i;
      continue;
    }
    out.push_back(encode_utf8(std::vector<int32_t>(s.begin() + i, s.begin() + i + len)));
    i += len;
  }
  return out;
}

// GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to 256+n.
const std::vector<std::string>& byte_encoder() {
  static const std::vector<std::string> table = [] {
    std::vector<int32_t> map(256, -1);
    for (int b = '!'; b <= '~'; ++b) map[b] = b;
    for (int b = 0xA1; b <= 0xAC; ++b) map[b] = b;
    for (int b = 0xAE; b <= 0xFF; ++b) map[b] = b;
    int n = 0;
    for (int b = 0; b < 256; ++b)
      if (map[b] < 0) map[b] = 256 + n++;
    std::vector<std::string> t(256);
    for (int b = 0; b < 256; ++b) append_utf8(t[b], map[b]);
    return t;
  }();
  return table;
}

}  // namespace

std::vector<std::string> ClipBpe::pre_tokenize(const std::string& text) {
  return clip_regex_split(basic_clean(text));
}

std::vector<std::string> ClipBpe::bpe(const std::string& token) const {
  if (token == "<|startoftext|>" || token == "<|endoftext|>") return {token};
  // symbols: one per (byte-encoded) character, the last one carries the end-of-word marker
  std::vector<std::string> word;
  auto cps = decode_utf8(token);
  for (int32_t c : cps) {
    std::string s;
    append_utf8(s, c);
    word.push_back(std::move(s));
  }
  if (word.empty()) return {};
  word.back() += "</w>";
  while (word.size() > 1) {
    int best_rank = INT_MAX;
    size_t best = 0;
    for (size_t i = 0; i + 1 < word.size(); ++i) {
      auto it = merge_rank_.find(word[i] + " " + word[i + 1]);
      if (it != merge_rank_.end() && it->second < best_rank) {
        best_rank = it->second;
        best = i;
      }
    }
    if (best_rank == INT_MAX) break;
    const std::string first = word[best], second = word[best + 1];
    std::vector<std::string> merged;
    merged.reserve(word.size());
    for (size_t i = 0; i < word.size();) {
      if (i + 1 < word.size() && word[i] == first && word[i + 1] == second) {
        merged.push_back(first + second);
        i += 2;
      } else {
        merged.push_back(word[i]);
        ++i;
      }
    }
    word = std::move(merged);
  }
  return word;
}

std::vector<int64_t> ClipBpe::encode(const std::string& text) const {
  // transformers first splits the text on its special tokens (exact, case-sensitive) and tokenizes
  // the pieces in between on their own.
  std::vector<int64_t> ids;
  static const std::string kSpecial[2] = {"<|startoftext|>", "<|endoftext|>"};
  size_t start = 0;
  while (true) {
    size_t best = std::string::npos, which = 0;
    for (size_t k = 0; k < 2; ++k) {
      size_t p = text.find(kSpecial[k], start);
      if (p < best) best = p, which = k;
    }
    auto part = encode_plain(text.substr(start, best == std::string::npos ? std::string::npos : best - start));
    ids.insert(ids.end(), part.begin(), part.end());
    if (best == std::string::npos) break;
    ids.push_back(which == 0 ? kStartToken : kEndToken);
    start = best + kSpecial[which].size();
  }
  return ids;
}

std::vector<int64_t> ClipBpe::encode_plain(const std::string& text) const {
  const auto& enc = byte_encoder();
  std::vector<int64_t> ids;
  for (const auto& piece : pre_tokenize(text)) {
    std::string mapped;
    for (unsigned char b : piece) mapped += enc[b];
    for (const auto& sym : bpe(mapped)) {
      auto it = vocab_.find(sym);
      ids.push_back(it == vocab_.end() ? kEndToken : it->second);  // unknown -> <|endoftext|>
    }
  }
  return ids;
}

std::shared_ptr<const ClipBpe> ClipBpe::load(const fs::path& dir) {
  auto bpe = std::make_shared<ClipBpe>();
  const fs::path vocab_path = dir / "vocab.json", merges_path = dir / "merges.txt";
  for (const auto& p : {vocab_path, merges_path})
    if (!fs::is_regular_file(p)) throw Error("file_not_found", "CLIP tokenizer file not found: " + p.string());
  nlohmann::json vocab;
  try {
    vocab = nlohmann::json::parse(io::read_file(vocab_path));
  } catch (const nlohmann::json::exception& e) {
    throw Error("invalid_tokenizer", "cannot parse " + vocab_path.string() + ": " + e.what());
  }
  if (!vocab.is_object()) throw Error("invalid_tokenizer", vocab_path.string() + " is not a JSON object");
  for (auto it = vocab.begin(); it != vocab.end(); ++it) bpe->vocab_[it.key()] = it.value().get<int64_t>();

  // transformers reads lines 1 .. 49152-256-2 of merges.txt (the first line is the version header).
  std::istringstream merges(io::read_file(merges_path));
  std::string line;
  std::getline(merges, line);
  constexpr int kMerges = 49152 - 256 - 2;
  int rank = 0;
  while (rank < kMerges && std::getline(merges, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto sp = line.find(' ');
    if (sp == std::string::npos) continue;
    bpe->merge_rank_.emplace(line, rank++);
  }
  if (!bpe->vocab_.count("<|startoftext|>") || !bpe->vocab_.count("<|endoftext|>"))
    throw Error("invalid_tokenizer", vocab_path.string() + " lacks the CLIP special tokens");
  return bpe;
}

fs::path ClipBpe::find_sd1_dir(const RuntimeConfig& cfg) {
  std::vector<fs::path> tried;
  auto ok = [](const fs::path& d) { return fs::is_regular_file(d / "vocab.json") && fs::is_regular_file(d / "merges.txt"); };
  if (cfg.tokenizer_dir) {
    tried.push_back(*cfg.tokenizer_dir);
    tried.push_back(*cfg.tokenizer_dir / "sd1");
  }
  for (const auto& m : cfg.models_dirs) tried.push_back(m / "tokenizers" / "sd1");
  tried.push_back(fs::path(build_config::kBinaryDir) / "share" / "comfy-native" / "tokenizers" / "sd1");
  // next to an installed binary: <prefix>/bin/comfy-native -> <prefix>/share/comfy-native
  char exe[4096];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n > 0) {
    exe[n] = 0;
    tried.push_back(fs::path(exe).parent_path().parent_path() / "share" / "comfy-native" / "tokenizers" / "sd1");
  }
  tried.push_back(fs::path(build_config::kShareDir) / "tokenizers" / "sd1");
  for (const auto& d : tried)
    if (ok(d)) return d;
  std::string where;
  for (const auto& d : tried) where += "\n  " + d.string();
  throw Error("file_not_found",
              "CLIP vocabulary (vocab.json + merges.txt) not found; looked in:" + where +
                  "\n(scripts/setup.sh installs it into the build's share folder; or pass --tokenizer-dir)");
}

std::shared_ptr<const ClipBpe> ClipBpe::sd1(const RuntimeConfig& cfg) {
  // Shared by every run of the process: guarded, and keyed by the folder and the state of both files,
  // so an edited vocabulary is read again.
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<const ClipBpe>> cache;
  const fs::path dir = fs::weakly_canonical(find_sd1_dir(cfg));
  std::string key = dir.string();
  for (const char* f : {"vocab.json", "merges.txt"}) {
    std::error_code ec;
    const auto size = fs::file_size(dir / f, ec);
    const auto time = fs::last_write_time(dir / f, ec).time_since_epoch().count();
    key += "\n" + std::to_string(size) + ":" + std::to_string(time);
  }
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = cache[key];
  if (!slot) slot = load(dir);
  return slot;
}

}  // namespace comfy
