// Shared parts of the Impact wildcard nodes (nodes-prompt.md 2.1-2.2).
#include "prompt/wildcard_node_util.hpp"

namespace comfy::prompt_nodes {
namespace fs = std::filesystem;

std::vector<fs::path> wildcard_dirs(const RuntimeConfig& cfg) {
  std::vector<fs::path> dirs;
  for (const auto& m : cfg.models_dirs) {
    const fs::path impact = m.parent_path() / "custom_nodes" / "ComfyUI-Impact-Pack";
    dirs.push_back(impact / "wildcards");
    dirs.push_back(impact / "custom_wildcards");
  }
  for (const auto& w : cfg.wildcards_dirs) dirs.push_back(w);
  return dirs;
}

std::shared_ptr<const wildcards::Dictionary> wildcard_dictionary(const RuntimeConfig& cfg) {
  for (const auto& w : cfg.wildcards_dirs) {
    std::error_code ec;
    if (!fs::is_directory(w, ec))
      throw Error("execution_error", "wildcards folder " + w.string() + " does not exist (--wildcards-dir)");
  }
  return wildcards::cached_dictionary(wildcard_dirs(cfg));
}

void accept_any_value(NodeDef& def, std::vector<std::string> inputs) {
  def.validate = [](const std::string&, const Value&, const RuntimeConfig&) { return std::string(); };
  def.validate_inputs = std::move(inputs);
}

std::string process_text(const std::string& text, uint64_t seed, const wildcards::Dictionary& dict, const std::string& input) {
  try {
    return wildcards::process(text, seed, dict);
  } catch (Error& e) {
    if (e.input_name.empty()) e.at_input(input);
    throw;
  }
}

std::string populated_text(const NodeInputs& in, const ExecContext& ctx, const wildcards::Dictionary& dict, uint64_t seed) {
  std::string text = in.str("populated_text");
  if (!in.boolean("mode")) return text;
  bool populate = true;
  if (ctx.prompt && ctx.prompt->contains(ctx.node_id)) {
    const auto& inputs = (*ctx.prompt)[ctx.node_id].value("inputs", nlohmann::ordered_json::object());
    if (inputs.contains("populated_text") && !inputs["populated_text"].is_string()) populate = false;
    if (inputs.contains("seed") && inputs["seed"].is_array() && !inputs["seed"].empty()) {
      const auto src = inputs["seed"][0].is_string() ? inputs["seed"][0].get<std::string>() : inputs["seed"][0].dump();
      populate = populate && ctx.prompt->contains(src) && (*ctx.prompt)[src].value("class_type", "") == "Seed (rgthree)";
    }
  }
  return populate ? process_text(in.str("wildcard_text"), seed, dict, "wildcard_text") : text;
}

}  // namespace comfy::prompt_nodes
