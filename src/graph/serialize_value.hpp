#pragma once
// Internal: values the frontend computes when queueing (workflow.md 3.7, 11.1 step A).
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace comfy::ui {

// dynamicPrompts text: comments removed, {a|b} groups resolved with `seed` (when `choose`), escapes
// \{ \} \| unescaped.
std::string apply_dynamic_prompts(const std::string& text, bool choose, uint64_t seed);

// %date:FMT% and %Node.widget% in a save node's filename_prefix; `lookup(node, widget)` gives a widget
// value of the node whose "Node name for S&R" (else title) is `node`.
using WidgetLookup = std::function<std::optional<nlohmann::ordered_json>(const std::string&, const std::string&)>;
std::string replace_prefix_patterns(const std::string& text, const WidgetLookup& lookup);

bool is_save_node_with_prefix(const std::string& class_type);

}  // namespace comfy::ui
