// Subgraph definitions (frontend >= 1.24, workflow.md 2.8).
#include "ui_graph.hpp"

#include <unordered_set>

namespace comfy::ui {

namespace {
std::vector<IOSlot> parse_io(const ojson& def, const char* key, const std::string& where) {
  std::vector<IOSlot> out;
  if (!def.contains(key) || def[key].is_null()) return out;
  const auto& arr = def[key];
  if (!arr.is_array()) shape_error(where, std::string("'") + key + "' must be a list, found " + json_kind(arr));
  for (auto& s : arr) {
    IOSlot io;
    if (s.is_object()) {
      if (s.contains("name") && s["name"].is_string()) io.name = s["name"].get<std::string>();
      if (s.contains("type")) io.type = type_text(s["type"]);
      if (s.contains("linkIds") && s["linkIds"].is_array())
        for (auto& l : s["linkIds"])
          if (auto id = as_int(l)) io.link_ids.push_back(*id);
    }
    out.push_back(std::move(io));
  }
  return out;
}
}  // namespace

Graph parse_subgraph_definition(const ojson& def, const std::string& where, std::vector<std::string>* warnings) {
  Graph g = parse_graph(def, true, where, warnings);
  g.inputs = parse_io(def, "inputs", where);
  g.outputs = parse_io(def, "outputs", where);
  for (auto& [id, l] : g.links)
    if (l.target_id == "-20") g.output_map[l.target_slot] = {l.origin_id, l.origin_slot};
  // The instance's widgets_values: one per definition input that feeds a widget socket inside.
  // (One pass over the inner inputs: which (node, link id) pairs end in a widget socket.)
  std::unordered_set<std::string> widget_link;
  auto key = [](const std::string& node, int64_t link) { return node + '\x1f' + std::to_string(link); };
  for (auto& n : g.nodes)
    for (auto& in : n.inputs)
      if (in.link && !in.widget.empty()) widget_link.insert(key(n.id, *in.link));
  std::vector<bool> feeds_widget(g.inputs.size(), false);
  for (auto& [id, l] : g.links)
    if (l.origin_id == "-10" && l.origin_slot >= 0 && size_t(l.origin_slot) < g.inputs.size() && g.node(l.target_id) &&
        widget_link.count(key(l.target_id, id)))
      feeds_widget[size_t(l.origin_slot)] = true;
  size_t next = 0;
  for (size_t k = 0; k < g.inputs.size(); ++k)
    if (feeds_widget[k]) g.promoted_widget_index[int64_t(k)] = next++;
  return g;
}

}  // namespace comfy::ui
