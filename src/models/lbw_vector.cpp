// Block vectors of Inspire's LoRA Block Weight (nodes-companions.md 3.1 steps 1-8, 3.3): validation,
// preset fallback, the "%" spec, and the walk giving the i-th entry to the i-th distinct block present.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>

#include "comfy/core/error.hpp"
#include "comfy/graph/validate.hpp"
#include "comfy/models/lbw.hpp"

namespace comfy::lbw {

namespace {

const char* kGroups[] = {"input_blocks.", "middle_block.", "output_blocks.", "double_blocks.", "single_blocks."};
constexpr int kNumGroups = 5;
constexpr size_t kUnetPrefix = 16;  // len("diffusion_model.")

std::string py_strip(const std::string& s) {
  size_t a = 0, b = s.size();
  while (a < b && std::isspace((unsigned char)s[a])) ++a;
  while (b > a && std::isspace((unsigned char)s[b - 1])) --b;
  return s.substr(a, b - a);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out{""};
  for (char c : s) {
    if (c == sep) out.emplace_back();
    else out.back().push_back(c);
  }
  return out;
}

[[noreturn]] void value_error(const std::string& msg) {
  Error e("execution_error", msg);
  e.at_input("block_vector");
  e.extra_info["exception_type"] = "ValueError";
  throw e;
}

// re.match(r'^-?\d+(\.\d+)?$', s); '$' also matches before one trailing newline.
bool is_numeric_string(std::string s) {
  if (!s.empty() && s.back() == '\n') s.pop_back();
  size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  size_t d = i;
  while (i < s.size() && std::isdigit((unsigned char)s[i])) ++i;
  if (i == d) return false;
  if (i < s.size() && s[i] == '.') {
    size_t f = ++i;
    while (i < s.size() && std::isdigit((unsigned char)s[i])) ++i;
    if (i == f) return false;
  }
  return i == s.size();
}

bool is_token(const std::string& s) { return s.size() == 1 && std::string("RrUuAaBb").find(s[0]) != std::string::npos; }

bool validate(const std::vector<std::string>& vector) {
  if (vector.size() < 12) return false;
  for (auto& x : vector) {
    if (is_token(x) || is_numeric_string(x)) continue;
    for (auto& y : split(py_strip(x), ' ')) {
      const std::string t = py_strip(y);
      if (!is_token(t) && !is_numeric_string(t)) return false;
    }
  }
  return true;
}

// Which group a model key belongs to (-1: "others") and its block number N.
int classify(const std::string& key, int& n) {
  if (key.size() <= kUnetPrefix) return -1;
  const std::string k = key.substr(kUnetPrefix);
  for (int g = 0; g < kNumGroups; ++g) {
    const std::string p = kGroups[g];
    if (k.compare(0, p.size(), p) != 0) continue;
    const std::string num = k.substr(p.size(), 2);  // parse_unet_num: "4." -> 4, "11" -> 11
    const std::string digits = num.size() == 2 && num[1] == '.' ? num.substr(0, 1) : num;
    if (digits.empty() || !std::isdigit((unsigned char)digits[0]) ||
        (digits.size() == 2 && !std::isdigit((unsigned char)digits[1])))
      value_error("invalid literal for int() with base 10: '" + digits + "'");
    n = std::atoi(digits.c_str());
    return g;
  }
  return -1;
}

// Inspire prints a ratio through norm_value: exactly 1 / 0 as ints, other values as Python floats.
std::string print_ratio(double v) {
  if (v == 1) return "1";
  if (v == 0) return "0";
  return py_float_repr(v);
}

struct Converter {
  double A, B;
  NumpyLegacyRandom rng;

