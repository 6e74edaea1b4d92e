#pragma once
// JSON text exactly as Python's json.dumps writes it with default settings (§11.2): separators ", " and
// ": ", ASCII only (\uXXXX escapes, surrogate pairs above U+FFFF), NaN / Infinity written bare, floats in
// shortest round-trip form with ".0" for integral values. Used for PNG text chunks and .latent metadata.
#include <nlohmann/json.hpp>

#include <string>

namespace comfy::io {

std::string python_json_dumps(const nlohmann::json& j);
std::string python_json_dumps(const nlohmann::ordered_json& j);

}  // namespace comfy::io
