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

// The lookup for an API prompt (what comfy-native runs; the save nodes apply step A again from the
// prompt being run, so --set and seed sweeps reach %KSampler.seed%): the node name matches
// class_type (the editor's "Node name for S&R" defaults to it), else _meta.title; the first match in
// ascending node-id order decides; only literal values resolve (a linked widget is left as written).
// The returned function refers to `prompt`, which must outlive it.
WidgetLookup api_prompt_lookup(const nlohmann::ordered_json& prompt);
// replace_prefix_patterns with api_prompt_lookup (dates only when `prompt` is null).
std::string replace_prefix_patterns(const std::string& text, const nlohmann::ordered_json* prompt);

bool is_save_node_with_prefix(const std::string& class_type);

}  // namespace comfy::ui
