#include "comfy/io/input_files.hpp"

#include <algorithm>
#include <system_error>

#include "comfy/io/files.hpp"

namespace fs = std::filesystem;

namespace comfy::io {

fs::path temp_dir_of(const RuntimeConfig& cfg) {
  if (!cfg.temp_dir.empty()) return cfg.temp_dir;
  return fs::absolute(cfg.output_dir).lexically_normal().parent_path() / "temp";
}

fs::path annotated_input_path(const RuntimeConfig& cfg, const std::string& name, const std::string& input_name) {
  auto ends = [&](const std::string& tag) { return name.size() > tag.size() && name.compare(name.size() - tag.size(), tag.size(), tag) == 0; };
  if (ends(" [output]")) return safe_join(cfg.output_dir, name.substr(0, name.size() - 9), input_name);
  if (ends(" [temp]")) return safe_join(temp_dir_of(cfg), name.substr(0, name.size() - 7), input_name);
  if (ends(" [input]")) return safe_join(cfg.input_dir, name.substr(0, name.size() - 8), input_name);
  return safe_join(cfg.input_dir, name, input_name);
}

std::vector<std::string> list_files(const fs::path& dir, const std::vector<std::string>& exts) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    std::string f = it->path().filename().string();
    bool ok = exts.empty();
    for (auto& e : exts) ok = ok || (f.size() >= e.size() && f.compare(f.size() - e.size(), e.size(), e) == 0);
    if (ok) out.push_back(f);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace comfy::io