  std::optional<double> simple(const std::string& x) {
    if (x == "U" || x == "u") return py_round2(rng.uniform(-1.5, 1.5));
    if (x == "R" || x == "r") return py_round2(rng.uniform(0, 3.0));
    if (x == "A") return A;
    if (x == "a") return A / 2;
    if (x == "B") return B;
    if (x == "b") return B / 2;
    if (is_numeric_string(x)) return std::strtod(x.c_str(), nullptr);
    return std::nullopt;
  }
  // convert_vector_value: one token, else the space-separated tokens in order.
  std::vector<double> convert(const std::string& entry) {
    if (auto v = simple(entry)) return {*v};
    std::vector<double> out;
    for (auto& t : split(entry, ' ')) {
      auto v = simple(t);
      if (!v) value_error("[LoraLoaderBlockWeight] invalid block_vector entry '" + entry + "'");
      out.push_back(*v);
    }
    return out;
  }
};

const std::map<std::string, std::string>& preset_dict() {
  static const std::map<std::string, std::string> d = [] {
    std::map<std::string, std::string> m;
    for (auto& [name, vec] : presets()) m[name] = vec;
    return m;
  }();
  return d;
}

// float(text) on a [0-9.]+ run: Python raises for "1.2.3" or ".".
double spec_float(const std::string& s) {
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || s == ".")
    value_error("could not convert string to float: '" + s + "'");
  return v;
}

// Matches "<word><digits>?(-<digits>)?=<[0-9.]+>" at the start of an item (re.match semantics).
struct SpecItem {
  std::string group;
  std::string from, to;  // digits, may be empty
  std::string value;     // the [0-9.]+ run
};
std::optional<SpecItem> match_item(const std::string& item, const std::vector<std::string>& words, bool first,
                                   bool range) {
  for (auto& w : words) {
    if (item.compare(0, w.size(), w) != 0) continue;
    size_t i = w.size();
    SpecItem m{w, "", "", ""};
    auto digits = [&](std::string& out) {
      while (i < item.size() && std::isdigit((unsigned char)item[i])) out.push_back(item[i++]);
      return !out.empty();
    };
    if (first && !digits(m.from)) continue;
    if (range && (i >= item.size() || item[i++] != '-' || !digits(m.to))) continue;
    if (i >= item.size() || item[i++] != '=') continue;
    while (i < item.size() && (std::isdigit((unsigned char)item[i]) || item[i] == '.')) m.value.push_back(item[i++]);
    if (m.value.empty()) continue;
    return m;
  }
  return std::nullopt;
}

}  // namespace

double py_round2(double x) {
  if (!std::isfinite(x)) return x;
  char buf[512];
  std::snprintf(buf, sizeof buf, "%.2f", x);  // glibc rounds the exact binary value, ties to even
  return std::strtod(buf, nullptr);
}

std::string expand_block_spec(const std::vector<std::string>& model_keys, const std::string& spec) {
  if (spec.empty() || spec[0] != '%') return spec;
  std::vector<std::string> items;
  for (auto& x : split(spec.substr(1), ',')) items.push_back(py_strip(x));

  std::set<int> present[kNumGroups];
  for (auto& k : model_keys) {
    int n = 0;
    int g = classify(k, n);
    if (g >= 0) present[g].insert(n);
  }
  // Values are kept as the text Python's str() would print: "default"/"base" stay strings.
  std::optional<std::string> base;
  std::string def = "1.0";
  for (auto& item : items) {
    if (auto m = match_item(item, {"default", "base"}, false, false)) {
      if (m->group == "base") base = m->value;
      else def = m->value;
    }
  }
  if (!base) base = def;
  const std::vector<std::string> words = {"in", "out", "mid", "double", "single"};
  const int group_of_word[] = {0, 2, 1, 3, 4};
  std::vector<std::string> blocks[kNumGroups];
  for (int g = 0; g < kNumGroups; ++g) blocks[g].assign(present[g].size(), def);
  auto group_index = [&](const std::string& w) { return group_of_word[std::find(words.begin(), words.end(), w) - words.begin()]; };

  for (auto& item : items) {
    if (auto m = match_item(item, words, true, true)) {
      auto& b = blocks[group_index(m->group)];
      // range(from - 1, to): the value is read (and may raise) when the range is not empty; only the
      // indices of existing blocks are visited (a bound like in1-99999999999 is no loop of that length)
      const long lo = std::atol(m->from.c_str()) - 1, hi = std::atol(m->to.c_str());
      if (lo < hi) {
        const std::string v = py_float_repr(spec_float(m->value));
        for (long x = std::max(lo, 0L); x < hi && size_t(x) < b.size(); ++x) b[size_t(x)] = v;
      }
    } else if (auto m = match_item(item, words, true, false)) {
      const std::string v = py_float_repr(spec_float(m->value));
      const long x = std::atol(m->from.c_str()) - 1;
      auto& b = blocks[group_index(m->group)];
      if (x >= 0 && size_t(x) < b.size()) b[size_t(x)] = v;
    } else if (auto m = match_item(item, words, false, false)) {
      const std::string v = py_float_repr(spec_float(m->value));
      for (auto& e : blocks[group_index(m->group)]) e = v;
    }
  }
  std::string out = *base;
  for (auto& b : blocks)
    for (auto& v : b) out += "," + v;
  return out;
}

