// Dynamic prompts and filename-prefix patterns, as the frontend applies them when queueing.
#include "serialize_value.hpp"

#include <algorithm>
#include <ctime>
#include <random>
#include <set>
#include <vector>

namespace comfy::ui {

namespace {

std::string strip_comments(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] == '/' && i + 1 < s.size() && s[i + 1] == '*') {
      size_t e = s.find("*/", i + 2);
      if (e != std::string::npos) {
        i = e + 2;
        continue;
      }
    }
    if (s[i] == '/' && i + 1 < s.size() && s[i + 1] == '/') {
      size_t e = s.find('\n', i);
      i = (e == std::string::npos) ? s.size() : e;
      continue;
    }
    out += s[i++];
  }
  return out;
}

// Index of the '}' closing the '{' at `open`, honouring backslash escapes; npos when unbalanced.
size_t matching_brace(const std::string& s, size_t open) {
  int depth = 0;
  for (size_t i = open; i < s.size(); ++i) {
    if (s[i] == '\\') { ++i; continue; }
    if (s[i] == '{') ++depth;
    else if (s[i] == '}' && --depth == 0) return i;
  }
  return std::string::npos;
}

std::string resolve_groups(const std::string& s, std::mt19937_64& rng, int depth) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (c == '\\' && i + 1 < s.size()) {
      out += c;
      out += s[i + 1];
      i += 2;
      continue;
    }
    if (c == '{' && depth < 64) {
      size_t close = matching_brace(s, i);
      if (close != std::string::npos) {
        std::vector<std::string> options(1);
        int d = 0;
        for (size_t k = i + 1; k < close; ++k) {
          char ch = s[k];
          if (ch == '\\' && k + 1 < close) {
            options.back() += ch;
            options.back() += s[++k];
            continue;
          }
          if (ch == '{') ++d;
          if (ch == '}') --d;
          if (ch == '|' && d == 0) {
            options.emplace_back();
            continue;
          }
          options.back() += ch;
        }
        std::uniform_int_distribution<size_t> pick(0, options.size() - 1);
        out += resolve_groups(options[pick(rng)], rng, depth + 1);
        i = close + 1;
        continue;
      }
    }
    out += c;
    ++i;
  }
  return out;
}

std::string unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == '{' || s[i + 1] == '}' || s[i + 1] == '|')) {
      out += s[++i];
      continue;
    }
    out += s[i];
  }
  return out;
}

std::string two(int v) { return (v < 10 ? "0" : "") + std::to_string(v); }

std::string format_date(const std::string& fmt) {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  std::string out;
  size_t i = 0;
  auto run = [&](char c) {
    size_t n = 0;
    while (i + n < fmt.size() && fmt[i + n] == c) ++n;
    return n;
  };
  while (i < fmt.size()) {
    char c = fmt[i];
    size_t n = run(c);
    auto emit = [&](int v, size_t len) { out += len == 2 ? two(v) : std::to_string(v); i += len; };
    if (c == 'y' && n >= 4) { out += std::to_string(tm.tm_year + 1900); i += 4; continue; }
    if (c == 'y' && n == 2) { out += two((tm.tm_year + 1900) % 100); i += 2; continue; }
    if (c == 'M' && (n == 1 || n == 2)) { emit(tm.tm_mon + 1, n); continue; }
    if (c == 'd' && (n == 1 || n == 2)) { emit(tm.tm_mday, n); continue; }
    if (c == 'h' && (n == 1 || n == 2)) { emit(tm.tm_hour, n); continue; }
    if (c == 'm' && (n == 1 || n == 2)) { emit(tm.tm_min, n); continue; }
    if (c == 's' && (n == 1 || n == 2)) { emit(tm.tm_sec, n); continue; }
    out.append(fmt, i, n);  // any other text (also "yyy") stays
    i += n;
  }
  return out;
}

std::string value_text(const nlohmann::ordered_json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (d == static_cast<double>(static_cast<int64_t>(d))) return std::to_string(static_cast<int64_t>(d));
    std::string s = v.dump();
    return s;
  }
  return v.dump();
}

std::string sanitize(const std::string& s) {
  std::string out;
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    bool bad = c < 0x20 || c == 0x7F || std::string("/?<>\\:*|\"").find(ch) != std::string::npos;
    out += bad ? '_' : ch;
  }
  return out;
}

}  // namespace

std::string apply_dynamic_prompts(const std::string& text, bool choose, uint64_t seed) {
  if (text.find_first_of("{/\\") == std::string::npos) return text;
  std::string s = strip_comments(text);
  if (choose) {
    std::mt19937_64 rng(seed);
    s = resolve_groups(s, rng, 0);
  }
  return unescape(s);
}

std::string replace_prefix_patterns(const std::string& text, const WidgetLookup& lookup) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    size_t a = text.find('%', i);
    if (a == std::string::npos) break;
    size_t b = text.find('%', a + 1);
    if (b == std::string::npos || b == a + 1) {
      out.append(text, i, (b == std::string::npos ? text.size() : b) - i);
      i = (b == std::string::npos) ? text.size() : b;
      continue;
    }
    out.append(text, i, a - i);
    std::string inner = text.substr(a + 1, b - a - 1);
    std::string rep = "%" + inner + "%";
    if (inner.rfind("date:", 0) == 0) {
      rep = format_date(inner.substr(5));
    } else if (std::count(inner.begin(), inner.end(), '.') == 1) {
      size_t dot = inner.find('.');
      if (lookup) {
        if (auto v = lookup(inner.substr(0, dot), inner.substr(dot + 1))) rep = sanitize(value_text(*v));
      }
    }
    out += rep;
    i = b + 1;
  }
  out.append(text, std::min(i, text.size()), std::string::npos);
  return out;
}

bool is_save_node_with_prefix(const std::string& t) {
  static const std::set<std::string> names = {
      "SaveImage", "SaveLatent", "SaveAnimatedWEBP", "SaveAnimatedPNG", "SaveVideo", "SaveWEBM",
      "SaveAudio", "SaveAudioMP3", "SaveAudioOpus", "SaveGLB", "SaveSVGNode", "CLIPSave", "VAESave",
      "ModelSave", "LoraSave", "SaveImageAdvanced"};
  return names.count(t) > 0;
}

}  // namespace comfy::ui
