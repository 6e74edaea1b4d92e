#pragma once
// The route table: (method, path pattern) -> handler. Patterns are literal segments and {name}
// placeholders ("/history/{prompt_id}"); every route also answers under "/api" (ComfyUI registers each
// route twice: scripts use the bare form, the web frontend the /api form).
#include <functional>
#include <string>
#include <vector>

#include "server/http_message.hpp"

namespace comfy::server {

using Handler = std::function<HttpResponse(HttpRequest&)>;

class Router {
 public:
  void add(const std::string& method, const std::string& pattern, Handler h);
  // The handler for a request (fills req.params), or nullptr. `path_known` tells 405 from 404.
  const Handler* match(HttpRequest& req, bool* path_known = nullptr) const;
  HttpResponse dispatch(HttpRequest& req) const;  // 404 / 405 when nothing matches

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;  // "{name}" = placeholder
    Handler handler;
  };
  static bool match_segments(const Route& r, const std::vector<std::string>& segs, std::map<std::string, std::string>& params);
  std::vector<Route> routes_;
};

// "/a/b/" -> {"a", "b", ""}; the leading slash is dropped.
std::vector<std::string> split_path(const std::string& path);

}  // namespace comfy::server
