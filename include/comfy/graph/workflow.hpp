#pragma once
// Loading workflows: API prompts, UI workflows (0.4 / 1.0, subgraphs, group nodes) converted to API
// form the way ComfyUI's frontend does, and PNGs with ComfyUI's `prompt` / `workflow` text chunks.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <string_view>

#include "comfy/core/node.hpp"

namespace comfy {

using Prompt = nlohmann::ordered_json;  // {node_id: {"class_type", "inputs": {...}, "_meta"?}}

struct LoadedWorkflow {
  Prompt prompt;                    // API form, ready to validate
  nlohmann::json workflow;          // the UI workflow when the source had one (embedded into PNGs), else null
  std::string format;               // "api", "ui", "png"
  std::string source;               // file name, for messages
};

// Tells the forms apart by content; throws comfy::Error ("invalid_prompt") with a clear message for
// malformed input (truncated JSON, too deep nesting, non-object top level, ...).
LoadedWorkflow load_workflow_file(const std::filesystem::path& path, const Registry& reg = Registry::global());
LoadedWorkflow load_workflow_text(std::string_view text, const std::string& source_name,
                                  const Registry& reg = Registry::global());
// UI workflow JSON -> API prompt (workflow.md section 3).
Prompt convert_ui_to_api(const nlohmann::json& ui, const Registry& reg = Registry::global());

// A link in an API prompt input: ["node_id", slot].
inline bool is_link(const nlohmann::ordered_json& v) {
  return v.is_array() && v.size() == 2 && (v[0].is_string() || v[0].is_number_integer()) && v[1].is_number_integer();
}

}  // namespace comfy
