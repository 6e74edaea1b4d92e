// Impact's process(text, seed) (nodes-prompt.md 2.3-2.5): comment removal, then up to 99 rounds of
// quantifier expansion, innermost-first {option} passes and one __wildcard__ pass, every random
// choice drawn from one numpy Generator in the order upstream draws them. Python's regular
// expressions are replaced by scanners with the same leftmost / lazy / greedy semantics.
#include "comfy/prompt/wildcards.hpp"

#include <functional>
#include <limits>

#include "comfy/core/error.hpp"
#include "comfy/prompt/numpy_random.hpp"
#include "prompt/python_text.hpp"

namespace comfy::wildcards {
namespace {

[[noreturn]] void upstream_error(const std::string& what) { throw Error("execution_error", what); }

bool is_word_byte(unsigned char c) {  // Python's \w; any non-ASCII byte counts as a letter
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}
bool is_wildcard_byte(unsigned char c) {  // [\w.\-+/*\\]
  return is_word_byte(c) || c == '.' || c == '-' || c == '+' || c == '/' || c == '*' || c == '\\';
}
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Replaces the first occurrence of `from` (str.replace(from, to, 1)).
std::string replace_first(std::string s, const std::string& from, const std::string& to) {
  const size_t at = s.find(from);
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

std::vector<std::string> split(const std::string& s, const std::string& sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t at; (at = s.find(sep, start)) != std::string::npos; start = at + sep.size())
    out.push_back(s.substr(start, at - start));
  out.push_back(s.substr(start));
  return out;
}

// re.sub(r'^\s*[0-9.]+::', '', x, count=1)
std::string strip_weight_prefix(const std::string& x) {
  size_t i = 0;
  while (i < x.size() && pytext::is_space(pytext::code_point(x, i))) i += pytext::char_len(x, i);
  const size_t digits = i;
  while (i < x.size() && (is_digit(x[i]) || x[i] == '.')) ++i;
  if (i == digits || x.compare(i, 2, "::") != 0) return x;
  return x.substr(i + 2);
}

// A non-negative decimal as Python's int, saturated past int64 (numpy then refuses the bound).
int64_t parse_count(const std::string& digits, bool& overflow) {
  unsigned __int128 v = 0;
  for (char c : digits) {
    v = v * 10 + static_cast<unsigned>(c - '0');
    if (v > static_cast<unsigned __int128>(std::numeric_limits<int64_t>::max())) {
      overflow = true;
      return std::numeric_limits<int64_t>::max();
    }
  }
  return static_cast<int64_t>(v);
}

// The glob of a "*" wildcard: key with '*' -> '.*' and '+' -> '\+' as a Python regex, re.match
// (anchored at the start only). '.' is any character but a newline, '.*' any run of them.
bool glob_prefix_match(const std::string& pattern, const std::string& key, size_t& work) {
  std::u32string p, k;
  for (size_t i = 0; i < pattern.size(); i += pytext::char_len(pattern, i)) p.push_back(pytext::code_point(pattern, i));
  for (size_t i = 0; i < key.size(); i += pytext::char_len(key, i)) k.push_back(pytext::code_point(key, i));
  // backtracking over the last '*' (classic wildcard matching); the end is open, so success as soon
  // as the pattern is used up
  size_t pi = 0, ki = 0, star_p = std::u32string::npos, star_k = 0;
  while (true) {
    ++work;
    if (pi == p.size()) return true;
    if (p[pi] == U'*') {
      star_p = pi++;
      star_k = ki;
      continue;
    }
    if (ki < k.size() && (p[pi] == U'.' ? k[ki] != U'\n' : p[pi] == k[ki])) {
      ++pi;
      ++ki;
      continue;
    }
    if (star_p == std::u32string::npos || star_k >= k.size() || k[star_k] == U'\n') return false;
    pi = star_p + 1;
    ki = ++star_k;
  }
}

// The keyword regex Impact builds for a quantifier (`(\d+)#__(KW)__`, IGNORECASE, with '*' escaped):
// literals, '.', '\x' escapes and the '+' / '*' repeats its characters can form.
struct KeywordRegex {
  struct Atom {
    bool any = false;
    uint32_t cp = 0;  // literal, ASCII lower-cased
    char repeat = 0;  // 0, '+' or '*'
  };
  std::vector<Atom> atoms;
  bool never_matches = false;  // an escape we do not model (\b, \w, ...): treated as no match

