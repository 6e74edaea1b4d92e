// libFuzzer target for the UI widget mapping of custom nodes: the input is one JSON document
// {"object_info": {CLASS: entry, ...}, "workflow": UI workflow}. The entries become schemas (as
// `comfy-native convert --object-info` reads them), then the workflow is converted with them — widget
// order, control widgets, forceInput, combos — and validated. Anything but comfy::Error is a finding.
#include <cstdint>
#include <string_view>

#include "comfy/graph/object_info.hpp"
#include "comfy/graph/validate.hpp"
#include "comfy/graph/workflow.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    auto doc = comfy::parse_json_text(text, "fuzz-input");
    if (!doc.is_object() || !doc.contains("object_info") || !doc.contains("workflow")) return 0;
    comfy::Registry reg;
    comfy::add_object_info_nodes(reg, doc["object_info"]);
    // Schemas print back as object_info (the inverse mapping must not throw).
    for (auto& [name, def] : reg.all()) (void)def.schema.to_object_info(comfy::RuntimeConfig{}).dump();
    comfy::ConvertOptions opt;
    auto prompt = comfy::convert_ui_to_api(doc["workflow"], reg, opt);
    comfy::RuntimeConfig cfg;
    auto res = comfy::validate_prompt(prompt, reg, cfg);
    (void)res.describe();
    (void)res.to_json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } catch (const comfy::Error&) {
  }
  return 0;
}
