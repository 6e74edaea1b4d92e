// App: request handling around the route table (token, origin check, errors), websocket sessions,
// status messages and /free, /interrupt requests. The queue worker is in worker.cpp.
#include "server/app.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <random>

#include "comfy/core/error.hpp"
#include "comfy/io/files.hpp"
#include "comfy/io/input_files.hpp"

namespace comfy::server {

namespace {

std::string random_hex(size_t n) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) s.push_back(hex[rng() & 15]);
  return s;
}

bool equal_const_time(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char d = 0;
  for (size_t i = 0; i < a.size(); ++i) d |= (unsigned char)(a[i] ^ b[i]);
  return d == 0;
}

// "host:port" / "[v6]:port" -> (host, port or "").
std::pair<std::string, std::string> split_host_port(const std::string& hp) {
  if (!hp.empty() && hp[0] == '[') {
    auto close = hp.find(']');
    if (close == std::string::npos) return {hp, ""};
    std::string port = close + 1 < hp.size() && hp[close + 1] == ':' ? hp.substr(close + 2) : "";
    return {hp.substr(1, close - 1), port};
  }
  auto colon = hp.rfind(':');
  if (colon == std::string::npos || hp.find(':') != colon) return {hp, ""};
  return {hp.substr(0, colon), hp.substr(colon + 1)};
}

bool is_loopback_name(std::string h) {
  std::transform(h.begin(), h.end(), h.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return h == "localhost" || h == "::1" || h.rfind("127.", 0) == 0;
}

// ComfyUI's create_origin_only_middleware: a browser page from another origin may not drive a
// server that listens on loopback.
bool origin_mismatch(const HttpRequest& req) {
  std::string host = req.header("host"), origin = req.header("origin");
  if (host.empty() || origin.empty()) return false;
  auto [hhost, hport] = split_host_port(host);
  if (!is_loopback_name(hhost)) return false;
  auto scheme = origin.find("://");
  std::string o = scheme == std::string::npos ? origin : origin.substr(scheme + 3);
  auto slash = o.find('/');
  if (slash != std::string::npos) o.resize(slash);
  auto [ohost, oport] = split_host_port(o);
  if (ohost != hhost) return true;
  return !hport.empty() && !oport.empty() && hport != oport;
}

}  // namespace

App::App(ServeOptions opt, const Registry& reg) : opt_(std::move(opt)), reg_(reg), queue_(opt_.max_history) {
  opt_.cfg.interrupt = &interrupt_flag_;
  if (opt_.cfg.temp_dir.empty()) opt_.cfg.temp_dir = io::temp_dir_of(opt_.cfg);
  executor_ = std::make_unique<Executor>(reg_, opt_.cfg, [this](const Event& e) {
    if (current_sink_) current_sink_(e);
  });
  register_routes();
}

App::~App() { stop(true); }

void App::register_routes() {
  add_prompt_routes(*this, router_);
  add_file_routes(*this, router_);
  add_info_routes(*this, router_);
}

bool App::authorized(const HttpRequest& req) const {
  if (opt_.api_token.empty()) return true;
  std::string auth = req.header("authorization");
  const std::string bearer = "Bearer ";
  if (auth.size() > bearer.size() && auth.compare(0, bearer.size(), bearer) == 0 &&
      equal_const_time(auth.substr(bearer.size()), opt_.api_token))
    return true;
  auto it = req.query.find("token");
  return it != req.query.end() && equal_const_time(it->second, opt_.api_token);
}

HttpResponse App::handle(HttpRequest& req) {
  if (!authorized(req)) {
    HttpResponse r = HttpResponse::json(nlohmann::json{{"error", "unauthorized: send Authorization: Bearer <token> or ?token=<token>"}}, 401);
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return r;
  }
  if (req.method == "OPTIONS") return HttpResponse::empty(200);
  if (origin_mismatch(req)) return HttpResponse::empty(403);
  try {
    HttpResponse r = router_.dispatch(req);
    if (r.status == 404 && (req.method == "GET" || req.method == "HEAD")) return static_file(req, r);
    return r;
  } catch (const nlohmann::json::exception& e) {
    return HttpResponse::text(std::string("400: ") + e.what(), 400);
  } catch (const Error& e) {
    return HttpResponse::text("500 Internal Server Error\n\n" + std::string(e.what()), 500);
  } catch (const std::exception& e) {
    return HttpResponse::text("500 Internal Server Error\n\n" + std::string(e.what()), 500);
  }
}

