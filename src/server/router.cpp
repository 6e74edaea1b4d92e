// Route matching: literal segments and {name} placeholders, with and without the "/api" prefix.
#include "server/router.hpp"

namespace comfy::server {

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> segs;
  size_t start = path.empty() || path[0] != '/' ? 0 : 1;
  while (true) {
    size_t slash = path.find('/', start);
    segs.push_back(path.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return segs;
}

void Router::add(const std::string& method, const std::string& pattern, Handler h) {
  routes_.push_back(Route{method, split_path(pattern), std::move(h)});
}

bool Router::match_segments(const Route& r, const std::vector<std::string>& segs, std::map<std::string, std::string>& params) {
  if (r.segments.size() != segs.size()) return false;
  std::map<std::string, std::string> found;
  for (size_t i = 0; i < segs.size(); ++i) {
    const std::string& p = r.segments[i];
    if (p.size() > 2 && p.front() == '{' && p.back() == '}') {
      if (segs[i].empty()) return false;
      found[p.substr(1, p.size() - 2)] = segs[i];
    } else if (p != segs[i]) {
      return false;
    }
  }
  params = std::move(found);
  return true;
}

const Handler* Router::match(HttpRequest& req, bool* path_known) const {
  std::vector<std::string> segs = split_path(req.path);
  if (segs.size() > 1 && segs[0] == "api") segs.erase(segs.begin());
  if (path_known) *path_known = false;
  for (auto& r : routes_) {
    std::map<std::string, std::string> params;
    if (!match_segments(r, segs, params)) continue;
    if (path_known) *path_known = true;
    bool method_ok = r.method == req.method || (r.method == "GET" && req.method == "HEAD");
    if (!method_ok) continue;
    req.params = std::move(params);
    return &r.handler;
  }
  return nullptr;
}

HttpResponse Router::dispatch(HttpRequest& req) const {
  bool known = false;
  const Handler* h = match(req, &known);
  if (!h) return known ? HttpResponse::text("405: Method Not Allowed", 405) : HttpResponse::text("404: Not Found", 404);
  return (*h)(req);
}

}  // namespace comfy::server
