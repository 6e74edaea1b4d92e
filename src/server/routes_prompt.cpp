// /prompt, /queue, /history, /interrupt, /free (server spec 3.1-3.7): JSON in, queue operations out.
#include <chrono>
#include <random>

#include "comfy/core/error.hpp"
#include "comfy/graph/validate.hpp"
#include "comfy/graph/workflow.hpp"
#include "server/app.hpp"

namespace comfy::server {

namespace {

using json = nlohmann::json;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string uuid4() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) s.push_back('-');
    int v = int(rng() & 15);
    if (i == 12) v = 4;
    if (i == 16) v = 8 | (v & 3);
    s.push_back(hex[v]);
  }
  return s;
}

ojson error_object(const std::string& type, const std::string& message, const std::string& details) {
  ojson e;
  e["type"] = type;
  e["message"] = message;
  e["details"] = details;
  e["extra_info"] = ojson::object();
  return e;
}

HttpResponse prompt_error(const std::string& type, const std::string& message, const std::string& details) {
  ojson j;
  j["error"] = error_object(type, message, details);
  j["node_errors"] = ojson::object();
  return HttpResponse::json(j, 400);
}

// Python's str() of an id-like JSON value (prompt_id, partial targets).
std::string id_text(const ojson& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// Python truthiness of a JSON value (`front`).
bool truthy(const ojson& v) {
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number()) return v.get<double>() != 0;
  if (v.is_string() || v.is_array() || v.is_object()) return !v.empty();
  return false;
}

// A JSON body of an optional-body route: invalid or empty JSON reads as {} (ComfyUI's /interrupt).
json lenient_body(const HttpRequest& req) {
  json j = json::parse(req.body, nullptr, false);
  return j.is_object() ? j : json::object();
}

std::vector<std::string> id_list(const json& j, const char* key) {
  std::vector<std::string> out;
  if (j.contains(key) && j[key].is_array())
    for (auto& v : j[key]) out.push_back(v.is_string() ? v.get<std::string>() : v.dump());
  return out;
}

HttpResponse post_prompt(App& app, HttpRequest& req) {
  ojson body;
  try {
    body = parse_json_text(req.body, "POST /prompt body");
  } catch (const Error& e) {
    return prompt_error("invalid_prompt", "Invalid JSON in request body", e.what());
  }
  if (!body.is_object()) return prompt_error("invalid_prompt", "Request body must be a JSON object", "");

  ojson number;
  if (body.contains("number")) {
    const ojson& n = body["number"];
    if (n.is_number()) number = n.get<double>();
    else if (n.is_string()) {
      try {
        size_t used = 0;
        double d = std::stod(n.get<std::string>(), &used);
        if (used != n.get<std::string>().size()) throw std::invalid_argument("trailing text");
        number = d;
      } catch (const std::exception&) {
        return prompt_error("invalid_prompt", "could not convert string to float: '" + n.get<std::string>() + "'", "number");
      }
    } else {
      return prompt_error("invalid_prompt", "'number' must be a number", "number");
    }
  } else {
    int64_t counter = app.queue().next_number();
    number = body.contains("front") && truthy(body["front"]) ? -counter : counter;
  }
  if (!body.contains("prompt")) return prompt_error("no_prompt", "No prompt provided", "No prompt provided");
  if (!body["prompt"].is_object()) return prompt_error("invalid_prompt", "The prompt must be a JSON object of nodes", "");

  QueueItem item;
  item.number = number;
  item.prompt = body["prompt"];
  item.prompt_id = body.contains("prompt_id") && !body["prompt_id"].is_null() ? id_text(body["prompt_id"]) : uuid4();
  std::vector<std::string> targets;
  if (body.contains("partial_execution_targets") && body["partial_execution_targets"].is_array())
    for (auto& t : body["partial_execution_targets"]) targets.push_back(id_text(t));

  item.validated_prompt = item.prompt;
  ValidationResult vr = validate_prompt(item.validated_prompt, app.registry(), app.cfg(), targets);
  if (!vr.ok) {
    json j = vr.to_json();
    if (j["error"].is_object() && j["error"].value("type", "") == "invalid_prompt") j["error"]["extra_info"] = json::object();
    ojson out;  // {"error", "node_errors"} in ComfyUI's key order
    out["error"] = ojson(j["error"]);
    out["node_errors"] = ojson(j["node_errors"]);
    return HttpResponse::json(out, 400);
  }

  item.extra_data = body.contains("extra_data") && body["extra_data"].is_object() ? body["extra_data"] : ojson::object();
  if (body.contains("client_id")) {
    item.extra_data["client_id"] = body["client_id"];
    if (body["client_id"].is_string()) item.client_id = body["client_id"].get<std::string>();
  }
  for (const char* secret : {"auth_token_comfy_org", "api_key_comfy_org"}) item.extra_data.erase(secret);
  item.extra_data["create_time"] = now_ms();
  item.outputs = vr.outputs;

  ojson resp;
  resp["prompt_id"] = item.prompt_id;
  resp["number"] = item.number;
  resp["node_errors"] = ojson(vr.node_errors);
  app.queue().put(std::move(item), [&app](size_t remaining) { app.broadcast_status(remaining); });
  return HttpResponse::json(resp);
}

