// ImpactWildcardProcessor — "ImpactWildcardProcessor" (Impact Pack; nodes-prompt.md 2.1-2.2): the
// populated text, processed once more with a fresh generator, as upstream's execution does.
#include "comfy/core/node.hpp"
#include "prompt/wildcard_node_util.hpp"

namespace comfy {

void register_impact_wildcard_processor(Registry& r) {
  NodeSchema s("ImpactWildcardProcessor");
  s.display("ImpactWildcardProcessor").cat("ImpactPack/Prompt")
      .string_("wildcard_text", "", /*multiline=*/true)
      .tip("Enter a prompt using wildcard syntax.")
      .string_("populated_text", "", /*multiline=*/true)
      .tip("The actual value passed during the execution of 'ImpactWildcardProcessor' is what is shown here.")
      .bool_("mode", true, "Populate", "Fixed")
      .tip("Populate: the populated text is rebuilt from wildcard_text each time the prompt is queued. Fixed: kept as is.")
      .seed("seed")
      .tip("Determines the random seed to be used for wildcard processing.")
      .combo("Select to add Wildcard", {"Select the Wildcard to add to the text"})
      .output("STRING");
  NodeDef def{s, [](const NodeInputs& in, ExecContext& ctx) {
                const auto dict = prompt_nodes::wildcard_dictionary(ctx.cfg());
                const uint64_t seed = in.u64("seed");
                const std::string text = prompt_nodes::populated_text(in, ctx, *dict, seed);
                return NodeOutput{{Value(prompt_nodes::process_text(text, seed, *dict, "populated_text"))}};
              }};
  prompt_nodes::accept_any_value(def, {"Select to add Wildcard"});
  r.add(std::move(def));
}

}  // namespace comfy
