#include "comfy/io/python_json.hpp"

#include <cmath>
#include <cstdio>
#include <vector>

namespace comfy::io {

namespace {

void append_u16(std::string& out, uint32_t u) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "\\u%04x", unsigned(u));
  out += buf;
}

// ensure_ascii: everything outside ' '..'~' is escaped; code points above U+FFFF as surrogate pairs.
void append_string(std::string& out, const std::string& s) {
  out.push_back('"');
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
          if (c < 0x20 || c == 0x7f) append_u16(out, c);
          else out.push_back(char(c));
      }
      ++i;
      continue;
    }
    // Decode one UTF-8 sequence; an invalid byte becomes U+FFFD.
    int len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
    uint32_t cp = len == 4 ? (c & 0x07) : len == 3 ? (c & 0x0f) : (c & 0x1f);
    bool ok = len > 0 && i + size_t(len) <= s.size();
    for (int k = 1; ok && k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + size_t(k)]);
      if ((cc & 0xc0) != 0x80) ok = false;
      else cp = (cp << 6) | (cc & 0x3f);
    }
    if (!ok || cp > 0x10ffff) { append_u16(out, 0xfffd); ++i; continue; }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      append_u16(out, 0xd800 + (cp >> 10));
      append_u16(out, 0xdc00 + (cp & 0x3ff));
    } else {
      append_u16(out, cp);
    }
    i += size_t(len);
  }
  out.push_back('"');
}

void append_float(std::string& out, double d) {
  if (std::isnan(d)) { out += "NaN"; return; }
  if (std::isinf(d)) { out += d > 0 ? "Infinity" : "-Infinity"; return; }
  // nlohmann prints the shortest round-trip digits with Python's layout (".0", "1e-05", "1e+16").
  out += nlohmann::json(d).dump();
}

template <class J>
void dump(std::string& out, const J& j) {
  // Iterative walk: explicit stack of (node, next child index) so deep documents cannot overflow.
  struct Frame { const J* node; size_t index; typename J::const_iterator it; };
  auto scalar = [&](const J& v) {
    switch (v.type()) {
      case nlohmann::json::value_t::null: out += "null"; break;
      case nlohmann::json::value_t::boolean: out += v.template get<bool>() ? "true" : "false"; break;
      case nlohmann::json::value_t::number_integer: out += std::to_string(v.template get<int64_t>()); break;
      case nlohmann::json::value_t::number_unsigned: out += std::to_string(v.template get<uint64_t>()); break;
      case nlohmann::json::value_t::number_float: append_float(out, v.template get<double>()); break;
      case nlohmann::json::value_t::string: append_string(out, v.template get_ref<const std::string&>()); break;
      default: out += "null"; break;  // binary / discarded: not produced by our parsers
    }
  };
  if (!j.is_structured()) { scalar(j); return; }
  std::vector<Frame> stack;
  stack.push_back({&j, 0, j.cbegin()});
  out.push_back(j.is_object() ? '{' : '[');
  while (!stack.empty()) {
    Frame& f = stack.back();
    if (f.it == f.node->cend()) {
      out.push_back(f.node->is_object() ? '}' : ']');
      stack.pop_back();
      continue;
    }
    if (f.index++ > 0) out += ", ";
    if (f.node->is_object()) {
      append_string(out, f.it.key());
      out += ": ";
    }
    const J& child = *f.it;
    ++f.it;
    if (child.is_structured()) {
      out.push_back(child.is_object() ? '{' : '[');
      stack.push_back({&child, 0, child.cbegin()});
    } else {
      scalar(child);
    }
  }
}

}  // namespace

std::string python_json_dumps(const nlohmann::json& j) {
  std::string s;
  dump(s, j);
  return s;
}

std::string python_json_dumps(const nlohmann::ordered_json& j) {
  std::string s;
  dump(s, j);
  return s;
}

}  // namespace comfy::io
