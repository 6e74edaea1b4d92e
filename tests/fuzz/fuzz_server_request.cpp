// libFuzzer: `serve`'s request parsing and routing without sockets. Input: "METHOD TARGET\n" header
// lines "Name: value\n", an empty line, then the body. Exercises target / query decoding, the route
// table (placeholders, the /api twin), multipart bodies and the JSON bodies the routes read.
#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

#include "server/http_message.hpp"
#include "server/multipart.hpp"
#include "server/router.hpp"

using namespace comfy::server;

namespace {

Router& routes() {
  static Router r = [] {
    Router t;
    auto json_body = [](HttpRequest& req) {
      auto j = nlohmann::json::parse(req.body, nullptr, false);
      return HttpResponse::json(nlohmann::json{{"ok", !j.is_discarded()}, {"params", req.params}});
    };
    auto upload = [](HttpRequest& req) {
      auto parts = parse_multipart(req.header("content-type"), req.body);
      if (!parts) return HttpResponse::empty(400);
      size_t n = 0;
      for (auto& [name, part] : *parts) n += name.size() + part.data.size() + (part.filename ? part.filename->size() : 0);
      return HttpResponse::text(std::to_string(n), 200);
    };
    for (const char* p : {"/prompt", "/queue", "/history", "/interrupt", "/free", "/settings", "/settings/{id}"})
      t.add("POST", p, json_body);
    for (const char* p : {"/prompt", "/queue", "/history", "/history/{prompt_id}", "/object_info", "/object_info/{node_class}",
                          "/view", "/models/{folder}", "/userdata/{file}"})
      t.add("GET", p, json_body);
    t.add("POST", "/upload/image", upload);
    t.add("POST", "/upload/mask", upload);
    return t;
  }();
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  HttpRequest req;
  size_t eol = in.find('\n');
  std::string line = in.substr(0, eol);
  size_t sp = line.find(' ');
  req.method = line.substr(0, sp);
  req.target = sp == std::string::npos ? "/" : line.substr(sp + 1);
  size_t pos = eol == std::string::npos ? in.size() : eol + 1;
  while (pos < in.size()) {
    size_t next = in.find('\n', pos);
    std::string h = in.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
    pos = next == std::string::npos ? in.size() : next + 1;
    if (h.empty()) break;
    size_t colon = h.find(':');
    if (colon == std::string::npos) continue;
    std::string name = h.substr(0, colon);
    for (auto& c : name) c = char(std::tolower(static_cast<unsigned char>(c)));
    req.headers[name] = h.substr(colon + 1);
  }
  req.body = in.substr(std::min(pos, in.size()));
  if (!parse_target(req.target, req.path, req.query)) return 0;
  (void)req.query_value("filename");
  HttpResponse r = routes().dispatch(req);
  (void)r.body.size();
  return 0;
}
