#pragma once
// multipart/form-data bodies (RFC 7578), as /upload/image and /upload/mask receive them.
#include <map>
#include <optional>
#include <string>

namespace comfy::server {

struct FormPart {
  std::string name;
  std::optional<std::string> filename;  // present for file parts
  std::string content_type;
  std::string data;
};

// Parses `body` with the boundary of `content_type`; nullopt when it is not multipart/form-data or
// the body is malformed. Parts are keyed by field name (the first part of a name wins).
std::optional<std::map<std::string, FormPart>> parse_multipart(const std::string& content_type, const std::string& body);

}  // namespace comfy::server
