// Python str helpers for the wildcard code (see python_text.hpp).
#include "prompt/python_text.hpp"

#include <cstdlib>
#include <string>

namespace comfy::pytext {

size_t char_len(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
  if (i + n > s.size()) return 1;
  for (size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 1;
  return n;
}

uint32_t code_point(std::string_view s, size_t i) {
  const size_t n = char_len(s, i);
  const auto c = static_cast<unsigned char>(s[i]);
  if (n == 1) return c < 0x80 ? c : 0xDC00u + c;
  uint32_t cp = c & (0xFFu >> (n + 1));
  for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  return cp;
}

bool is_space(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
         cp == 0x3000;
}

std::string lstrip(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && is_space(code_point(s, i))) i += char_len(s, i);
  return std::string(s.substr(i));
}

std::string strip(std::string_view s) {
  std::string l = lstrip(s);
  // walk forward remembering where the last non-space character ended
  size_t end = 0;
  for (size_t i = 0; i < l.size();) {
    const size_t n = char_len(l, i);
    if (!is_space(code_point(l, i))) end = i + n;
    i += n;
  }
  l.resize(end);
  return l;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool is_numeric_string(std::string_view s) {
  if (!s.empty() && s.back() == '\n') s.remove_suffix(1);
  size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  size_t before = 0, after = 0;
  bool dot = false;
  for (; i < s.size(); ++i) {
    if (s[i] >= '0' && s[i] <= '9') {
      (dot ? after : before)++;
    } else if (s[i] == '.' && !dot) {
      dot = true;
    } else {
      return false;
    }
  }
  return before + after > 0;  // "5", "5.", ".5", "5.5"; not "." or ""
}

double to_float(std::string_view s) {
  std::string t(s);
  return std::strtod(t.c_str(), nullptr);  // digits, '.', '-' only: the C locale's strtod is exact
}

std::string latin1_to_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x80) {
      out.push_back(ch);
    } else {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

}  // namespace comfy::pytext