BlockWeights block_weights(const std::vector<std::string>& model_keys, const std::string& block_vector_in, bool inverse,
                           uint64_t seed, double A, double B) {
  const std::string expanded = expand_block_spec(model_keys, block_vector_in);
  auto colon = split(expanded, ':');
  const std::string block_vector = colon.size() > 1 ? colon[1] : colon[0];
  std::vector<std::string> vector = split(block_vector, ',');
  if (!validate(vector)) {
    auto it = preset_dict().find(py_strip(vector[0]));
    if (it == preset_dict().end()) value_error("[LoraLoaderBlockWeight] invalid block_vector '" + block_vector + "'");
    vector = split(it->second, ',');
  }

  // input, middle, output, double, single blocks, each stably sorted by N; everything else is "others".
  struct Keyed { const std::string* key; int n; };
  std::vector<Keyed> groups[kNumGroups];
  std::vector<const std::string*> others;
  for (auto& k : model_keys) {
    int n = 0;
    int g = classify(k, n);
    if (g < 0) others.push_back(&k);
    else groups[g].push_back({&k, n});
  }
  Converter conv{A, B, NumpyLegacyRandom(uint32_t(seed % (uint64_t(1) << 31)))};
  BlockWeights out;
  std::vector<std::string> populated;
  auto keep = [&](const std::string& key, double r) {
    if (r != 0) out.ratios.emplace_back(key, r);
    else out.muted.push_back(key);
  };
  std::vector<double> ratios;
  double ratio = 1.0;
  size_t vector_i = 1;
  std::optional<int> last_n;
  for (auto& g : groups) {
    std::stable_sort(g.begin(), g.end(), [](const Keyed& a, const Keyed& b) { return a.n < b.n; });
    for (auto& [key, n] : g) {
      if (last_n != n && vector.size() > vector_i) {
        ratios = conv.convert(py_strip(vector[vector_i]));
        ratio = ratios.front();
        ratios.erase(ratios.begin());
        populated.push_back(print_ratio(inverse ? 1 - ratio : ratio));
        ++vector_i;
      } else if (!ratios.empty()) {  // else keep the last ratio
        ratio = ratios.front();
        ratios.erase(ratios.begin());
      }
      last_n = n;
      keep(*key, inverse ? 1 - ratio : ratio);
    }
  }
  // The base entry is converted after every block (it may draw from the generator too).
  ratios = conv.convert(py_strip(vector[0]));
  const double base = inverse ? 1 - ratios.front() : ratios.front();
  populated.insert(populated.begin(), print_ratio(base));
  for (auto* k : others) keep(*k, base);
  for (size_t i = 0; i < populated.size(); ++i) out.populated_vector += (i ? "," : "") + populated[i];
  return out;
}

}  // namespace comfy::lbw
