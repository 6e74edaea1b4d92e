#pragma once
// The server's view of one HTTP exchange, independent of the transport (Boost.Beast in
// http_server.cpp): routes read an HttpRequest and fill an HttpResponse, so they can be tested and
// fuzzed without sockets.
#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace comfy::server {

struct HttpRequest {
  std::string method;                               // "GET", "POST", ...
  std::string target;                               // raw request target: "/view?filename=a.png"
  std::string path;                                 // percent-decoded path without the query
  std::multimap<std::string, std::string> query;    // decoded query parameters
  std::map<std::string, std::string> headers;       // lower-case names
  std::string body;
  std::map<std::string, std::string> params;        // {name} segments of the matched route

  std::string header(const std::string& lower_name) const;
  // The first value of a query parameter, or `fallback`.
  std::string query_value(const std::string& name, const std::string& fallback = "") const;
  bool has_query(const std::string& name) const { return query.count(name) > 0; }
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/octet-stream";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers

  // ComfyUI's web.json_response: "application/json; charset=utf-8".
  static HttpResponse json(const nlohmann::json& j, int status = 200);
  static HttpResponse json(const nlohmann::ordered_json& j, int status = 200);
  // An empty body (aiohttp's web.Response(status=...)).
  static HttpResponse empty(int status = 200);
  static HttpResponse text(const std::string& text, int status, const std::string& type = "text/plain; charset=utf-8");
};

// Splits a request target into a decoded path and query; false when the percent-encoding is broken or
// the decoded path holds a NUL byte.
bool parse_target(const std::string& target, std::string& path, std::multimap<std::string, std::string>& query);
// %XX and (in queries) '+' decoding; false on a malformed escape.
bool percent_decode(const std::string& in, std::string& out, bool plus_is_space);

}  // namespace comfy::server
