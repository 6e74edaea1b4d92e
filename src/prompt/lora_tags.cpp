// <lora:...> tags and BREAK segments of Impact's wildcard encode (nodes-prompt.md 2.2, 2.6).
#include <set>

#include "comfy/prompt/wildcards.hpp"
#include "prompt/python_text.hpp"

namespace comfy::wildcards {
namespace {

// Spans of `<lora:([^>]+)>`: {start of the tag, start of the body, end of the body ('>')}.
struct TagSpan {
  size_t tag, body, end;
};
std::vector<TagSpan> lora_spans(const std::string& s) {
  std::vector<TagSpan> out;
  static const std::string open = "<lora:";
  for (size_t i = s.find(open); i != std::string::npos; i = s.find(open, i)) {
    const size_t body = i + open.size();
    const size_t close = s.find('>', body);
    if (close == std::string::npos) break;  // no '>' anywhere later: no later start can match either
    if (close == body) {
      ++i;
      continue;
    }
    out.push_back({i, body, close});
    i = close + 1;
  }
  return out;
}

std::vector<std::string> split_char(const std::string& s, char sep) {
  std::vector<std::string> out(1);
  for (char c : s) {
    if (c == sep) out.emplace_back();
    else out.back() += c;
  }
  return out;
}

// re.sub(r'LBW=[A-Za-z][A-Za-z0-9_-]*:', 'LBW=', text): a named preset before a colon is dropped.
std::string touch_lbw(const std::string& s) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    if (s.compare(i, 4, "LBW=") == 0 && i + 4 < s.size() && std::isalpha(static_cast<unsigned char>(s[i + 4])) &&
        static_cast<unsigned char>(s[i + 4]) < 0x80) {
      size_t j = i + 5;
      while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_' || s[j] == '-') &&
             static_cast<unsigned char>(s[j]) < 0x80)
        ++j;
      if (j < s.size() && s[j] == ':') {
        out += "LBW=";
        i = j + 1;
        continue;
      }
    }
    out += s[i++];
  }
  return out;
}

double safe_float(const std::string& x) { return pytext::is_numeric_string(x) ? pytext::to_float(x) : 1.0; }

}  // namespace

std::vector<LoraTag> extract_lora_tags(const std::string& text) {
  std::vector<LoraTag> result;
  std::set<std::string> added;
  for (const auto& span : lora_spans(text)) {
    std::string item = text.substr(span.body, span.end - span.body);
    const size_t first = item.find_first_not_of(':');
    item = first == std::string::npos ? std::string() : item.substr(first, item.find_last_not_of(':') - first + 1);
    const auto parts = split_char(touch_lbw(item), ':');
    LoraTag tag;
    tag.name = parts[0];
    std::optional<double> a, b;
    for (size_t k = 1; k < parts.size(); ++k) {
      const std::string& sub = parts[k];
      if (pytext::is_numeric_string(sub)) {
        if (!a) a = pytext::to_float(sub);
        else if (!b) b = pytext::to_float(sub);
      } else if (pytext::starts_with(sub, "LBW=")) {
        for (const auto& lbw_item : split_char(sub.substr(4), ';')) {
          if (pytext::starts_with(lbw_item, "A=")) tag.lbw_a = safe_float(pytext::strip(lbw_item.substr(2)));
          else if (pytext::starts_with(lbw_item, "B=")) tag.lbw_b = safe_float(pytext::strip(lbw_item.substr(2)));
          else if (!pytext::strip(lbw_item).empty()) tag.lbw = lbw_item;
        }
      }
    }
    tag.model_weight = a.value_or(1.0);
    tag.clip_weight = b.value_or(tag.model_weight);
    if (added.insert(tag.name).second) result.push_back(std::move(tag));
  }
  return result;
}

std::string remove_lora_tags(const std::string& text) {
  std::string out;
  size_t last = 0;
  for (const auto& span : lora_spans(text)) {
    out += text.substr(last, span.tag - last);
    last = span.end + 1;
  }
  return out + text.substr(last);
}

std::vector<std::string> split_break(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const size_t at = text.find("BREAK", start);
    std::string piece = pytext::strip(text.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (!piece.empty()) out.push_back(std::move(piece));
    if (at == std::string::npos) break;
    start = at + 5;
  }
  if (out.empty()) out.emplace_back();
  return out;
}

}  // namespace comfy::wildcards
