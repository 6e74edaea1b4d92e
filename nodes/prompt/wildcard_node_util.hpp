#pragma once
// What ImpactWildcardProcessor and ImpactWildcardEncode share: the wildcard folders of a run, the
// UI-only combo inputs, and the "Populate" step Impact runs when the prompt is queued.
#include <string>
#include <vector>

#include "comfy/core/node.hpp"
#include "comfy/prompt/wildcards.hpp"

namespace comfy::prompt_nodes {

// Impact's folders next to each models dir (<ComfyUI>/custom_nodes/ComfyUI-Impact-Pack/wildcards, then
// its custom_wildcards), then every --wildcards-dir (RuntimeConfig::wildcards_dirs); later folders overwrite equal keys.
std::vector<std::filesystem::path> wildcard_dirs(const RuntimeConfig& cfg);
std::shared_ptr<const wildcards::Dictionary> wildcard_dictionary(const RuntimeConfig& cfg);

// The helper combos ("Select to add Wildcard", "Select to add LoRA") only edit the text in the
// editor: any saved value is accepted.
void accept_any_value(NodeDef& def, std::vector<std::string> inputs);

// The text the node works on: populated_text, or, in Populate mode (mode = true), what Impact's
// queue-time hook writes there: process(wildcard_text, seed) when populated_text is a widget and the
// seed a widget or a "Seed (rgthree)" node (other seed sources are skipped upstream).
std::string populated_text(const NodeInputs& in, const ExecContext& ctx, const wildcards::Dictionary& dict, uint64_t seed);

// wildcards::process with errors attributed to `input`.
std::string process_text(const std::string& text, uint64_t seed, const wildcards::Dictionary& dict, const std::string& input);

}  // namespace comfy::prompt_nodes
