#pragma once
// Output file names of the save nodes (SaveImage, PreviewImage, SaveLatent), workflow-nodes-files.md §11.1:
// `<subfolder>/<name>_<counter:05>_.<ext>` under the output folder, the counter continuing after the
// files already there. Unlike ComfyUI, a file is never overwritten: each one is created exclusively and
// the counter moves on when a name is taken (e.g. by another process or a `%batch_num%` name).
#include <ctime>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

namespace comfy::io {

struct OutputPath {
  std::filesystem::path folder;  // output_dir / subfolder (absolute)
  std::string name;              // file name stem before "_<counter>_" (may still hold %batch_num%)
  std::string subfolder;         // relative to the output folder, "" when none ("a/b" style)
  int64_t counter = 1;           // the next counter to try

  // name with %batch_num% replaced + "_" + counter padded to 5 + "_" + extension (".png")
  std::string filename(int64_t batch_num, const std::string& extension) const;
};

// Step B (server tokens %width% %height% %year% %month% %day% %hour% %minute% %second%, only when the
// prefix holds a '%') and step C (folder, containment, counter scan). Throws comfy::Error (input
// "filename_prefix") "Saving image outside the output folder is not allowed." when the prefix leaves
// `output_dir`. `now` defaults to the current local time.
OutputPath next_output_path(const std::filesystem::path& output_dir, const std::string& filename_prefix,
                            int64_t width = 0, int64_t height = 0, std::optional<std::time_t> now = std::nullopt);

// Creates the folder if needed and writes `bytes` as the next free file of `p` (exclusive create, atomic),
// then advances p.counter. Returns the file name (without folder).
std::string write_next_output(OutputPath& p, int64_t batch_num, const std::string& extension, const std::string& bytes);

// Step A, done by the editor when queuing (and by comfy-native when converting a UI file): `%date:FMT%`
// and `%Node.widget%` patterns. `widget_value(node, widget)` returns the value as text for a node known by
// its "Node name for S&R" property or title, nullopt when there is none (the pattern is then kept).
std::string substitute_editor_tokens(
    const std::string& prefix,
    const std::function<std::optional<std::string>(const std::string& node, const std::string& widget)>& widget_value,
    std::optional<std::time_t> now = std::nullopt);

}  // namespace comfy::io