  explicit KeywordRegex(const std::string& kw) {
    std::string pat;
    for (char c : kw) pat += c == '*' ? std::string("\\*") : std::string(1, c);
    for (size_t i = 0; i < pat.size();) {
      const char c = pat[i];
      if (c == '+' || c == '*') {
        if (atoms.empty()) upstream_error("re.error: nothing to repeat in the wildcard quantifier '" + kw + "'");
        auto& last = atoms.back();
        if (last.repeat && c == '*') upstream_error("re.error: multiple repeat in the wildcard quantifier '" + kw + "'");
        if (!last.repeat) last.repeat = c;  // '++' / '*+' are possessive forms of the same repeat
        ++i;
        continue;
      }
      Atom a;
      if (c == '\\') {
        if (i + 1 >= pat.size()) upstream_error("re.error: bad escape (end of pattern) in '" + kw + "'");
        const auto x = static_cast<unsigned char>(pat[i + 1]);
        if (std::isalnum(x)) never_matches = true;
        a.cp = pytext::code_point(pat, i + 1);
        i += 1 + pytext::char_len(pat, i + 1);
      } else {
        a.any = c == '.';
        a.cp = pytext::code_point(pat, i);
        i += pytext::char_len(pat, i);
      }
      if (a.cp < 0x80) a.cp = static_cast<uint32_t>(std::tolower(static_cast<int>(a.cp)));
      atoms.push_back(a);
    }
  }

  // Matches the atoms at s[pos] followed by "__"; returns the end of the keyword or npos.
  size_t match(const std::string& s, size_t pos, size_t& work) const {
    if (never_matches) return std::string::npos;
    std::function<size_t(size_t, size_t)> m = [&](size_t ai, size_t p) -> size_t {
      if (++work > (1u << 30)) return std::string::npos;
      if (ai == atoms.size()) return s.compare(p, 2, "__") == 0 ? p : std::string::npos;
      const Atom& a = atoms[ai];
      auto one = [&](size_t q) -> size_t {  // length of the character matched at q, 0 if none
        if (q >= s.size()) return 0;
        uint32_t cp = pytext::code_point(s, q);
        if (a.any) return cp == '\n' ? 0 : pytext::char_len(s, q);
        if (cp < 0x80) cp = static_cast<uint32_t>(std::tolower(static_cast<int>(cp)));
        return cp == a.cp ? pytext::char_len(s, q) : 0;
      };
      if (!a.repeat) {
        const size_t n = one(p);
        return n ? m(ai + 1, p + n) : std::string::npos;
      }
      std::vector<size_t> ends{p};
      for (size_t n; (n = one(ends.back())) != 0;) ends.push_back(ends.back() + n);
      for (size_t k = ends.size(); k-- > (a.repeat == '+' ? 1u : 0u);) {
        const size_t r = m(ai + 1, ends[k]);
        if (r != std::string::npos) return r;
      }
      return std::string::npos;
    };
    return m(0, pos);
  }
};

class Processor {
 public:
  Processor(const Dictionary& dict, const Limits& limits, uint64_t seed) : dict_(dict), lim_(limits), g_(seed) {}

  std::string run(std::string text) {
    text = remove_comments(text);
    for (int round = 0; round < 99; ++round) {  // replace_depth 100 .. 2
      text = expand_quantifiers(text);
      bool replaced = false;
      std::string pass1 = replace_options(text, replaced);
      while (replaced) pass1 = replace_options(pass1, replaced);
      bool replaced2 = false;
      text = replace_wildcards(pass1, replaced2, 0);
      if (!replaced2) break;
    }
    return text;
  }

