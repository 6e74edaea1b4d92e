// JSON text -> ordered_json with hard limits and ComfyUI's leniencies (see parse_json_text).
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "comfy/core/error.hpp"
#include "comfy/graph/workflow.hpp"

namespace comfy {

namespace {

using ojson = nlohmann::ordered_json;

[[noreturn]] void fail_json(const std::string& source, const std::string& msg) {
  throw Error("invalid_prompt", (source.empty() ? std::string() : source + ": ") + msg);
}

// One pass over the text outside strings: bounds the bracket depth before nlohmann sees it (its DOM
// copy / dump / destructors recurse), and rewrites bare NaN / Infinity / -Infinity (Python json.dumps
// writes them, e.g. "is_changed": NaN) into strings.
std::string prescan(std::string_view text, const std::string& source, bool* rewritten) {
  int depth = 0;
  bool in_str = false, esc = false;
  std::vector<std::pair<size_t, size_t>> bare;  // [begin, end) of bare NaN/Infinity tokens
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_str) {
      if (esc) esc = false;
      else if (c == '\\') esc = true;
      else if (c == '"') in_str = false;
      continue;
    }
    switch (c) {
      case '"': in_str = true; break;
      case '[': case '{':
        if (++depth > kMaxJsonDepth)
          fail_json(source, "JSON nesting deeper than " + std::to_string(kMaxJsonDepth) + " levels (at byte " +
                                std::to_string(i) + "); not a workflow");
        break;
      case ']': case '}': --depth; break;
      case 'N':
        if (text.substr(i, 3) == "NaN") { bare.push_back({i, i + 3}); i += 2; }
        break;
      case 'I':
        if (text.substr(i, 8) == "Infinity") {
          size_t b = (i > 0 && text[i - 1] == '-') ? i - 1 : i;
          bare.push_back({b, i + 8});
          i += 7;
        }
        break;
      default: break;
    }
  }
  *rewritten = !bare.empty();
  if (bare.empty()) return {};
  std::string out;
  out.reserve(text.size() + bare.size() * 2);
  size_t pos = 0;
  for (auto [b, e] : bare) {
    out.append(text.substr(pos, b - pos));
    out += '"';
    out.append(text.substr(b, e - b));
    out += '"';
    pos = e;
  }
  out.append(text.substr(pos));
  return out;
}

bool is_integer_literal(const std::string& s) {
  size_t i = (!s.empty() && s[0] == '-') ? 1 : 0;
  if (i >= s.size()) return false;
  for (; i < s.size(); ++i)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

// A DOM builder like nlohmann's own, except that integers beyond 64 bits stay exact (as decimal
// strings) instead of being rounded to a double, and the depth is checked again.
class Builder {
 public:
  explicit Builder(ojson& root) : root_(root) {}
  bool null() { return put(nullptr); }
  bool boolean(bool v) { return put(v); }
  bool number_integer(ojson::number_integer_t v) { return put(v); }
  bool number_unsigned(ojson::number_unsigned_t v) { return put(v); }
  bool number_float(ojson::number_float_t v, const std::string& s) {
    if (is_integer_literal(s)) return put(s);
    return put(v);
  }
  bool string(std::string& s) { return put(std::move(s)); }
  bool binary(ojson::binary_t&) { return false; }
  bool start_object(std::size_t) { return open(ojson::object()); }
  bool key(std::string& k) {
    key_ = std::move(k);
    return true;
  }
  bool end_object() { stack_.pop_back(); return true; }
  bool start_array(std::size_t) { return open(ojson::array()); }
  bool end_array() { stack_.pop_back(); return true; }
  bool parse_error(std::size_t pos, const std::string&, const nlohmann::detail::exception& ex) {
    error_ = ex.what();
    error_pos_ = pos;
    return false;
  }
  std::string error_;
  size_t error_pos_ = 0;

 private:
  struct Open {
    ojson* v;
    // ordered_map finds keys linearly; big objects (100k-node prompts) get a hash index.
    std::unique_ptr<std::unordered_map<std::string, size_t>> index;
  };

  ojson* insert(ojson v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    Open& top = stack_.back();
    if (top.v->is_array()) {
      top.v->push_back(std::move(v));
      return &top.v->back();
    }
    auto* obj = top.v->get_ptr<ojson::object_t*>();
    auto& vec = static_cast<std::vector<std::pair<const std::string, ojson>>&>(*obj);
    if (!top.index && vec.size() >= 32) {
      top.index = std::make_unique<std::unordered_map<std::string, size_t>>();
      for (size_t i = 0; i < vec.size(); ++i) top.index->emplace(vec[i].first, i);
    }
    size_t found = vec.size();
    if (top.index) {
      auto it = top.index->find(key_);
      if (it != top.index->end()) found = it->second;
    } else {
      for (size_t i = 0; i < vec.size(); ++i)
        if (vec[i].first == key_) found = i;
    }
    if (found < vec.size()) {  // duplicate key: the last value wins (Python's json)
      vec[found].second = std::move(v);
      return &vec[found].second;
    }
    if (top.index) top.index->emplace(key_, vec.size());
    vec.emplace_back(key_, std::move(v));
    return &vec.back().second;
  }
  template <class V>
  bool put(V&& v) {
    insert(ojson(std::forward<V>(v)));
    return true;
  }
  bool open(ojson v) {
    if (stack_.size() >= size_t(kMaxJsonDepth)) return false;
    ojson* p = insert(std::move(v));
    stack_.push_back(Open{p, nullptr});
    return true;
  }
  ojson& root_;
  std::vector<Open> stack_;
  std::string key_;
};

std::string clean_message(std::string m) {
  // "[json.exception.parse_error.101] parse error at line 1, column 3: ..." -> "parse error at ..."
  if (!m.empty() && m[0] == '[') {
    auto p = m.find("] ");
    if (p != std::string::npos) m = m.substr(p + 2);
  }
  return m;
}

}  // namespace

ojson parse_json_text(std::string_view text, const std::string& source) {
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) fail_json(source, "empty input (no JSON text)");
  // A UTF-8 byte order mark is not JSON, but editors write it.
  if (text.substr(first, 3) == "\xEF\xBB\xBF") text.remove_prefix(first + 3);
  bool rewritten = false;
  std::string fixed = prescan(text, source, &rewritten);
  std::string_view in = rewritten ? std::string_view(fixed) : text;
  ojson root;
  Builder b(root);
  bool ok = false;
  try {
    ok = ojson::sax_parse(in.begin(), in.end(), &b);
  } catch (const std::exception& e) {
    fail_json(source, std::string("invalid JSON: ") + clean_message(e.what()));
  }
  if (!ok) {
    if (b.error_.empty()) fail_json(source, "invalid JSON (nesting too deep or unsupported value)");
    std::string hint = b.error_pos_ >= in.size() ? " (the text looks truncated)" : "";
    fail_json(source, "invalid JSON: " + clean_message(b.error_) + hint);
  }
  return root;
}

}  // namespace comfy
