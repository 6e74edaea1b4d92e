// SDXL Empty Latent Image (shingo1228/ComfyUI-SDXL-EmptyLatentImage, nodes-companions.md 5): an empty latent
// whose size is picked from a resolution list. Saved workflows hold either the current key
// "[SDXL] 1024 x 1024 (1.00)" or the older "1024 x 1024 (1.00)"; both resolve from the numbers.
#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <regex>

#include "comfy/core/node.hpp"
#include "comfy/core/types.hpp"

namespace comfy {

namespace {

struct Resolution {
  const char* category;
  int w, h;
};

// The shipped lists (CUSTOM, SDXL, SD15), sorted as the node sorts them: category, then w/h ascending.
std::vector<std::string> resolution_keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<Resolution> r = {{"CUSTOM", 1024, 1360}, {"CUSTOM", 1360, 1024}};
    for (auto [w, h] : std::vector<std::pair<int, int>>{
             {704, 1408}, {704, 1344}, {768, 1344}, {768, 1280}, {832, 1216}, {832, 1152}, {896, 1152},
             {896, 1088}, {960, 1088}, {960, 1024}, {1024, 1024}, {1024, 960}, {1088, 960}, {1088, 896},
             {1152, 896}, {1152, 832}, {1216, 832}, {1280, 768}, {1344, 768}, {1344, 704}, {1408, 704},
             {1472, 704}, {1536, 640}, {1600, 640}, {1664, 576}, {1728, 576}})
      r.push_back({"SDXL", w, h});
    for (auto [w, h] : std::vector<std::pair<int, int>>{
             {512, 512}, {688, 512}, {768, 512}, {912, 512}, {512, 688}, {512, 768}, {512, 912}})
      r.push_back({"SD15", w, h});
    const std::vector<std::string> order = {"CUSTOM", "SDXL", "SD15"};
    std::stable_sort(r.begin(), r.end(), [&](const Resolution& a, const Resolution& b) {
      auto ca = std::find(order.begin(), order.end(), a.category), cb = std::find(order.begin(), order.end(), b.category);
      if (ca != cb) return ca < cb;
      return double(a.w) / a.h < double(b.w) / b.h;
    });
    std::vector<std::string> out;
    for (auto& x : r) {
      char buf[96];
      std::snprintf(buf, sizeof buf, "[%s] %d x %d (%.2f)", x.category, x.w, x.h, double(x.w) / x.h);
      out.push_back(buf);
    }
    return out;
  }();
  return keys;
}

}  // namespace

void register_sdxl_empty_latent_image(Registry& r) {
  NodeSchema s("SDXL Empty Latent Image");
  s.display("SDXL Empty Latent Image").cat("latent").module("custom_nodes.ComfyUI-SDXL-EmptyLatentImage")
      .combo("resolution", resolution_keys())
      .int_("batch_size", 1, 1, 64)
      .optional()
      .combo("channels", {"4", "16"});
  s.output("LATENT");
  // Old keys and the UI's usage marks are no error: the numbers decide.
  NodeDef def{s, [](const NodeInputs& in, ExecContext&) {
                const std::string key = in.str("resolution");
                static const std::regex re(R"(^\s*(?:\[[^\]]*\]\s*)?(\d+)\s*x\s*(\d+))");
                std::smatch m;
                int64_t w = 1024, h = 1024;
                if (std::regex_search(key, m, re)) {
                  w = std::stoll(m[1]);
                  h = std::stoll(m[2]);
                  if (w < 64 || w > 8192 || h < 64 || h > 8192) w = h = 1024;
                } else {
                  spdlog::warn("SDXL Empty Latent Image: unknown resolution '{}', using 1024 x 1024", key);
                }
                const int64_t channels = in.has("channels") ? std::stoll(in.str("channels")) : 4;
                auto l = std::make_shared<Latent>();
                l->samples = at::zeros({in.i64("batch_size"), channels, h / 8, w / 8});
                return NodeOutput{{Value(l)}};
              }};
  def.validate = [](const std::string&, const Value&, const RuntimeConfig&) { return std::string(); };
  def.validate_inputs = {"resolution"};
  r.add(std::move(def));
}

}  // namespace comfy
