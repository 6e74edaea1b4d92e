// Dynamic prompts and filename-prefix patterns, as the frontend applies them when queueing.
#include "serialize_value.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <set>
#include <vector>

#include "comfy/graph/workflow.hpp"
#include "comfy/io/output_names.hpp"

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

std::string format_date(const std::string& fmt) {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  return io::format_prefix_date(fmt, tm);
}

// JavaScript's Number::toString (ECMA-262 7.1.12.1): shortest round-trip digits, exponent form below
// 1e-6 and from 1e21 on.
std::string js_number_text(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d < 0 ? "-Infinity" : "Infinity";
  if (d == 0) return "0";
  std::string sign = d < 0 ? "-" : "";
  d = std::fabs(d);
  char buf[40];
  for (int p = 1; p <= 17; ++p) {
    std::snprintf(buf, sizeof buf, "%.*e", p - 1, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  // buf = "D.DDDDe[+-]XX": digits and the exponent n with d = 0.digits * 10^n
  std::string mant(buf, std::strchr(buf, 'e'));
  const int n = std::atoi(std::strchr(buf, 'e') + 1) + 1;
  std::string digits;
  for (char c : mant)
    if (c != '.') digits += c;
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  const int k = static_cast<int>(digits.size());
  std::string out;
  if (k <= n && n <= 21) {
    out = digits + std::string(size_t(n - k), '0');
  } else if (0 < n && n <= 21) {
    out = digits.substr(0, size_t(n)) + "." + digits.substr(size_t(n));
  } else if (-6 < n && n <= 0) {
    out = "0." + std::string(size_t(-n), '0') + digits;
  } else {
    const int e = n - 1;
    out = digits.substr(0, 1) + (k > 1 ? "." + digits.substr(1) : "") + "e" + (e < 0 ? "-" : "+") + std::to_string(std::abs(e));
  }
  return sign + out;
}

// The widget value as the editor's `(value ?? '') + ''` gives it.
std::string value_text(const nlohmann::ordered_json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  if (v.is_number_float()) return js_number_text(v.get<double>());
  return v.dump();  // integers, true / false
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
    // The editor splits the text at dots: exactly two parts name a node and widget; otherwise a first
    // part "date:FMT" is a date (the rest is dropped), anything else is left for the server.
    if (std::count(inner.begin(), inner.end(), '.') != 1) {
      const std::string head = inner.substr(0, inner.find('.'));
      if (head.rfind("date:", 0) == 0) rep = format_date(head.substr(5));
    } else {
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

WidgetLookup api_prompt_lookup(const nlohmann::ordered_json& prompt) {
  // Node ids in ascending order ("3" < "12"; "5:2" by parts), standing in for the editor's node order.
  auto parts = [](const std::string& id) {
    std::vector<std::string> p;
    size_t b = 0;
    for (size_t e; (e = id.find(':', b)) != std::string::npos; b = e + 1) p.push_back(id.substr(b, e - b));
    p.push_back(id.substr(b));
    return p;
  };
  auto less = [&](const std::string& a, const std::string& b) {
    auto pa = parts(a), pb = parts(b);
    for (size_t i = 0; i < pa.size() && i < pb.size(); ++i) {
      if (pa[i] == pb[i]) continue;
      const bool na = !pa[i].empty() && pa[i].size() < 19 && pa[i].find_first_not_of("0123456789") == std::string::npos;
      const bool nb = !pb[i].empty() && pb[i].size() < 19 && pb[i].find_first_not_of("0123456789") == std::string::npos;
      if (na && nb) return std::stoll(pa[i]) < std::stoll(pb[i]);
      return pa[i] < pb[i];
    }
    return pa.size() < pb.size();
  };
  std::vector<std::string> ids;
  if (prompt.is_object())
    for (auto it = prompt.begin(); it != prompt.end(); ++it)
      if (it.value().is_object()) ids.push_back(it.key());
  std::sort(ids.begin(), ids.end(), less);
  return [&prompt, ids](const std::string& name, const std::string& widget) -> std::optional<nlohmann::ordered_json> {
    auto name_of = [&](const nlohmann::ordered_json& node, int pass) -> std::string {
      const auto* v = pass == 0 ? (node.contains("class_type") ? &node["class_type"] : nullptr)
                                : (node.contains("_meta") && node["_meta"].is_object() && node["_meta"].contains("title")
                                       ? &node["_meta"]["title"] : nullptr);
      return v && v->is_string() ? v->get<std::string>() : std::string();
    };
    for (int pass : {0, 1})
      for (const auto& id : ids) {
        const auto& node = prompt[id];
        if (name_of(node, pass) != name) continue;
        // The first match decides, as in the editor: no such widget (or a linked one) leaves the text.
        if (!node.contains("inputs") || !node["inputs"].is_object() || !node["inputs"].contains(widget)) return std::nullopt;
        const auto& v = node["inputs"][widget];
        if (is_link(v)) return std::nullopt;
        return v;
      }
    return std::nullopt;
  };
}

std::string replace_prefix_patterns(const std::string& text, const nlohmann::ordered_json* prompt) {
  if (text.find('%') == std::string::npos) return text;
  return replace_prefix_patterns(text, prompt ? api_prompt_lookup(*prompt) : WidgetLookup());
}

bool is_save_node_with_prefix(const std::string& t) {
  static const std::set<std::string> names = {
      "SaveImage", "SaveLatent", "SaveAnimatedWEBP", "SaveAnimatedPNG", "SaveVideo", "SaveWEBM",
      "SaveAudio", "SaveAudioMP3", "SaveAudioOpus", "SaveGLB", "SaveSVGNode", "CLIPSave", "VAESave",
      "ModelSave", "LoraSave", "SaveImageAdvanced"};
  return names.count(t) > 0;
}

}  // namespace comfy::ui
