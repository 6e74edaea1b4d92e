#pragma once
// Loading workflows: API prompts, UI workflows (0.4 / 1.0, subgraphs, group nodes) converted to API
// form the way ComfyUI's frontend does, and PNGs with ComfyUI's `prompt` / `workflow` text chunks.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "comfy/core/node.hpp"

namespace comfy {

using Prompt = nlohmann::ordered_json;  // {node_id: {"class_type", "inputs": {...}, "_meta"?}}

struct LoadedWorkflow {
  Prompt prompt;                    // API form, ready to validate
  nlohmann::json workflow;          // the UI workflow when the source had one (embedded into PNGs), else null
  std::string workflow_text;        // that workflow verbatim (PNG chunk / file text), "" when none
  std::string format;               // "api", "ui", "png", "envelope"
  std::string source;               // file name, for messages
  nlohmann::json extra_data = nlohmann::json::object();  // POST envelope "extra_data" ({} otherwise)
  std::vector<std::string> partial_execution_targets;    // POST envelope, empty = all outputs
  std::vector<std::string> warnings;                     // lenient-loading notes (surplus widget values, ...)

  // {"workflow": ...} for the hidden EXTRA_PNGINFO input, or null when there is no UI workflow.
  nlohmann::json extra_pnginfo() const;
};

// Options of the UI -> API conversion (frontend behaviours that involve chance or the clock).
struct ConvertOptions {
  bool dynamic_prompts = true;     // resolve {a|b} choices in dynamicPrompts widgets (comments and escapes always)
  uint64_t dynamic_prompt_seed = 0;  // seed of the {a|b} choice RNG
  uint64_t* work_steps = nullptr;  // when set, incremented once per unit of work (tests bound it by the input)
};

// Tells the forms apart by content; throws comfy::Error ("invalid_prompt") with a clear message for
// malformed input (truncated JSON, too deep nesting, non-object top level, ...). A PNG (by signature)
// is read for its `prompt` / `workflow` text chunks.
LoadedWorkflow load_workflow_file(const std::filesystem::path& path, const Registry& reg = Registry::global());
LoadedWorkflow load_workflow_text(std::string_view text, const std::string& source_name,
                                  const Registry& reg = Registry::global());
// UI workflow JSON -> API prompt (workflow.md section 3). Node types the registry lacks are kept (with
// their links and, when widgets_values is an object, its values) so validation reports them.
Prompt convert_ui_to_api(const nlohmann::json& ui, const Registry& reg = Registry::global());
Prompt convert_ui_to_api(const nlohmann::ordered_json& ui, const Registry& reg, const ConvertOptions& opt,
                         std::vector<std::string>* warnings = nullptr);

// The API prompt of a loaded workflow (what `comfy-native convert` prints).
nlohmann::ordered_json to_api_json(const LoadedWorkflow& wf);

// ---- building blocks (public for the CLI and tests)

// JSON text -> value with ComfyUI's leniencies and hard limits: depth limited to kMaxJsonDepth (checked
// before any recursion), bare NaN / Infinity / -Infinity (Python's json.dumps) read as the strings
// "NaN" / "Infinity" / "-Infinity" (FLOAT conversion accepts them), integers beyond 64 bits kept as
// decimal strings (INT conversion then sees the exact value). Throws Error("invalid_prompt").
constexpr int kMaxJsonDepth = 512;
nlohmann::ordered_json parse_json_text(std::string_view text, const std::string& source_name);

// "api", "ui", "envelope" or "" (not a workflow); `why` says which checks failed.
std::string detect_json_format(const nlohmann::ordered_json& j, std::string* why = nullptr);

// Text chunks (tEXt, zTXt, iTXt) of a PNG, keyed by keyword, decoded to UTF-8 (tEXt: UTF-8 when valid,
// else Latin-1). Throws Error("invalid_prompt") when the bytes are not a readable PNG.
std::map<std::string, std::string> read_png_text_chunks(std::string_view bytes);
bool looks_like_png(std::string_view bytes);

// The widget slots of a node in the UI format (workflow.md 3.2).
struct WidgetSlot {
  enum Kind { Value, Control, Upload } kind = Value;
  std::string name;              // input name (Value) or "" (Control / Upload)
  const InputSpec* spec = nullptr;
};
std::vector<WidgetSlot> widget_layout(const NodeSchema& schema, bool include_force_input = false);
// The layout of one saved node: as above, plus the widgets that the saved value of a combo brings
// (NodeSchema::choice_widgets), read from `widgets_values` (array or object form).
std::vector<WidgetSlot> widget_layout(const NodeSchema& schema, const nlohmann::ordered_json& widgets_values,
                                      bool include_force_input = false);

// A link in an API prompt input: ["node_id", slot].
inline bool is_link(const nlohmann::ordered_json& v) {
  return v.is_array() && v.size() == 2 && (v[0].is_string() || v[0].is_number_integer()) && v[1].is_number_integer();
}

}  // namespace comfy
