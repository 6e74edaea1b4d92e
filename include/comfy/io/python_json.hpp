#pragma once
// JSON text exactly as Python's json.dumps writes it with default arguments (ComfyUI's PNG `prompt`
// / `workflow` chunks and .latent metadata, workflow-nodes-files.md 11.2): separators ", " and ": ",
// no newlines, non-ASCII as \uXXXX, floats in shortest round-trip form with ".0" when integral,
// NaN / Infinity written bare.
#include <nlohmann/json.hpp>

#include <string>

namespace comfy::io {

std::string python_json_dumps(const nlohmann::json& j);
std::string python_json_dumps(const nlohmann::ordered_json& j);

}  // namespace comfy::io
