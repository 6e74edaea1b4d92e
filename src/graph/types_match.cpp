// Link type compatibility as the server checks it (workflow-execution.md 7.6, non-strict mode).
#include <set>

#include "comfy/graph/validate.hpp"

namespace comfy {

namespace {
std::set<std::string> split(const std::string& s) {
  std::set<std::string> out;
  size_t b = 0;
  while (true) {
    size_t e = s.find(',', b);
    std::string t = s.substr(b, e == std::string::npos ? std::string::npos : e - b);
    size_t f = t.find_first_not_of(" \t\n\r");
    t = f == std::string::npos ? "" : t.substr(f, t.find_last_not_of(" \t\n\r") - f + 1);
    out.insert(t);
    if (e == std::string::npos) break;
    b = e + 1;
  }
  return out;
}
}  // namespace

bool types_match(const std::string& received, const std::string& expected, bool expected_is_choice_list) {
  if (received == "*") return true;
  if (expected_is_choice_list) return false;  // an old-style combo ([...]) is not a string: only "*" fits
  if (received == expected || expected == "*") return true;
  auto R = split(received), E = split(expected);
  if (R.count("*") || E.count("*")) return true;
  for (auto& r : R)
    if (E.count(r)) return true;
  return false;
}

}  // namespace comfy
