#pragma once
// Output file names the way ComfyUI's save nodes choose them (workflow-nodes-files.md 11.1):
// `filename_prefix` may name a subfolder ("latents/ComfyUI") and carry %date:yyyy-MM-dd%, %year%,
// %month%, %day%, %hour%, %minute%, %second%, %width%, %height% tokens; the file is
// <name>_<counter:05>_.<ext> with counter = 1 + the highest counter already used by <name> in that
// folder. Unlike ComfyUI, a file is never overwritten: it is created exclusively and the counter is
// bumped on a collision.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <ctime>
#include <filesystem>
#include <string>

namespace comfy::io {

// Steps B and C of 11.1: where files of one save call go and the first counter to use.
struct OutputTarget {
  std::filesystem::path folder;  // output_dir / subfolder (absolute, normalised)
  std::string name;              // file name stem before "_<counter>_"
  std::string subfolder;         // "/"-separated, "" when none (the UI entry's "subfolder")
  int64_t counter = 1;
};

struct OutputPath {
  std::filesystem::path path;  // the full file path
  std::string filename;        // "ComfyUI_00001_.latent"
  std::string subfolder;
  int64_t counter = 1;
  // ComfyUI's UI entry: {"filename", "subfolder", "type"}
  nlohmann::json ui(const std::string& type = "output") const {
    return {{"filename", filename}, {"subfolder", subfolder}, {"type", type}};
  }
};

// Replaces the %…% tokens (date/time in local time at `now`; width/height 0 for latents). %date:FMT%
// follows the editor's rule: a pattern with exactly one dot is a %Node.widget% reference (resolved
// against the prompt by the save nodes, see graph/serialize_value.hpp), otherwise the text up to the
// first dot is the date format.
std::string expand_prefix_tokens(const std::string& prefix, int64_t width, int64_t height, std::time_t now);

// The editor's formatDate: yyyy, yy, MM/M, dd/d, hh/h (0-23), mm/m, ss/s — a doubled letter is
// zero-padded to 2 digits; "yyy", a single "y" and any other text stay as they are.
std::string format_prefix_date(const std::string& fmt, const std::tm& t);

// Resolves the prefix under output_dir and scans the folder for the next counter. Throws comfy::Error
// (input "filename_prefix") when the prefix would leave output_dir (absolute path, "..", symlink).
OutputTarget resolve_output_target(const std::filesystem::path& output_dir, const std::string& filename_prefix,
                                   int64_t width = 0, int64_t height = 0);

// The file name for a counter: name (with %batch_num% replaced) + "_" + zero-padded counter + "_." + ext.
OutputPath output_path_for(const OutputTarget& t, const std::string& ext, int64_t counter, int64_t batch_num = 0);

// The path the next file of this prefix would get (no file is created).
OutputPath next_output_path(const std::filesystem::path& output_dir, const std::string& filename_prefix,
                            const std::string& ext, int64_t width = 0, int64_t height = 0, int64_t batch_num = 0);

// Writes `bytes` atomically as the file for t.counter, bumping the counter while the name is taken;
// afterwards t.counter is the counter after the one written (SaveImage writes a batch this way).
OutputPath write_output_file(OutputTarget& t, const std::string& ext, const std::string& bytes, int64_t batch_num = 0);

}  // namespace comfy::io
