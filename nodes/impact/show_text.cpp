// ShowText|pysssss — "Show Text 🐍" (pythongosssss Custom-Scripts, nodes-companions.md 7): shows the text
// list. Headless: each text goes to the log, and the UI payload {"text": [...]} to the JSON events.
#include <spdlog/spdlog.h>

#include "comfy/core/node.hpp"

namespace comfy {

void register_show_text(Registry& r) {
  NodeSchema s("ShowText|pysssss");
  s.display("Show Text 🐍").cat("utils").module("custom_nodes.ComfyUI-Custom-Scripts").output_node_()
      .input("text", "STRING")
      .hidden().hidden_input("unique_id", "UNIQUE_ID").hidden_input("extra_pnginfo", "EXTRA_PNGINFO");
  s.inputs[0].force_input = true;
  s.input_is_list = true;
  s.output("STRING", "STRING", /*is_list=*/true);
  r.add({s, [](const NodeInputs& in, ExecContext& ctx) {
           nlohmann::json shown = nlohmann::json::array();
           std::vector<Value> texts;
           for (auto& v : in.list("text")) {
             const std::string t = v.is_string() ? v.as_string() : v.kind();
             spdlog::info("[{}] {}: {}", ctx.node_id, ctx.class_type, t);
             shown.push_back(t);
             texts.push_back(Value(t));
           }
           NodeOutput out{{Value(std::make_shared<ValueList>(std::move(texts)))}};
           out.ui = {{"text", shown}};
           return out;
         }});
}

}  // namespace comfy
