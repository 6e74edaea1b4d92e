// multipart/form-data: boundary from the Content-Type, parts split on "--boundary", each with its
// own headers (Content-Disposition name / filename, Content-Type) and raw bytes.
#include "server/multipart.hpp"

#include <algorithm>
#include <cctype>

namespace comfy::server {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
  return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
}

// The value of `key=` in a header's parameter list after the first token (quoted or bare).
std::optional<std::string> header_param(const std::string& h, const std::string& key) {
  const size_t npos = std::string::npos;
  size_t i = h.find(';');
  while (i != npos && i < h.size()) {
    ++i;
    size_t eq = i;
    while (eq < h.size() && h[eq] != '=' && h[eq] != ';') ++eq;
    std::string k = lower(trim(h.substr(i, eq - i)));
    if (eq >= h.size()) return std::nullopt;
    if (h[eq] == ';') {
      i = eq;
      continue;
    }
    size_t v = eq + 1;
    while (v < h.size() && h[v] == ' ') ++v;
    std::string val;
    size_t end;
    if (v < h.size() && h[v] == '"') {
      size_t q = v + 1;
      bool closed = false;
      for (; q < h.size(); ++q) {
        if (h[q] == '\\' && q + 1 < h.size()) val.push_back(h[++q]);
        else if (h[q] == '"') {
          closed = true;
          ++q;
          break;
        } else val.push_back(h[q]);
      }
      if (!closed) return std::nullopt;
      end = h.find(';', q);
    } else {
      end = h.find(';', v);
      val = trim(h.substr(v, end == npos ? npos : end - v));
    }
    if (k == key) return val;
    i = end;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::map<std::string, FormPart>> parse_multipart(const std::string& content_type, const std::string& body) {
  if (lower(trim(content_type.substr(0, content_type.find(';')))) != "multipart/form-data") return std::nullopt;
  auto boundary = header_param(content_type, "boundary");
  if (!boundary || boundary->empty() || boundary->size() > 200) return std::nullopt;
  const std::string delim = "--" + *boundary;
  std::map<std::string, FormPart> parts;
  size_t pos = body.find(delim);
  if (pos == std::string::npos) return std::nullopt;
  while (true) {
    pos += delim.size();
    if (body.compare(pos, 2, "--") == 0) return parts;  // closing delimiter
    if (body.compare(pos, 2, "\r\n") != 0) return std::nullopt;
    pos += 2;
    size_t head_end = body.find("\r\n\r\n", pos);
    if (head_end == std::string::npos) return std::nullopt;
    FormPart part;
    std::string disposition;
    for (size_t line = pos; line < head_end;) {
      size_t eol = body.find("\r\n", line);
      if (eol == std::string::npos || eol > head_end) eol = head_end;
      std::string h = body.substr(line, eol - line);
      auto colon = h.find(':');
      if (colon != std::string::npos) {
        std::string key = lower(trim(h.substr(0, colon))), value = trim(h.substr(colon + 1));
        if (key == "content-disposition") disposition = value;
        else if (key == "content-type") part.content_type = value;
      }
      line = eol + 2;
    }
    size_t data_start = head_end + 4;
    size_t next = body.find("\r\n" + delim, data_start);
    if (next == std::string::npos) return std::nullopt;
    part.data = body.substr(data_start, next - data_start);
    auto name = header_param(disposition, "name");
    if (!name) return std::nullopt;
    part.name = *name;
    part.filename = header_param(disposition, "filename");
    parts.emplace(part.name, std::move(part));
    pos = next + 2;
  }
}

}  // namespace comfy::server
