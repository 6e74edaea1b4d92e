#pragma once
// Small helpers shared by the graph-layer tests.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "comfy/graph/validate.hpp"
#include "comfy/graph/workflow.hpp"
#include "test_util.hpp"

namespace comfy::test {

inline std::filesystem::path real_workflows_dir() { return shared_dir() / "workflows" / "real"; }

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Every *.json under workflows/real, sorted (the parameter list of the real-file tests).
inline std::vector<std::string> real_workflow_files() {
  std::vector<std::string> out;
  if (!std::filesystem::exists(real_workflows_dir())) return out;
  for (auto& e : std::filesystem::directory_iterator(real_workflows_dir()))
    if (e.path().extension() == ".json") out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

inline std::set<std::string> class_types(const Prompt& p) {
  std::set<std::string> s;
  for (auto& [id, n] : p.items()) s.insert(n["class_type"].get<std::string>());
  return s;
}

// JSON equality that also requires the same number kind (8 vs 8.0), as the PNG prompt records it.
inline bool same_json(const nlohmann::ordered_json& a, const nlohmann::ordered_json& b, std::string* why = nullptr) {
  auto say = [&](const std::string& s) {
    if (why) *why = s + ": " + a.dump() + " vs " + b.dump();
    return false;
  };
  if (a.is_number() && b.is_number()) {
    if (a.is_number_float() != b.is_number_float()) return say("number kind differs");
    if (a.is_number_float()) return a.get<double>() == b.get<double>() || say("value differs");
    return a == b || say("value differs");
  }
  if (a.type() != b.type()) return say("type differs");
  if (a.is_array()) {
    if (a.size() != b.size()) return say("size differs");
    for (size_t i = 0; i < a.size(); ++i)
      if (!same_json(a[i], b[i], why)) return false;
    return true;
  }
  if (a.is_object()) {
    if (a.size() != b.size()) return say("member count differs");
    for (auto& [k, v] : a.items()) {
      if (!b.contains(k)) return say("member '" + k + "' missing");
      if (!same_json(v, b[k], why)) return false;
    }
    return true;
  }
  return a == b || say("value differs");
}

inline std::string sorted_list(const std::set<std::string>& s) {
  std::string o;
  for (auto& x : s) o += (o.empty() ? "" : ", ") + x;
  return "{" + o + "}";
}

}  // namespace comfy::test
