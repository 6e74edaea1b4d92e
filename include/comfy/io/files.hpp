#pragma once
// File helpers every writer uses: atomic writes that never overwrite, and path containment.
#include <filesystem>
#include <string>

namespace comfy::io {

// Writes `bytes` to a temp file beside `path`, fsyncs, then links it into place. Throws comfy::Error
// if `path` exists (unless overwrite) — an existing file is never replaced or truncated.
void write_file_atomic(const std::filesystem::path& path, const std::string& bytes, bool overwrite = false);
std::string read_file(const std::filesystem::path& path);

// Resolves `relative` under `root` and throws comfy::Error (input `input_name`) when the result would
// leave `root` (absolute paths, "..", symlinks pointing outside).
std::filesystem::path safe_join(const std::filesystem::path& root, const std::string& relative,
                                const std::string& input_name = "filename_prefix");

}  // namespace comfy::io
