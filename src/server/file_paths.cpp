// Folder lookup by type, filename annotations and the input-image listing.
#include "server/file_paths.hpp"

#include <algorithm>

#include "comfy/io/input_files.hpp"

namespace fs = std::filesystem;

namespace comfy::server {

std::optional<fs::path> dir_by_type(const RuntimeConfig& cfg, const std::string& type) {
  if (type == "output") return cfg.output_dir;
  if (type == "input") return cfg.input_dir;
  if (type == "temp") return io::temp_dir_of(cfg);
  return std::nullopt;
}

std::pair<std::string, std::string> split_annotation(const std::string& name) {
  for (const char* t : {"output", "input", "temp"}) {
    std::string tag = std::string(" [") + t + "]";
    if (name.size() >= tag.size() && name.compare(name.size() - tag.size(), tag.size(), tag) == 0)
      return {name.substr(0, name.size() - tag.size()), t};
  }
  return {name, ""};
}

std::vector<std::string> input_images(const RuntimeConfig& cfg) {
  return io::list_files(cfg.input_dir, {".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".webp", ".gif", ".bmp", ".tif", ".tiff"});
}

}  // namespace comfy::server
