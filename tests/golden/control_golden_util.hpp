#pragma once
// Shared by the golden tests of the control family (ControlNet, upscale models, compositing): the
// manifest, case selection by kind, the pass tally printed at the end, and output comparison.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "test_util.hpp"

namespace comfy::control_golden {

inline const nlohmann::json& manifest() {
  static const nlohmann::json m = [] {
    auto p = test::golden_root() / "control" / "manifest.json";
    return std::filesystem::exists(p) ? test::load_json(p) : nlohmann::json::object();
  }();
  return m;
}

inline std::vector<std::string> case_ids(const std::set<std::string>& kinds) {
  std::vector<std::string> ids;
  if (!manifest().contains("cases")) return ids;
  for (const auto& c : manifest()["cases"])
    if (kinds.count(c.value("kind", ""))) ids.push_back(c["id"].get<std::string>());
  return ids;
}

inline const nlohmann::json& find_case(const std::string& id) {
  static const nlohmann::json none;
  for (const auto& c : manifest()["cases"])
    if (c["id"] == id) return c;
  return none;
}

struct Tally {
  std::map<std::string, std::pair<int, int>> by_kind;  // passed, total
  std::mutex mu;
  void add(const std::string& kind, bool ok) {
    std::lock_guard<std::mutex> l(mu);
    auto& p = by_kind[kind];
    p.first += ok;
    p.second += 1;
  }
};
inline Tally& tally() {
  static Tally t;
  return t;
}
struct TallyEnv : ::testing::Environment {
  void TearDown() override {
    for (auto& [kind, p] : tally().by_kind)
      std::printf("[control golden] %s: %d/%d cases passed\n", kind.c_str(), p.first, p.second);
  }
};
inline const auto* kTallyEnv = ::testing::AddGlobalTestEnvironment(new TallyEnv);

inline std::string sanitize(const ::testing::TestParamInfo<std::string>& info) {
  std::string s = info.param;
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

struct Tolerance {
  double rtol = 1e-4, atol = 1e-4;
  bool atol_rel_to_absmax = false;  // atol = rtol * max|ref| (KSampler latents)
};

// Compares every output (and every intermediate we computed) of case `c` with the recorded tensors.
inline bool compare_all(const nlohmann::json& c, const io::SafeTensors& st, const std::map<std::string, at::Tensor>& got,
                        Tolerance tol, bool outputs_required = true) {
  bool ok = true;
  int checked = 0;
  for (const char* group : {"outputs", "intermediates"}) {
    if (!c.contains(group)) continue;
    for (const auto& [name, key] : c[group].items()) {
      auto it = got.find(name);
      if (it == got.end()) {
        if (std::string(group) == "outputs") {
          ADD_FAILURE() << c["id"] << ": no value for output '" << name << "'";
          ok = false;
        }
        continue;
      }
      auto expected = st.get(key.get<std::string>()).to(at::kFloat);
      auto actual = it->second.detach().to(at::kCPU, at::kFloat);
      if (actual.sizes() != expected.sizes()) {
        ADD_FAILURE() << c["id"] << " " << name << ": shape " << actual.sizes() << " expected " << expected.sizes();
        ok = false;
        continue;
      }
      double atol = tol.atol, rtol = tol.rtol;
      if (tol.atol_rel_to_absmax) {
        atol = tol.rtol * std::max(1e-12, expected.abs().max().item<double>());
        rtol = 0;
      }
      auto msg = test::check_close(actual, expected, rtol, atol);
      if (!msg.empty()) {
        ADD_FAILURE() << c["id"] << " " << group << " " << name << ": " << msg;
        ok = false;
      }
      ++checked;
    }
  }
  if (outputs_required && checked == 0) {
    ADD_FAILURE() << c["id"] << ": nothing compared";
    ok = false;
  }
  return ok;
}

}  // namespace comfy::control_golden
