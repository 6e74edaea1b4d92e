// HttpRequest / HttpResponse helpers and target parsing (RFC 3986 percent-decoding, form-style queries).
#include "server/http_message.hpp"

namespace comfy::server {

std::string HttpRequest::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

std::string HttpRequest::query_value(const std::string& name, const std::string& fallback) const {
  auto it = query.find(name);
  return it == query.end() ? fallback : it->second;
}

HttpResponse HttpResponse::json(const nlohmann::json& j, int status) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json; charset=utf-8";
  r.body = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

HttpResponse HttpResponse::json(const nlohmann::ordered_json& j, int status) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json; charset=utf-8";
  r.body = j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  return r;
}

HttpResponse HttpResponse::empty(int status) {
  HttpResponse r;
  r.status = status;
  return r;
}

HttpResponse HttpResponse::text(const std::string& text, int status, const std::string& type) {
  HttpResponse r;
  r.status = status;
  r.content_type = type;
  r.body = text;
  return r;
}

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

bool percent_decode(const std::string& in, std::string& out, bool plus_is_space) {
  out.clear();
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out.push_back(char(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return true;
}

bool parse_target(const std::string& target, std::string& path, std::multimap<std::string, std::string>& query) {
  query.clear();
  auto q = target.find('?');
  std::string raw_path = target.substr(0, q);
  if (!percent_decode(raw_path, path, false) || path.find('\0') != std::string::npos) return false;
  if (q == std::string::npos) return true;
  std::string qs = target.substr(q + 1);
  auto hash = qs.find('#');
  if (hash != std::string::npos) qs.resize(hash);
  size_t start = 0;
  while (start <= qs.size()) {
    size_t amp = qs.find('&', start);
    std::string part = qs.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
    if (!part.empty()) {
      auto eq = part.find('=');
      std::string k, v;
      if (!percent_decode(part.substr(0, eq), k, true)) return false;
      if (eq != std::string::npos && !percent_decode(part.substr(eq + 1), v, true)) return false;
      query.emplace(std::move(k), std::move(v));
    }
    if (amp == std::string::npos) break;
    start = amp + 1;
  }
  return true;
}

}  // namespace comfy::server
