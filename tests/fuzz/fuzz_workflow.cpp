// libFuzzer target for the workflow loader: any bytes (JSON in three forms, PNG) either load, convert
// and validate, or fail with comfy::Error. Any other exception, crash or sanitizer report is a bug.
#include <cstdint>
#include <string_view>

#include "comfy/graph/validate.hpp"
#include "comfy/graph/workflow.hpp"
#include "graph_test_registry.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const comfy::Registry& reg = comfy::test::graph_test_registry();
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    auto wf = comfy::load_workflow_text(text, "fuzz-input", reg);
    comfy::RuntimeConfig cfg;
    auto res = comfy::validate_prompt(wf.prompt, reg, cfg, wf.partial_execution_targets);
    (void)res.describe();
    (void)res.to_json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    (void)wf.prompt.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } catch (const comfy::Error&) {
  }
  return 0;
}
