// Legacy group nodes (frontend <= 1.2x: `workflow>NAME` / `workflow/NAME`, workflow.md 2.9), expanded
// per instance into a graph shaped like a subgraph definition: inputs come from pseudo node -10 (by
// position), outputs map to inner node outputs.
#include <set>

#include "comfy/core/node.hpp"
#include "comfy/graph/workflow.hpp"
#include "ui_graph.hpp"

namespace comfy::ui {

namespace {
std::optional<int64_t> external_index(const ojson& e) {
  if (e.is_object() && e.contains("index")) return as_int(e["index"]);
  return as_int(e);
}
}  // namespace

Graph build_group_graph(const ojson& def, const Node& instance, const Registry& reg, const std::string& where,
                        std::vector<std::string>* warnings) {
  if (!def.is_object()) shape_error(where, "group node definition must be an object, found " + json_kind(def));
  if (!def.contains("nodes") || !def["nodes"].is_array()) shape_error(where, "group node definition without a 'nodes' list");
  Graph g;
  g.inputs_by_position = true;
  const auto& nodes = def["nodes"];
  for (size_t i = 0; i < nodes.size(); ++i) {
    ojson n = nodes[i];
    if (!n.is_object()) shape_error(where, "inner node must be an object, found " + json_kind(n));
    n["id"] = n.contains("index") && as_int(n["index"]) ? *as_int(n["index"]) : int64_t(i);
    Node node = parse_node(n, where + ": nodes[" + std::to_string(i) + "]");
    for (auto& in : node.inputs) in.link.reset();  // rebuilt from the group's own link list
    g.nodes.push_back(std::move(node));
  }
  g.index();

  // Internal links; external ones (origin null) become instance inputs below.
  int64_t next_link = 1;
  std::set<std::pair<std::string, int64_t>> consumed;  // inner outputs used inside
  if (def.contains("links") && def["links"].is_array()) {
    for (auto& l : def["links"]) {
      if (!l.is_array() || l.size() < 4 || l[0].is_null()) continue;
      auto o = as_int(l[0]), os = as_int(l[1]), t = as_int(l[2]), ts = as_int(l[3]);
      if (!o || !os || !t || !ts) continue;
      Node* target = nullptr;
      if (auto it = g.by_id.find(std::to_string(*t)); it != g.by_id.end()) target = &g.nodes[it->second];
      if (!target || *ts < 0 || size_t(*ts) >= target->inputs.size()) continue;
      Link link{next_link++, std::to_string(*o), *os, target->id, *ts, l.size() > 5 ? type_text(l[5]) : ""};
      target->inputs[size_t(*ts)].link = link.id;
      consumed.insert({link.origin_id, link.origin_slot});
      g.links[link.id] = link;
    }
  }

  // Instance inputs: inner inputs not fed internally, sockets per node first, converted widgets last.
  std::vector<std::pair<size_t, size_t>> sockets, widgets;
  for (size_t ni = 0; ni < g.nodes.size(); ++ni)
    for (size_t j = 0; j < g.nodes[ni].inputs.size(); ++j) {
      const Input& in = g.nodes[ni].inputs[j];
      if (in.link) continue;
      (in.widget.empty() ? sockets : widgets).push_back({ni, j});
    }
  sockets.insert(sockets.end(), widgets.begin(), widgets.end());
  for (size_t k = 0; k < sockets.size(); ++k) {
    Node& n = g.nodes[sockets[k].first];
    Link link{next_link++, "-10", int64_t(k), n.id, int64_t(sockets[k].second), n.inputs[sockets[k].second].type};
    n.inputs[sockets[k].second].link = link.id;
    g.links[link.id] = link;
    g.inputs.push_back({n.inputs[sockets[k].second].name, n.inputs[sockets[k].second].type, {link.id}});
  }

  // Instance outputs: inner outputs not consumed inside, or listed in `external`.
  std::set<std::pair<std::string, int64_t>> external;
  if (def.contains("external") && def["external"].is_array())
    for (auto& e : def["external"])
      if (e.is_array() && e.size() >= 2)
        if (auto idx = external_index(e[0]); idx && as_int(e[1])) external.insert({std::to_string(*idx), *as_int(e[1])});
  int64_t out_k = 0;
  for (auto& n : g.nodes)
    for (size_t o = 0; o < n.outputs.size(); ++o) {
      std::pair<std::string, int64_t> key{n.id, int64_t(o)};
      if (consumed.count(key) && !external.count(key)) continue;
      g.output_map[out_k++] = key;
    }

  // The instance's widgets_values: every inner widget not fed by an internal link, in inner-node order.
  const ojson& iv = instance.widgets_values;
  size_t pos = 0;
  bool lost = !iv.is_array();
  for (auto& n : g.nodes) {
    if (lost) break;
    if (n.type == "Reroute" || n.type == "Note" || n.type == "MarkdownNote") continue;
    if (n.type == "PrimitiveNode") {
      // How the editor exposes an inner primitive's widgets on the instance is not pinned down by any
      // file we have: rather than guess, stop placing instance values (and say so).
      if (warnings)
        warnings->push_back(where + ": inner PrimitiveNode; the group's widget values from here on keep the inner values");
      lost = true;
      break;
    }
    const NodeDef* d = reg.find(n.type);
    if (!d) {
      // Its widget count is unknown, so nothing after it can be placed safely: keep the inner values.
      if (warnings)
        warnings->push_back(where + ": inner node type '" + n.type +
                            "' is unknown; the group's widget values after it keep the inner defaults");
      lost = true;
      break;
    }
    auto layout = widget_layout(d->schema);
    ojson wv = n.widgets_values.is_array() ? n.widgets_values : ojson::array();
    std::set<std::string> fed;  // converted widgets with an internal link
    for (auto& in : n.inputs)
      if (!in.widget.empty() && in.link && g.links.count(*in.link) && g.links[*in.link].origin_id != "-10")
        fed.insert(in.widget);
    for (size_t k = 0; k < layout.size(); ++k) {
      while (wv.size() <= k)
        wv.push_back(layout[wv.size()].kind == WidgetSlot::Value ? widget_default(*layout[wv.size()].spec) : ojson());
      if (layout[k].spec && fed.count(layout[k].spec->name)) continue;
      if (pos < iv.size()) wv[k] = iv[pos++];
    }
    n.widgets_values = std::move(wv);
  }
  if (!lost && pos < iv.size() && warnings)
    warnings->push_back(where + ": " + std::to_string(iv.size() - pos) + " surplus widget value(s) ignored");
  return g;
}

}  // namespace comfy::ui
