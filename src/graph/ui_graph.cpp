// Parsing the UI format's nodes and links (workflow.md 2.3, 2.4), leniently but never blindly.
#include "ui_graph.hpp"

#include <cmath>

namespace comfy::ui {

void shape_error(const std::string& where, const std::string& what) {
  throw Error("invalid_prompt", "UI workflow: " + where + ": " + what);
}

std::string json_kind(const ojson& v) {
  switch (v.type()) {
    case ojson::value_t::null: return "null";
    case ojson::value_t::object: return "an object";
    case ojson::value_t::array: return "a list";
    case ojson::value_t::string: return "a string";
    case ojson::value_t::boolean: return "a boolean";
    case ojson::value_t::number_float: return "a float";
    default: return "a number";
  }
}

std::optional<int64_t> as_int(const ojson& v) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_unsigned()) return static_cast<int64_t>(v.get<uint64_t>());
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15) return static_cast<int64_t>(d);
    return std::nullopt;
  }
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    if (s.empty() || s.size() > 18) return std::nullopt;
    size_t i = s[0] == '-' ? 1 : 0;
    if (i == s.size()) return std::nullopt;
    for (size_t k = i; k < s.size(); ++k)
      if (s[k] < '0' || s[k] > '9') return std::nullopt;
    return std::stoll(s);
  }
  return std::nullopt;
}

std::string id_text(const ojson& v) {
  if (v.is_string()) return v.get<std::string>();
  if (auto i = as_int(v)) return std::to_string(*i);
  return "";
}

std::string type_text(const ojson& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) {
    std::string s;
    for (auto& e : v) {
      if (!s.empty()) s += ",";
      s += e.is_string() ? e.get<std::string>() : e.dump();
    }
    return s;
  }
  if (v.is_null()) return "";
  return v.dump();
}

Node parse_node(const ojson& n, const std::string& where) {
  if (!n.is_object()) shape_error(where, "expected a node object, found " + json_kind(n));
  Node node;
  if (!n.contains("id")) shape_error(where, "node without an 'id'");
  node.id = id_text(n["id"]);
  if (node.id.empty()) shape_error(where, "node id must be a number or a string, found " + json_kind(n["id"]));
  std::string w = where + " (node " + node.id + ")";
  if (!n.contains("type") || !n["type"].is_string())
    shape_error(w, "node 'type' must be a string, found " + (n.contains("type") ? json_kind(n["type"]) : "nothing"));
  node.type = n["type"].get<std::string>();
  if (n.contains("mode")) {
    auto m = as_int(n["mode"]);
    node.mode = m ? int(*m) : 0;
  }
  if (n.contains("title") && n["title"].is_string()) node.title = n["title"].get<std::string>();
  if (n.contains("widgets_values")) node.widgets_values = n["widgets_values"];
  if (n.contains("properties") && n["properties"].is_object()) node.properties = n["properties"];
  if (n.contains("inputs") && !n["inputs"].is_null()) {
    const auto& ins = n["inputs"];
    if (!ins.is_array()) shape_error(w, "'inputs' must be a list, found " + json_kind(ins));
    for (auto& i : ins) {
      if (!i.is_object()) shape_error(w, "input slot must be an object, found " + json_kind(i));
      Input in;
      if (i.contains("name") && i["name"].is_string()) in.name = i["name"].get<std::string>();
      if (i.contains("type")) in.type = type_text(i["type"]);
      if (i.contains("link") && !i["link"].is_null()) in.link = as_int(i["link"]);
      if (i.contains("widget") && i["widget"].is_object() && i["widget"].contains("name") &&
          i["widget"]["name"].is_string())
        in.widget = i["widget"]["name"].get<std::string>();
      node.inputs.push_back(std::move(in));
    }
  }
  if (n.contains("outputs") && !n["outputs"].is_null()) {
    const auto& outs = n["outputs"];
    if (!outs.is_array()) shape_error(w, "'outputs' must be a list, found " + json_kind(outs));
    for (auto& o : outs) {
      if (!o.is_object()) shape_error(w, "output slot must be an object, found " + json_kind(o));
      Output out;
      if (o.contains("name") && o["name"].is_string()) out.name = o["name"].get<std::string>();
      if (o.contains("type")) out.type = type_text(o["type"]);
      node.outputs.push_back(std::move(out));
    }
  }
  return node;
}

namespace {
bool parse_link(const ojson& l, bool object_layout, Link& out) {
  if (object_layout && l.is_object()) {
    auto id = l.contains("id") ? as_int(l["id"]) : std::nullopt;
    auto os = l.contains("origin_slot") ? as_int(l["origin_slot"]) : std::nullopt;
    auto ts = l.contains("target_slot") ? as_int(l["target_slot"]) : std::nullopt;
    if (!id || !os || !l.contains("origin_id") || !l.contains("target_id")) return false;
    out = {*id, id_text(l["origin_id"]), *os, id_text(l["target_id"]), ts.value_or(0),
           l.contains("type") ? type_text(l["type"]) : ""};
    return !out.origin_id.empty();
  }
  if (l.is_array() && l.size() >= 5) {
    auto id = as_int(l[0]);
    auto os = as_int(l[2]);
    auto ts = as_int(l[4]);
    if (!id || !os) return false;
    out = {*id, id_text(l[1]), *os, id_text(l[3]), ts.value_or(0), l.size() > 5 ? type_text(l[5]) : ""};
    return !out.origin_id.empty();
  }
  return false;
}
}  // namespace

Graph parse_graph(const ojson& g, bool object_links, const std::string& where, std::vector<std::string>* warnings) {
  if (!g.is_object()) shape_error(where, "expected an object, found " + json_kind(g));
  if (!g.contains("nodes")) shape_error(where, "no 'nodes' list");
  const auto& nodes = g["nodes"];
  if (!nodes.is_array()) shape_error(where, "'nodes' must be a list, found " + json_kind(nodes));
  Graph graph;
  for (size_t i = 0; i < nodes.size(); ++i)
    graph.nodes.push_back(parse_node(nodes[i], where + ": nodes[" + std::to_string(i) + "]"));
  graph.index();
  if (g.contains("links") && !g["links"].is_null()) {
    const auto& links = g["links"];
    if (!links.is_array()) shape_error(where, "'links' must be a list, found " + json_kind(links));
    for (auto& l : links) {
      Link link;
      // Either layout is accepted in either place: damaged / hand-made files mix them.
      if (!parse_link(l, true, link) && !parse_link(l, false, link)) {
        if (warnings) warnings->push_back(where + ": ignored malformed link " + l.dump().substr(0, 80));
        continue;
      }
      graph.links[link.id] = link;
    }
  }
  (void)object_links;
  return graph;
}

}  // namespace comfy::ui
