#pragma once
// Internal: a UI graph (root graph, subgraph definition or expanded legacy group node) parsed into
// plain structs, so the converter never walks raw JSON of uncertain shape.
#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "comfy/core/error.hpp"

namespace comfy::ui {

using ojson = nlohmann::ordered_json;

struct Input {
  std::string name;
  std::string type;                 // socket type ("MODEL", "*", ...); "" when odd
  std::optional<int64_t> link;      // link id
  std::string widget;               // widget name when the socket belongs to a widget, else ""
};
struct Output {
  std::string name;
  std::string type;
};

struct Node {
  std::string id;                   // local id as text ("83", "-10", "3")
  std::string type;
  int mode = 0;
  std::string title;                // "" when absent
  ojson widgets_values;             // null when absent
  ojson properties = ojson::object();
  std::vector<Input> inputs;
  std::vector<Output> outputs;
};

struct Link {
  int64_t id = 0;
  std::string origin_id;
  int64_t origin_slot = 0;
  std::string target_id;
  int64_t target_slot = 0;
  std::string type;
};

// Subgraph input/output slot of a definition.
struct IOSlot {
  std::string name, type;
  std::vector<int64_t> link_ids;
};

struct Graph {
  std::vector<Node> nodes;
  std::unordered_map<std::string, size_t> by_id;
  std::unordered_map<int64_t, Link> links;
  // subgraph definitions / legacy groups only
  std::vector<IOSlot> inputs, outputs;
  // Subgraph: definition input slot -> position in the instance's widgets_values (promoted widgets).
  std::map<int64_t, size_t> promoted_widget_index;
  // Legacy group: instance sockets are matched by position, not by name.
  bool inputs_by_position = false;
  std::map<int64_t, std::pair<std::string, int64_t>> output_map;  // instance output -> inner (node, slot)

  const Node* node(const std::string& id) const {
    auto it = by_id.find(id);
    return it == by_id.end() ? nullptr : &nodes[it->second];
  }
  void index() {
    by_id.clear();
    for (size_t i = 0; i < nodes.size(); ++i) by_id.emplace(nodes[i].id, i);
  }
};

// Throws Error("invalid_prompt") naming `where` for shape errors that make the file unusable.
[[noreturn]] void shape_error(const std::string& where, const std::string& what);
std::string json_kind(const ojson& v);  // "a string", "a number", ... for messages
// Node ids / slots / link ids: integers, or numeric strings in legacy files.
std::optional<int64_t> as_int(const ojson& v);
std::string id_text(const ojson& v);    // node id as text ("" when absent / odd)
std::string type_text(const ojson& v);  // socket / link type as text (arrays joined with ',')

// nodes[] + links[] of a graph; `object_links` selects the version-1 layout.
Graph parse_graph(const ojson& g, bool object_links, const std::string& where, std::vector<std::string>* warnings);
Node parse_node(const ojson& n, const std::string& where);

// A subgraph definition (workflow.md 2.8): its graph plus I/O slots, output map and promoted widgets.
Graph parse_subgraph_definition(const ojson& def, const std::string& where, std::vector<std::string>* warnings);

}  // namespace comfy::ui

namespace comfy {
class Registry;
struct InputSpec;
namespace ui {
// The value a widget gets when the file has none (workflow.md 3.2).
ojson widget_default(const InputSpec& spec);

// A legacy group node instance (workflow.md 2.9) expanded into a graph of its inner nodes (ids = inner
// index), with the instance's widget values distributed over the inner widgets. Per instance.
Graph build_group_graph(const ojson& def, const Node& instance, const Registry& reg, const std::string& where,
                        std::vector<std::string>* warnings);
}  // namespace ui
}  // namespace comfy
