// The widget slots of a node as the frontend creates them (workflow.md 3.2).
#include "comfy/graph/workflow.hpp"
#include "ui_graph.hpp"

namespace comfy {

namespace {
bool is_widget_type(const InputSpec& in) {
  return in.is_combo() || in.type == "INT" || in.type == "FLOAT" || in.type == "STRING" || in.type == "BOOLEAN";
}
// control_after_generate when declared; otherwise the frontend's name rule for seeds.
bool has_control(const InputSpec& in) {
  if (in.control_after_generate) return true;
  if (in.extra.is_object() && in.extra.contains("control_after_generate"))
    return !(in.extra["control_after_generate"].is_boolean() && !in.extra["control_after_generate"].get<bool>());
  return in.type == "INT" && (in.name == "seed" || in.name == "noise_seed");
}
}  // namespace

std::vector<WidgetSlot> widget_layout(const NodeSchema& schema, bool include_force_input) {
  std::vector<WidgetSlot> out;
  for (auto g : {InputGroup::Required, InputGroup::Optional}) {
    for (auto& in : schema.inputs) {
      if (in.group != g || !is_widget_type(in)) continue;
      if (in.force_input && !include_force_input) continue;
      out.push_back({WidgetSlot::Value, in.name, &in});
      if (in.type == "INT" && has_control(in)) out.push_back({WidgetSlot::Control, "", &in});
      if (in.is_combo() && in.control_after_generate) out.push_back({WidgetSlot::Control, "", &in});
      if (in.is_combo() && in.image_upload) out.push_back({WidgetSlot::Upload, "", &in});
    }
  }
  return out;
}

// The editor's layout for a saved node: the schema's widgets, plus the widgets a combo's saved value
// brings along (VHS's format widgets), inserted after that combo's slot.
std::vector<WidgetSlot> widget_layout(const NodeSchema& schema, const nlohmann::ordered_json& widgets_values,
                                      bool include_force_input) {
  auto base = widget_layout(schema, include_force_input);
  if (schema.choice_widgets.empty()) return base;
  std::vector<WidgetSlot> out;
  for (auto& slot : base) {
    out.push_back(slot);
    if (slot.kind != WidgetSlot::Value) continue;
    auto cw = schema.choice_widgets.find(slot.name);
    if (cw == schema.choice_widgets.end()) continue;
    nlohmann::ordered_json chosen;
    if (widgets_values.is_object() && widgets_values.contains(slot.name)) chosen = widgets_values[slot.name];
    else if (widgets_values.is_array() && out.size() <= widgets_values.size()) chosen = widgets_values[out.size() - 1];
    else if (slot.spec && !slot.spec->default_value.is_null()) chosen = slot.spec->default_value;
    if (!chosen.is_string()) continue;
    auto extra = cw->second.find(chosen.get<std::string>());
    if (extra == cw->second.end()) continue;
    for (auto& in : extra->second) out.push_back({WidgetSlot::Value, in.name, &in});
  }
  return out;
}

namespace ui {
ojson widget_default(const InputSpec& in) {
  if (!in.default_value.is_null()) return ojson(in.default_value);
  if (in.is_combo()) {
    auto ch = in.choices();
    return ch.empty() ? ojson("") : ojson(ch.front());
  }
  if (in.type == "INT") return 0;
  if (in.type == "FLOAT") return 0.0;
  if (in.type == "BOOLEAN") return false;
  return "";
}
}  // namespace ui

}  // namespace comfy
