// ComfyUI's SD1 prompt tokenizer (comfy/sd1_clip.py, v0.8.0): weight syntax, textual-inversion
// embeddings, and the 77-token chunking with its "keep short groups together" rule.
#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdlib>
#include <limits>

#include "comfy/core/error.hpp"
#include "comfy/io/pt_file.hpp"
#include "comfy/io/safetensors.hpp"
#include "comfy/models/clip_tokenizer.hpp"

namespace comfy {
namespace fs = std::filesystem;

namespace prompt {

std::vector<std::string> parse_parentheses(const std::string& text) {
  std::vector<std::string> result;
  std::string current;
  int nesting = 0;
  for (char c : text) {
    if (c == '(') {
      if (nesting == 0) {
        if (!current.empty()) result.push_back(current);
        current = "(";
      } else {
        current += c;
      }
      ++nesting;
    } else if (c == ')') {
      --nesting;
      if (nesting == 0) {
        result.push_back(current + ")");
        current.clear();
      } else {
        current += c;
      }
    } else {
      current += c;
    }
  }
  if (!current.empty()) result.push_back(current);
  return result;
}

std::vector<std::pair<std::string, double>> token_weights(const std::string& text, double current_weight) {
  std::vector<std::pair<std::string, double>> out;
  for (std::string x : parse_parentheses(text)) {
    double weight = current_weight;
    if (x.size() >= 2 && x.front() == '(' && x.back() == ')') {
      x = x.substr(1, x.size() - 2);
      auto colon = x.rfind(':');
      weight *= 1.1;  // every group multiplies, unless it states its own weight
      if (colon != std::string::npos && colon > 0) {
        if (auto w = parse_python_float(x.substr(colon + 1))) {
          weight = *w;
          x = x.substr(0, colon);
        }
      }
      auto inner = token_weights(x, weight);
      out.insert(out.end(), inner.begin(), inner.end());
    } else {
      out.emplace_back(x, current_weight);
    }
  }
  return out;
}

namespace {
void replace_all(std::string& s, const std::string& from, const std::string& to) {
  size_t pos = 0;
  while ((pos = s.find(from, pos)) != std::string::npos) {
    s.replace(pos, from.size(), to);
    pos += to.size();
  }
}
const std::string kEscClose("\0\1", 2), kEscOpen("\0\2", 2);

// Python str.isspace() for a code point given as UTF-8 at s[i]; returns its byte length or 0.
size_t py_space_len(const std::string& s, size_t i) {
  unsigned char c = s[i];
  if ((c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20)) return 1;
  if (c == 0xC2 && i + 1 < s.size() && (static_cast<unsigned char>(s[i + 1]) == 0x85 || static_cast<unsigned char>(s[i + 1]) == 0xA0)) return 2;
  if (c == 0xE1 && s.compare(i, 3, "\xE1\x9A\x80") == 0) return 3;  // U+1680
  if (c == 0xE2 && i + 2 < s.size()) {
    unsigned char b = s[i + 1], d = s[i + 2];
    if (b == 0x80 && ((d >= 0x80 && d <= 0x8A) || d == 0xA8 || d == 0xA9 || d == 0xAF)) return 3;  // U+2000-200A, 2028, 2029, 202F
    if (b == 0x81 && d == 0x9F) return 3;                                                           // U+205F
  }
  if (c == 0xE3 && s.compare(i, 3, "\xE3\x80\x80") == 0) return 3;  // U+3000
  return 0;
}
}  // namespace

std::string escape_important(const std::string& text) {
  std::string t = text;
  replace_all(t, "\\)", kEscClose);
  replace_all(t, "\\(", kEscOpen);
  return t;
}

std::string unescape_important(const std::string& text) {
  std::string t = text;
  replace_all(t, kEscClose, ")");
  replace_all(t, kEscOpen, "(");
  return t;
}

std::optional<double> parse_python_float(const std::string& str) {
  // strip Python whitespace on both sides
  size_t b = 0, e = str.size();
  while (b < e) {
    size_t n = py_space_len(str, b);
    if (!n) break;
    b += n;
  }
  while (e > b) {
    size_t k = e - 1;  // back up to the start of the last code point
    while (k > b && (static_cast<unsigned char>(str[k]) & 0xC0) == 0x80) --k;
    size_t n = py_space_len(str, k);
    if (!n || k + n != e) break;
    e = k;
  }
  std::string s = str.substr(b, e - b);
  if (s.empty()) return std::nullopt;
  std::string lower;
  for (char c : s) lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  size_t p = 0;
  bool neg = false;
  if (lower[p] == '+' || lower[p] == '-') neg = lower[p++] == '-';
  std::string rest = lower.substr(p);
  if (rest == "inf" || rest == "infinity") return neg ? -HUGE_VAL : HUGE_VAL;
  if (rest == "nan") return std::numeric_limits<double>::quiet_NaN();
  // digits with single underscores between digits
  std::string clean = neg ? "-" : "";
  auto digits = [&](size_t& i) {
    size_t start = i;
    while (i < lower.size()) {
      if (std::isdigit(static_cast<unsigned char>(lower[i]))) {
        clean += lower[i++];
      } else if (lower[i] == '_' && i > start && i + 1 < lower.size() &&
                 std::isdigit(static_cast<unsigned char>(lower[i - 1])) &&
                 std::isdigit(static_cast<unsigned char>(lower[i + 1]))) {
        ++i;
      } else {
        break;
      }
    }
    return i > start;
  };
  bool int_part = digits(p);
  bool frac_part = false;
  if (p < lower.size() && lower[p] == '.') {
    clean += '.';
    ++p;
    frac_part = digits(p);
  }
  if (!int_part && !frac_part) return std::nullopt;
  if (p < lower.size() && lower[p] == 'e') {
    clean += 'e';
    ++p;
    if (p < lower.size() && (lower[p] == '+' || lower[p] == '-')) clean += lower[p++];
    if (!digits(p)) return std::nullopt;
  }
  if (p != lower.size()) return std::nullopt;
  return std::strtod(clean.c_str(), nullptr);  // correctly rounded, like Python
}

}  // namespace prompt

// ---- textual-inversion embeddings (comfy/sd1_clip.py load_embed)
namespace {

bool inside(const fs::path& root, const fs::path& p) {
  auto r = root.begin(), q = p.begin();
  for (; r != root.end(); ++r, ++q) {
    if (r->empty()) continue;  // trailing separator
    if (q == p.end() || *r != *q) return false;
  }
  return true;
}

std::vector<fs::path> expand_directories(const std::vector<fs::path>& dirs) {
  std::vector<fs::path> out;
  for (const auto& d : dirs) {
    out.push_back(d);
    std::error_code ec;
    if (!fs::is_directory(d, ec)) continue;
    std::vector<fs::path> sub;
    for (auto it = fs::recursive_directory_iterator(d, fs::directory_options::follow_directory_symlink |
                                                             fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_directory(ec)) sub.push_back(it->path());
    }
    std::sort(sub.begin(), sub.end());
    out.insert(out.end(), sub.begin(), sub.end());
  }
  return out;
}

// bundled_embed: the tensors whose keys start with `prefix` and end with `suffix`, concatenated in order.
at::Tensor bundled(const io::PtValue& d, const std::string& prefix, const std::string& suffix) {
  std::vector<at::Tensor> parts;
  for (const auto& [key, v] : d.dict) {
    const std::string& k = key.s;
    if (key.kind == io::PtValue::Kind::Str && k.size() >= prefix.size() + suffix.size() &&
        k.compare(0, prefix.size(), prefix) == 0 && k.compare(k.size() - suffix.size(), suffix.size(), suffix) == 0) {
      if (!v.is_tensor()) throw Error("invalid_embedding", "'" + k + "' is a " + v.kind_name() + ", not a tensor");
      parts.push_back(v.tensor);
    }
  }
  return parts.empty() ? at::Tensor() : at::cat(parts, 0);
}

const io::PtValue& first_value(const io::PtValue& d, const std::string& what) {
  if (d.kind != io::PtValue::Kind::Dict || d.dict.empty())
    throw Error("invalid_embedding", what + " is " + (d.kind == io::PtValue::Kind::Dict ? "an empty dict" : "a " + d.kind_name()));
  return d.dict.front().second;
}

// The vectors of a loaded embedding file, picked as load_embed does: string_to_param (A1111), a list of
// dicts (vectors of width embedding_size), the embed_key entry, LoRA-bundled "bundle_emb.*" entries, else
// the first entry. ComfyUI fails on a bare tensor (Tensor.__contains__ rejects a str); it is taken as is.
at::Tensor pick_embedding(const io::PtValue& e, int64_t embedding_size, const std::string& embed_key) {
  using K = io::PtValue::Kind;
  const io::PtValue* out = nullptr;
  if (e.is_tensor()) {
    out = &e;
  } else if (const auto* stp = e.find("string_to_param")) {
    out = &first_value(*stp, "string_to_param");
  } else if (e.kind == K::List) {
    std::vector<at::Tensor> rows;
    for (const auto& item : e.items)
      for (const auto& [k, t] : item.dict) {
        if (!t.is_tensor() || t.tensor.dim() == 0 || t.tensor.size(-1) != embedding_size) continue;
        rows.push_back(t.tensor.reshape({-1, t.tensor.size(-1)}));
      }
    if (rows.empty()) throw Error("invalid_embedding", "no vector of width " + std::to_string(embedding_size) + " in the list");
    return at::cat(rows, 0);
  } else if (const auto* v = e.find(embed_key)) {
    out = v;
  } else {
    if (e.kind != K::Dict) throw Error("invalid_embedding", "the file holds a " + e.kind_name() + ", not a dict or tensor");
    at::Tensor t = bundled(e, "bundle_emb.", ".string_to_param.*");
    if (!t.defined()) t = bundled(e, "bundle_emb.", "." + embed_key);
    if (t.defined()) return t;
    out = &first_value(e, "the embedding file");
  }
  if (!out->is_tensor()) throw Error("invalid_embedding", "the embedding entry is a " + out->kind_name() + ", not a tensor");
  return out->tensor;
}

// safe_load_embed_zip: the last "data/" record of at least 768 float32 values, as [n, 768] (or [n, 1024]).
std::optional<at::Tensor> embedding_from_raw_records(const fs::path& path) {
  for (const auto& [name, bytes] : io::pt_data_records(path)) {
    const int64_t number = static_cast<int64_t>(bytes.size() / 4);
    if (number < 768) continue;
    const int64_t width = number % 768 == 0 ? 768 : 1024;
    if (number % width != 0)
      throw Error("invalid_embedding", name + ": " + std::to_string(number) + " values are not rows of 768 or 1024");
    at::Tensor t = at::empty({number / width, width}, at::kFloat);
    std::memcpy(t.data_ptr(), bytes.data(), size_t(number) * 4);
    return t;
  }
  return std::nullopt;
}

}  // namespace

std::optional<at::Tensor> load_embedding(const std::string& name, const std::vector<fs::path>& dirs,
                                         int64_t embedding_size, const std::string& embed_key) {
  fs::path found;
  for (const auto& dir : expand_directories(dirs)) {
    std::error_code ec;
    fs::path root = fs::absolute(dir, ec).lexically_normal();
    fs::path path = (root / name).lexically_normal();
    if (ec || !inside(root, path)) continue;
    if (fs::is_regular_file(path, ec)) {
      found = path;
    } else {
      for (const char* ext : {".safetensors", ".pt", ".bin"}) {
        fs::path t = path;
        t += ext;
        if (fs::is_regular_file(t, ec)) {
          found = t;
          break;
        }
      }
    }
    if (!found.empty()) break;
  }
  if (found.empty()) return std::nullopt;

  std::string lower = found.string();
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  const bool is_safetensors = lower.size() >= 12 && lower.compare(lower.size() - 12, 12, ".safetensors") == 0;
  try {
    io::PtValue e;
    if (is_safetensors) {
      auto st = io::SafeTensors::open(found);
      e.kind = io::PtValue::Kind::Dict;
      for (const auto& k : st->names()) {  // sorted, as safetensors' load_file returns them
        io::PtValue key, v;
        key.kind = io::PtValue::Kind::Str;
        key.s = k;
        v.kind = io::PtValue::Kind::Tensor;
        v.tensor = st->get(k);
        e.dict.emplace_back(std::move(key), std::move(v));
      }
    } else {
      try {
        e = io::read_pt_file(found);
      } catch (const Error& err) {
        // ComfyUI: torch.load(weights_only=True) refused the file -> safe_load_embed_zip
        spdlog::debug("{}; reading the raw tensor data instead", err.what());
        auto raw = embedding_from_raw_records(found);
        if (!raw) throw Error("invalid_embedding", std::string(err.what()) + "; and no data record holds 768 or more values");
        return raw;
      }
    }
    return pick_embedding(e, embedding_size, embed_key).to(at::kFloat).contiguous().clone();
  } catch (const std::exception& e) {
    spdlog::warn("{}\n\nerror loading embedding, skipping loading: {}", e.what(), name);
    return std::nullopt;
  }
}

// ---- SDTokenizer.tokenize_with_weights
Sd1Tokenizer::Sd1Tokenizer(std::shared_ptr<const ClipBpe> bpe, std::optional<std::vector<fs::path>> embedding_dirs,
                           int64_t embedding_size, std::string embedding_key, int64_t pad_token)
    : bpe_(std::move(bpe)),
      embedding_dirs_(std::move(embedding_dirs)),
      embedding_size_(embedding_size),
      embedding_key_(std::move(embedding_key)),
      pad_token_(pad_token) {}

namespace {

constexpr int64_t kMaxLength = 77;
constexpr size_t kMaxWordLength = 8;
const std::string kEmbeddingIdentifier = "embedding:";

struct GroupToken {
  int64_t id;
  double weight;
  at::Tensor embedding;
  std::string name;
  int64_t row;
};

std::vector<std::string> py_split(const std::string& s) {  // str.split() on ASCII + common Unicode spaces
  std::vector<std::string> out;
  std::string cur;
  for (size_t i = 0; i < s.size();) {
    size_t n = 0;
    // reuse the float parser's notion of whitespace through a tiny probe
    unsigned char c = s[i];
    if ((c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20)) n = 1;
    else if (c == 0xC2 && i + 1 < s.size() && (static_cast<unsigned char>(s[i + 1]) == 0x85 || static_cast<unsigned char>(s[i + 1]) == 0xA0)) n = 2;
    else if (c == 0xE2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80) {
      unsigned char d = s[i + 2];
      if ((d >= 0x80 && d <= 0x8A) || d == 0xA8 || d == 0xA9 || d == 0xAF) n = 3;
    } else if (s.compare(i, 3, "\xE3\x80\x80") == 0 || s.compare(i, 3, "\xE2\x81\x9F") == 0 ||
               s.compare(i, 3, "\xE1\x9A\x80") == 0) {
      n = 3;
    }
    if (n) {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
      i += n;
    } else {
      cur += s[i++];
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

bool ends_with_space(const std::string& s, size_t end) {  // is the code point ending at `end` whitespace?
  if (end == 0) return false;
  size_t k = end - 1;
  while (k > 0 && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
  std::string cp = s.substr(k, end - k);
  return py_split(cp).empty();
}

// re.split(r'(?<=\s)embedding:', text), with "embedding:" put back on every piece after the first.
std::vector<std::string> split_embeddings(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0, pos = 0;
  while ((pos = text.find(kEmbeddingIdentifier, pos)) != std::string::npos) {
    if (ends_with_space(text, pos)) {
      out.push_back(text.substr(start, pos - start));
      start = pos;
    }
    pos += kEmbeddingIdentifier.size();
  }
  out.push_back(text.substr(start));
  return out;
}

}  // namespace

std::vector<TokenChunk> Sd1Tokenizer::tokenize_with_weights(const std::string& text) const {
  auto parsed = prompt::token_weights(prompt::escape_important(text), 1.0);

  std::vector<std::vector<GroupToken>> groups;
  for (const auto& [segment, weight] : parsed) {
    for (std::string word : split_embeddings(prompt::unescape_important(segment))) {
      if (word.empty()) continue;
      if (embedding_dirs_ && word.compare(0, kEmbeddingIdentifier.size(), kEmbeddingIdentifier) == 0) {
        std::string name = word.substr(kEmbeddingIdentifier.size());
        while (!name.empty() && name.front() == '\n') name.erase(0, 1);
        while (!name.empty() && name.back() == '\n') name.pop_back();
        // _try_get_embedding: first whitespace-separated word; anything from '<' or '[' on is text
        auto parts = py_split(name);
        if (parts.empty())  // ComfyUI raises IndexError on an empty name
          throw Error("IndexError", "list index out of range (empty name after 'embedding:' in the prompt)");
        name = parts[0];
        std::string leftover;
        for (size_t i = 1; i < parts.size(); ++i) leftover += (i > 1 ? " " : "") + parts[i];
        auto cut = name.find_first_of("<[");
        if (cut != std::string::npos) {
          leftover = name.substr(cut) + (leftover.empty() ? "" : " " + leftover);
          name = name.substr(0, cut);
        }
        auto embed = load_embedding(name, *embedding_dirs_, embedding_size_, embedding_key_);
        if (!embed) {
          size_t b = name.find_first_not_of(','), e = name.find_last_not_of(',');
          std::string stripped = b == std::string::npos ? "" : name.substr(b, e - b + 1);
          if (stripped.size() < name.size()) {
            embed = load_embedding(stripped, *embedding_dirs_, embedding_size_, embedding_key_);
            leftover = name.substr(stripped.size()) + " " + leftover;
          }
        }
        if (!embed) {
          spdlog::warn("warning, embedding:{} does not exist, ignoring", name);
        } else {
          std::vector<GroupToken> g;
          at::Tensor t = *embed;
          if (t.dim() == 1) {
            g.push_back({-1, weight, t, name, 0});
          } else {
            for (int64_t r = 0; r < t.size(0); ++r) g.push_back({-1, weight, t[r], name, r});
          }
          groups.push_back(std::move(g));
        }
        if (leftover.empty()) continue;
        word = leftover;
      }
      std::vector<GroupToken> g;
      for (int64_t id : bpe_->encode(word)) g.push_back({id, weight, {}, {}, -1});
      groups.push_back(std::move(g));
    }
  }

  // reshape into 77-token chunks: start, up to 75 tokens, end, end-padding
  auto slot = [](int64_t id, double w, int64_t word) {
    PromptToken t;
    t.id = id;
    t.weight = w;
    t.word_id = word;
    return t;
  };
  auto from_group = [](const GroupToken& g, int64_t word) {
    PromptToken t;
    t.id = g.id;
    t.weight = g.weight;
    t.word_id = word;
    t.embedding = g.embedding;
    t.embedding_name = g.name;
    t.embedding_row = g.row;
    return t;
  };
  const int64_t start = ClipBpe::kStartToken, end = ClipBpe::kEndToken, pad = pad_token_;
  std::vector<TokenChunk> chunks;
  TokenChunk batch{slot(start, 1.0, 0)};
  for (size_t i = 0; i < groups.size(); ++i) {
    std::vector<GroupToken> group = groups[i];
    const int64_t word = static_cast<int64_t>(i) + 1;
    const bool is_large = group.size() >= kMaxWordLength;
    while (!group.empty()) {
      if (static_cast<int64_t>(group.size() + batch.size()) > kMaxLength - 1) {
        const int64_t remaining = kMaxLength - static_cast<int64_t>(batch.size()) - 1;
        if (is_large) {  // split the group across chunks
          for (int64_t k = 0; k < remaining; ++k) batch.push_back(from_group(group[k], word));
          batch.push_back(slot(end, 1.0, 0));
          group.erase(group.begin(), group.begin() + remaining);
        } else {  // move the whole group to the next chunk
          batch.push_back(slot(end, 1.0, 0));
          for (int64_t k = 0; k < remaining; ++k) batch.push_back(slot(pad, 1.0, 0));
        }
        chunks.push_back(std::move(batch));
        batch = TokenChunk{slot(start, 1.0, 0)};
      } else {
        for (const auto& g : group) batch.push_back(from_group(g, word));
        group.clear();
      }
    }
  }
  batch.push_back(slot(end, 1.0, 0));
  while (static_cast<int64_t>(batch.size()) < kMaxLength) batch.push_back(slot(pad, 1.0, 0));
  chunks.push_back(std::move(batch));
  return chunks;
}

}  // namespace comfy