 private:
  void charge(size_t n) {
    work_ += n;
    if (work_ > lim_.max_work)
      throw Error("execution_error", "wildcard text too complex to expand (more than " + std::to_string(lim_.max_work) +
                                         " steps; a wildcard that includes itself?)");
  }
  void check_size(const std::string& s) const {
    if (s.size() > lim_.max_text)
      throw Error("execution_error", "wildcard expansion grew past " + std::to_string(lim_.max_text) +
                                         " bytes (a wildcard that includes itself?)");
  }

  // ---- N#__keyword__ -> __keyword__|__keyword__|... (every occurrence of each quantifier found)
  std::string expand_quantifiers(std::string text) {
    struct Q {
      std::string digits, keyword;
    };
    std::vector<Q> found;
    for (size_t i = 0; i < text.size(); ++i) {
      if (!is_digit(text[i])) continue;
      size_t j = i;
      while (j < text.size() && is_digit(text[j])) ++j;
      size_t kw_end = std::string::npos;
      if (text.compare(j, 3, "#__") == 0) kw_end = lazy_wildcard_end(text, j + 3);
      charge(j - i + 1);
      if (kw_end == std::string::npos) {
        i = j - 1;  // a later start inside the digit run fails the same way
        continue;
      }
      found.push_back({text.substr(i, j - i), text.substr(j + 3, kw_end - j - 3)});
      i = kw_end + 1;
    }
    for (const auto& q : found) {
      const std::string keyword = pytext::ascii_lower(q.keyword);
      bool overflow = false;
      const int64_t n = parse_count(q.digits, overflow);
      if (overflow || static_cast<size_t>(n) > lim_.max_text / (keyword.size() + 4))
        throw Error("execution_error", "wildcard quantifier " + q.digits + "#__" + q.keyword + "__ is too large");
      std::string replacement = "__";
      for (int64_t k = 0; k < n; ++k) replacement += (k ? "__|__" : "") + keyword;
      replacement += "__";
      text = substitute_quantifier(text, KeywordRegex(q.keyword), replacement);
      check_size(text);
    }
    return text;
  }

  // The end of `[\w.\-+/*\\]+?` starting at `from` when "__" follows (lazy), else npos.
  size_t lazy_wildcard_end(const std::string& s, size_t from) {
    for (size_t e = from; e < s.size() && is_wildcard_byte(static_cast<unsigned char>(s[e]));) {
      ++e;
      charge(1);
      if (s.compare(e, 2, "__") == 0) return e;
    }
    return std::string::npos;
  }

  // RE_TEMP.sub: every `\d+#__<keyword regex>__` becomes `replacement`.
  std::string substitute_quantifier(const std::string& text, const KeywordRegex& re, const std::string& replacement) {
    std::string out;
    size_t last = 0;
    for (size_t i = 0; i < text.size(); ++i) {
      if (!is_digit(text[i])) continue;
      size_t j = i;
      while (j < text.size() && is_digit(text[j])) ++j;
      size_t end = std::string::npos;
      if (text.compare(j, 3, "#__") == 0) end = re.match(text, j + 3, work_);
      charge(j - i + 1);
      if (end == std::string::npos) {
        i = j - 1;
        continue;
      }
      out += text.substr(last, i - last);
      out += replacement;
      last = end + 2;
      i = last - 1;
    }
    out += text.substr(last);
    return out;
  }

  // ---- one option pass: every innermost {...} left to right
  std::string replace_options(const std::string& s, bool& replaced) {
    replaced = false;
    std::string out;
    size_t last = 0, i = 0;
    while (i < s.size()) {
      if (s[i] != '{') {
        ++i;
        continue;
      }
      size_t j = i + 1;
      while (j < s.size() && s[j] != '{' && s[j] != '}') ++j;
      charge(j - i);
      if (j < s.size() && s[j] == '}') {
        out += s.substr(last, i - last);
        out += replace_option(s.substr(i + 1, j - i - 1));
        check_size(out);
        replaced = true;
        last = i = j + 1;
      } else {
        i = j;
      }
    }
    out += s.substr(last);
    return out;
  }

