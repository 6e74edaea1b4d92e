// Recognising what a file holds (workflow.md section 5) and loading it into an API prompt.
#include <fstream>
#include <sstream>

#include "comfy/core/error.hpp"
#include "comfy/graph/workflow.hpp"
#include "ui_graph.hpp"

namespace comfy {

namespace {
using ojson = nlohmann::ordered_json;

[[noreturn]] void fail_load(const std::string& source, const std::string& msg) {
  throw Error("invalid_prompt", (source.empty() ? std::string() : source + ": ") + msg);
}

// An API prompt must be an object of node records; say exactly which member is not one.
void check_api_prompt(const ojson& p, const std::string& source) {
  if (!p.is_object()) fail_load(source, "the API prompt must be an object, found " + ui::json_kind(p));
  for (auto& [id, node] : p.items()) {
    if (!node.is_object())
      fail_load(source, "API prompt member '" + id + "' must be a node object, found " + ui::json_kind(node));
    if (node.contains("inputs") && !node["inputs"].is_object())
      fail_load(source, "node '" + id + "': 'inputs' must be an object, found " + ui::json_kind(node["inputs"]));
    if (node.contains("class_type") && !node["class_type"].is_string())
      fail_load(source, "node '" + id + "': 'class_type' must be a string, found " + ui::json_kind(node["class_type"]));
  }
}

LoadedWorkflow from_json(ojson j, const std::string& source, const Registry& reg, std::string_view text) {
  LoadedWorkflow wf;
  wf.source = source;
  std::string why;
  std::string fmt = detect_json_format(j, &why);
  if (fmt.empty()) fail_load(source, "not a ComfyUI workflow: " + why);
  wf.format = fmt;
  if (fmt == "ui") {
    wf.prompt = convert_ui_to_api(j, reg, ConvertOptions{}, &wf.warnings);
    wf.workflow_text = std::string(text);
    wf.workflow = std::move(j);
  } else if (fmt == "envelope") {
    wf.prompt = std::move(j["prompt"]);
    if (j.contains("extra_data") && j["extra_data"].is_object()) {
      wf.extra_data = j["extra_data"];
      const auto& ed = j["extra_data"];
      if (ed.contains("extra_pnginfo") && ed["extra_pnginfo"].is_object() && ed["extra_pnginfo"].contains("workflow"))
        wf.workflow = ed["extra_pnginfo"]["workflow"];
    }
    if (j.contains("partial_execution_targets")) {
      const auto& t = j["partial_execution_targets"];
      if (!t.is_array() && !t.is_null())
        fail_load(source, "'partial_execution_targets' must be a list, found " + ui::json_kind(t));
      if (t.is_array())
        for (auto& e : t) {
          if (!e.is_string()) fail_load(source, "'partial_execution_targets' must hold node id strings");
          wf.partial_execution_targets.push_back(e.get<std::string>());
        }
    }
  } else {
    wf.prompt = std::move(j);
  }
  check_api_prompt(wf.prompt, source);
  return wf;
}

}  // namespace

std::string detect_json_format(const ojson& j, std::string* why) {
  auto say = [&](const std::string& s) {
    if (why) *why = s;
    return std::string();
  };
  if (!j.is_object()) return say("the top level is " + ui::json_kind(j) + ", not an object");
  if (j.contains("nodes")) {
    if (!j["nodes"].is_array()) return say("'nodes' is " + ui::json_kind(j["nodes"]) + ", not a list (UI format)");
    return "ui";
  }
  if (j.contains("prompt") && j["prompt"].is_object() && !j["prompt"].contains("class_type")) return "envelope";
  if (j.empty()) return "api";  // an empty prompt: validation says "Prompt has no outputs"
  size_t with_class = 0;
  std::string first_bad;
  for (auto& [k, v] : j.items()) {
    if (v.is_object() && v.contains("class_type")) ++with_class;
    else if (first_bad.empty()) first_bad = k;
  }
  if (with_class == j.size()) return "api";
  if (with_class > 0)
    return say("member '" + first_bad + "' is not a node record (an object with 'class_type') in an API prompt");
  return say("no 'nodes' list (UI format), no 'prompt' object (POST envelope) and no node records with "
             "'class_type' (API format)");
}

nlohmann::json LoadedWorkflow::extra_pnginfo() const {
  if (workflow.is_null()) return nullptr;
  return nlohmann::json{{"workflow", workflow}};
}

LoadedWorkflow load_workflow_text(std::string_view text, const std::string& source, const Registry& reg) {
  if (looks_like_png(text)) {
    auto chunks = read_png_text_chunks(text);
    auto p = chunks.find("prompt");
    auto w = chunks.find("workflow");
    if (p == chunks.end() && w == chunks.end())
      fail_load(source, "PNG has no ComfyUI metadata (no 'prompt' or 'workflow' text chunk)");
    LoadedWorkflow wf;
    if (p != chunks.end()) {
      // The prompt chunk is exactly what ran: prefer it; keep the workflow for re-embedding.
      wf = from_json(parse_json_text(p->second, source + " (prompt chunk)"), source, reg, p->second);
      if (w != chunks.end()) {
        wf.workflow_text = w->second;
        try {
          wf.workflow = parse_json_text(w->second, source + " (workflow chunk)");
        } catch (const Error& e) {
          wf.warnings.push_back(std::string("workflow chunk ignored: ") + e.what());
        }
      }
    } else {
      wf = from_json(parse_json_text(w->second, source + " (workflow chunk)"), source, reg, w->second);
    }
    wf.format = "png";
    return wf;
  }
  return from_json(parse_json_text(text, source), source, reg, text);
}

LoadedWorkflow load_workflow_file(const std::filesystem::path& path, const Registry& reg) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("invalid_prompt", "cannot open workflow file " + path.string());
  std::ostringstream ss;
  ss << f.rdbuf();
  return load_workflow_text(ss.str(), path.filename().string(), reg);
}

nlohmann::ordered_json to_api_json(const LoadedWorkflow& wf) { return wf.prompt; }

}  // namespace comfy