// GET of a path no route serves: a file of --front-end-root (index.html for "/"), a placeholder page
// for "/" without one, else the router's 404.
HttpResponse App::static_file(const HttpRequest& req, HttpResponse not_found) const {
  namespace fs = std::filesystem;
  if (opt_.front_end_root.empty()) {
    if (req.path != "/") return not_found;
    return HttpResponse::text("<!doctype html><title>comfy-native</title><p>comfy-native serves ComfyUI's API here "
                              "(POST /prompt, /ws, /history, /view). Start it with --front-end-root DIR to serve a "
                              "ComfyUI web frontend.</p>\n", 200, "text/html; charset=utf-8");
  }
  std::string rel = req.path == "/" ? "index.html" : req.path.substr(1);
  try {
    fs::path p = io::safe_join(opt_.front_end_root, rel, "path");
    std::error_code ec;
    if (fs::is_directory(p, ec)) p /= "index.html";
    if (!fs::is_regular_file(p, ec)) return not_found;
    static const std::map<std::string, std::string> types = {
        {".html", "text/html; charset=utf-8"}, {".js", "text/javascript"}, {".mjs", "text/javascript"},
        {".css", "text/css"}, {".json", "application/json"}, {".svg", "image/svg+xml"}, {".png", "image/png"},
        {".ico", "image/x-icon"}, {".woff2", "font/woff2"}, {".wasm", "application/wasm"}};
    HttpResponse r;
    auto t = types.find(p.extension().string());
    r.content_type = t == types.end() ? "application/octet-stream" : t->second;
    r.body = io::read_file(p);
    return r;
  } catch (const std::exception&) {
    return HttpResponse::empty(403);
  }
}

nlohmann::json App::status_data(bool with_sid, const std::string& sid) const {
  nlohmann::json d = {{"status", {{"exec_info", {{"queue_remaining", queue_.queue_remaining()}}}}}};
  if (with_sid) d["sid"] = sid;
  return d;
}

void App::broadcast_status() { hub_.send_json("status", status_data()); }

void App::broadcast_status(size_t queue_remaining) {
  hub_.send_json("status", nlohmann::json{{"status", {{"exec_info", {{"queue_remaining", queue_remaining}}}}}});
}

nlohmann::json App::features() const {
  return {{"supports_preview_metadata", true},
          {"max_upload_size", opt_.max_upload_size},
          {"extension", {{"manager", {{"supports_v4", true}}}}}};
}

std::string App::ws_open(const std::string& client_id, std::shared_ptr<WsClient> client) {
  std::string sid = client_id.empty() ? random_hex(32) : client_id;
  hub_.add(sid, client);
  client->send(std::make_shared<const std::string>(ws_message("status", status_data(true, sid))), false);
  return sid;
}

void App::ws_text(const std::string& sid, const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return;  // ComfyUI logs and ignores it
  if (j.value("type", std::string()) == "feature_flags" && j.contains("data") && j["data"].is_object()) {
    hub_.set_feature_flags(sid, j["data"]);
    hub_.send_json("feature_flags", features(), sid);
  }
}

void App::ws_close(const std::string& sid, const WsClient* client) { hub_.remove(sid, client); }

void App::interrupt(const std::string& prompt_id) {
  auto running = queue_.running_id();
  if (!prompt_id.empty() && (!running || *running != prompt_id)) return;
  interrupt_flag_ = true;
}

void App::start_worker() {
  if (!worker_.joinable()) worker_ = std::thread([this] { worker_loop(); });
}

void App::stop(bool abort_running) {
  queue_.shutdown();
  if (abort_running) interrupt_flag_ = true;
  if (worker_.joinable()) worker_.join();
}

}  // namespace comfy::server