  std::string replace_option(const std::string& inner) {
    std::vector<std::string> options = split(inner, "|");
    std::string sep = " ";
    bool ranged = false;
    int64_t lo = 1, hi = 1;
    const auto multi = split(options[0], "$$");
    if (multi.size() > 1) {
      ranged = parse_range(options[0], inner, lo, hi);
      if (multi.size() == 2) {
        if (options.size() == 1 && !find_wildcards(multi[1]).empty())
          options = wildcard_options(multi[1], 0);
        else
          options[0] = multi[1];
      } else if (multi.size() == 3) {
        sep = multi[1];
        options[0] = multi[2];
      }
    }
    std::vector<double> weights;
    double total = 0;
    for (const auto& o : options) {
      const size_t at = o.find("::");
      double w = 1.0;
      if (at != std::string::npos) {
        const std::string head = pytext::strip(o.substr(0, at));
        if (pytext::is_numeric_string(head)) w = pytext::to_float(head);
      }
      weights.push_back(w);
      total += w;
    }
    std::vector<double> p;
    for (double w : weights) {
      if (total == 0) upstream_error("ZeroDivisionError: float division by zero (option weights of {" + inner + "} sum to 0)");
      p.push_back(w / total);
    }
    int64_t count = 1;
    std::vector<std::string> selected;
    try {
      if (ranged) {
        if (hi == std::numeric_limits<int64_t>::max()) throw numpy::ValueError("high is out of bounds for int64");
        count = g_.integers(lo, hi + 1);
      }
      if (count > static_cast<int64_t>(options.size())) {
        g_.shuffle(options);
        selected = options;
      } else {
        for (size_t idx : g_.choice_without_replacement(p, static_cast<size_t>(count))) selected.push_back(options[idx]);
      }
    } catch (const numpy::ValueError& e) {
      upstream_error(std::string("ValueError: ") + e.what() + " (in {" + inner + "})");
    }
    std::string joined;
    for (size_t k = 0; k < selected.size(); ++k) joined += (k ? sep : "") + strip_weight_prefix(selected[k]);
    return joined;
  }

  // `(\d+)(-(\d+))?` or `-(\d+)` at the start of the first option; upstream fails on anything else.
  static bool parse_range(const std::string& first, const std::string& inner, int64_t& lo, int64_t& hi) {
    size_t i = 0;
    while (i < first.size() && is_digit(first[i])) ++i;
    bool over_a = false, over_b = false;
    if (i > 0) {
      lo = hi = parse_count(first.substr(0, i), over_a);
      if (first.size() > i + 1 && first[i] == '-' && is_digit(first[i + 1])) {
        size_t j = i + 1;
        while (j < first.size() && is_digit(first[j])) ++j;
        hi = parse_count(first.substr(i + 1, j - i - 1), over_b);
      }
    } else if (first.size() > 1 && first[0] == '-' && is_digit(first[1])) {
      size_t j = 1;
      while (j < first.size() && is_digit(first[j])) ++j;
      lo = 1;
      hi = parse_count(first.substr(1, j - 1), over_b);
    } else {
      upstream_error("AttributeError: 'NoneType' object has no attribute 'group' (the count before '$$' in {" + inner +
                     "} is not a number or range)");
    }
    if (over_a) upstream_error("ValueError: low is out of bounds for int64 (in {" + inner + "})");
    if (over_b) upstream_error("ValueError: high is out of bounds for int64 (in {" + inner + "})");
    return true;
  }

  // ---- __wildcard__
  std::vector<std::string> find_wildcards(const std::string& s) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i + 1 < s.size()) {
      if (s[i] == '_' && s[i + 1] == '_') {
        const size_t e = lazy_wildcard_end(s, i + 2);
        if (e != std::string::npos) {
          out.push_back(s.substr(i + 2, e - i - 2));
          i = e + 2;
          continue;
        }
      }
      ++i;
    }
    charge(s.size());
    return out;
  }

  // Lines of every key the glob matches (key or key + "/"), in dictionary order; nullopt when none.
  std::optional<std::vector<std::string>> glob_lines(const std::string& keyword) {
    std::optional<std::vector<std::string>> lines;
    for (const auto& [k, v] : dict_.entries()) {
      size_t w = 0;
      const bool hit = glob_prefix_match(keyword, k + "/", w);
      charge(w);
      if (!hit) continue;
      if (!lines) lines.emplace();
      lines->insert(lines->end(), v.begin(), v.end());
      check_total(*lines);
    }
    return lines;
  }
  void check_total(const std::vector<std::string>& lines) const {
    if (lines.size() > lim_.max_text) throw Error("execution_error", "wildcard expansion collects too many lines");
  }