HttpResponse get_history(App& app, HttpRequest& req) {
  std::optional<int64_t> max_items;
  int64_t offset = -1;
  try {
    if (req.has_query("max_items")) max_items = std::stoll(req.query_value("max_items"));
    if (req.has_query("offset")) offset = std::stoll(req.query_value("offset"));
  } catch (const std::exception&) {
    return HttpResponse::text("500 Internal Server Error\n\nmax_items / offset must be integers", 500);  // as ComfyUI
  }
  return HttpResponse::json(app.queue().history(max_items, offset));
}

}  // namespace

void add_prompt_routes(App& app, Router& r) {
  r.add("POST", "/prompt", [&app](HttpRequest& req) { return post_prompt(app, req); });
  r.add("GET", "/prompt", [&app](HttpRequest&) {
    return HttpResponse::json(json{{"exec_info", {{"queue_remaining", app.queue().queue_remaining()}}}});
  });
  r.add("GET", "/queue", [&app](HttpRequest&) { return HttpResponse::json(app.queue().queue_json()); });
  r.add("POST", "/queue", [&app](HttpRequest& req) {
    json body = lenient_body(req);
    // ComfyUI: a wipe always announces the queue; each deleted item announces it once.
    if (body.contains("clear") && body["clear"] == true) {
      app.queue().wipe();
      app.broadcast_status();
    }
    for (auto& id : id_list(body, "delete"))
      if (app.queue().remove({id}) > 0) app.broadcast_status();
    return HttpResponse::empty();
  });
  r.add("GET", "/history", [&app](HttpRequest& req) { return get_history(app, req); });
  r.add("GET", "/history/{prompt_id}", [&app](HttpRequest& req) {
    return HttpResponse::json(app.queue().history_one(req.params["prompt_id"]));
  });
  r.add("POST", "/history", [&app](HttpRequest& req) {
    json body = lenient_body(req);
    if (body.contains("clear") && body["clear"] == true) app.queue().history_clear();
    if (body.contains("delete")) app.queue().history_remove(id_list(body, "delete"));
    return HttpResponse::empty();
  });
  r.add("POST", "/interrupt", [&app](HttpRequest& req) {
    json body = lenient_body(req);
    app.interrupt(body.contains("prompt_id") && body["prompt_id"].is_string() ? body["prompt_id"].get<std::string>() : "");
    return HttpResponse::empty();
  });
  r.add("POST", "/free", [&app](HttpRequest& req) {
    json body = lenient_body(req);
    auto flag = [&](const char* k) { return body.contains(k) && body[k].is_boolean() && body[k].get<bool>(); };
    app.request_free(flag("unload_models"), flag("free_memory"));
    return HttpResponse::empty();
  });
}

}  // namespace comfy::server