  const std::string& pick(const std::vector<std::string>& lines, const std::string& match) {
    if (lines.empty())
      upstream_error("ValueError: a cannot be empty unless no samples are taken (wildcard __" + match +
                     "__ has no lines: an empty wildcard file?)");
    return lines[static_cast<size_t>(g_.integers(0, static_cast<int64_t>(lines.size())))];
  }

  void check_depth(int depth) const {
    if (static_cast<size_t>(depth) > lim_.max_fallback_depth)
      throw Error("execution_error", "too many unknown wildcards in one prompt (more than " +
                                         std::to_string(lim_.max_fallback_depth) + ")");
  }

  std::string replace_wildcards(std::string s, bool& replaced, int depth) {
    check_depth(depth);
    replaced = false;
    for (const auto& match : find_wildcards(s)) {
      const std::string key = normalize_key(match);
      if (const auto* lines = dict_.find(key)) {
        s = replace_first(s, "__" + match + "__", pick(*lines, match));
        replaced = true;
      } else if (key.find('*') != std::string::npos) {
        if (auto lines = glob_lines(key)) {
          s = replace_first(s, "__" + match + "__", pick(*lines, match));
          replaced = true;
        }
      } else if (key.find('/') == std::string::npos) {
        s = replace_wildcards(replace_first(s, "__" + match + "__", "__*/" + match + "__"), replaced, depth + 1);
      }
      charge(s.size() / 16);  // each replacement rewrites the text
      check_size(s);
    }
    return s;
  }

  // get_wildcard_options: the lines of every wildcard in `s` (for "{N$$__name__}").
  std::vector<std::string> wildcard_options(const std::string& s, int depth) {
    check_depth(depth);
    std::vector<std::string> options;
    for (const auto& match : find_wildcards(s)) {
      const std::string key = normalize_key(match);
      if (const auto* lines = dict_.find(key)) {
        options.insert(options.end(), lines->begin(), lines->end());
      } else if (key.find('*') != std::string::npos) {
        if (auto lines = glob_lines(key)) options.insert(options.end(), lines->begin(), lines->end());
      } else if (key.find('/') == std::string::npos) {
        auto more = wildcard_options(replace_first(s, "__" + match + "__", "__*/" + match + "__"), depth + 1);
        options.insert(options.end(), more.begin(), more.end());
      }
      check_total(options);
    }
    return options;
  }

  const Dictionary& dict_;
  const Limits& lim_;
  numpy::Generator g_;
  size_t work_ = 0;
};

}  // namespace

std::string normalize_key(const std::string& key) {
  std::string k = pytext::ascii_lower(key);
  for (char& c : k) {
    if (c == '\\') c = '/';
    if (c == ' ') c = '-';
  }
  return k;
}

std::string remove_comments(const std::string& text) {
  std::vector<std::string> kept;
  bool joining = false;
  for (const auto& line : split(text, "\n")) {
    if (pytext::starts_with(pytext::lstrip(line), "#")) {
      joining = true;
      continue;
    }
    if (kept.empty()) {
      kept.push_back(line);  // the flag stays set: the next line is joined (upstream quirk)
    } else if (joining) {
      kept.back() += " " + line;
      joining = false;
    } else {
      kept.push_back(line);
    }
  }
  std::string out;
  for (size_t i = 0; i < kept.size(); ++i) out += (i ? "\n" : "") + kept[i];
  return out;
}

std::string process(const std::string& text, uint64_t seed, const Dictionary& dict, const Limits& limits) {
  if (text.size() > limits.max_text)
    throw Error("execution_error", "wildcard text longer than " + std::to_string(limits.max_text) + " bytes");
  return Processor(dict, limits, seed).run(text);
}

}  // namespace comfy::wildcards
