#include "comfy/io/model_folders.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <set>
#include <sstream>

#include "comfy/core/error.hpp"
#include "comfy/io/files.hpp"

namespace fs = std::filesystem;

namespace comfy::io {

namespace {

const std::set<std::string> kPT = {".ckpt", ".pt", ".pt2", ".bin", ".pth", ".safetensors", ".pkl", ".sft"};

// folder name -> (default sub-paths of models/, extensions; empty = any)
struct FolderDef {
  std::vector<std::string> dirs;
  std::set<std::string> exts;
};
const std::map<std::string, FolderDef>& folder_table() {
  static const std::map<std::string, FolderDef> t = {
      {"checkpoints", {{"checkpoints"}, kPT}},
      {"configs", {{"configs"}, {".yaml"}}},
      {"loras", {{"loras"}, kPT}},
      {"vae", {{"vae"}, kPT}},
      {"text_encoders", {{"text_encoders", "clip"}, kPT}},
      {"diffusion_models", {{"unet", "diffusion_models"}, kPT}},
      {"clip_vision", {{"clip_vision"}, kPT}},
      {"style_models", {{"style_models"}, kPT}},
      {"embeddings", {{"embeddings"}, kPT}},
      {"diffusers", {{"diffusers"}, {}}},
      {"vae_approx", {{"vae_approx"}, kPT}},
      {"controlnet", {{"controlnet", "t2i_adapter"}, kPT}},
      {"gligen", {{"gligen"}, kPT}},
      {"upscale_models", {{"upscale_models"}, kPT}},
      {"latent_upscale_models", {{"latent_upscale_models"}, kPT}},
      {"hypernetworks", {{"hypernetworks"}, kPT}},
      {"photomaker", {{"photomaker"}, kPT}},
      {"classifiers", {{"classifiers"}, {}}},
      {"model_patches", {{"model_patches"}, kPT}},
      {"audio_encoders", {{"audio_encoders"}, kPT}},
      {"lbw_models", {{"lbw_models"}, {".safetensors"}}},  // Inspire's LoRA Block Weight files
  };
  return t;
}

std::string lower(std::string s) {
  for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
  return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
}

// ~ and $VAR / ${VAR} expansion (os.path.expandvars(os.path.expanduser(p))).
std::string expand(const std::string& p) {
  std::string s = p;
  if (!s.empty() && s[0] == '~' && (s.size() == 1 || s[1] == '/')) {
    const char* home = std::getenv("HOME");
    if (home) s = std::string(home) + s.substr(1);
  }
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '$') { out += s[i]; continue; }
    size_t j = i + 1;
    std::string name;
    bool braced = j < s.size() && s[j] == '{';
    if (braced) {
      size_t e = s.find('}', j);
      if (e == std::string::npos) { out += s[i]; continue; }
      name = s.substr(j + 1, e - j - 1);
      j = e + 1;
    } else {
      while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_')) name += s[j++];
    }
    const char* v = name.empty() ? nullptr : std::getenv(name.c_str());
    if (v) { out += v; i = j - 1; } else { out += s[i]; }
  }
  return out;
}

// A plain YAML scalar: strip a trailing comment and quotes.
std::string scalar(const std::string& raw) {
  std::string v = trim(raw);
  if (v.size() >= 2 && (v[0] == '"' || v[0] == '\'')) {
    size_t e = v.find(v[0], 1);
    if (e != std::string::npos) return v.substr(1, e - 1);
  }
  size_t c = v.find(" #");
  if (c != std::string::npos) v = trim(v.substr(0, c));
  if (!v.empty() && v[0] == '#') v.clear();
  if (v == "~" || v == "null") v.clear();
  return v;
}

size_t indent_of(const std::string& l) { return l.find_first_not_of(' '); }

}  // namespace

std::string ModelFolders::canonical_folder(const std::string& f) {
  if (f == "unet") return "diffusion_models";
  if (f == "clip") return "text_encoders";
  return f;
}

ModelFolders ModelFolders::from_config(const RuntimeConfig& cfg) {
  ModelFolders mf;
  for (const auto& dir : cfg.models_dirs)
    for (const auto& [name, def] : folder_table())
      for (const auto& sub : def.dirs) mf.add(name, dir / sub);
  if (cfg.extra_model_paths) mf.load_yaml(*cfg.extra_model_paths);
  return mf;
}

void ModelFolders::add(const std::string& folder, const fs::path& path, bool front) {
  auto& v = paths_[canonical_folder(folder)];
  auto p = path.lexically_normal();
  v.erase(std::remove(v.begin(), v.end(), p), v.end());
  if (front) v.insert(v.begin(), p);
  else v.push_back(p);
}

void ModelFolders::load_yaml(const fs::path& yaml) {
  std::string text;
  try {
    text = read_file(yaml);
  } catch (const std::exception& e) {
    throw Error("execution_error", "cannot read extra_model_paths file " + yaml.string() + ": " + e.what());
  }
  load_yaml_text(text, fs::absolute(yaml).parent_path());
}

void ModelFolders::load_yaml_text(const std::string& text, const fs::path& yaml_dir) {
  std::vector<std::string> lines;
  {
    std::istringstream in(text);
    std::string l;
    while (std::getline(in, l)) {
      if (!l.empty() && l.back() == '\r') l.pop_back();
      const size_t ws = l.find_first_not_of(" \t");
      if (ws != std::string::npos && l.substr(0, ws).find('\t') != std::string::npos)
        throw Error("execution_error", "extra_model_paths: tabs are not allowed for indentation: '" + l + "'");
      lines.push_back(l);
    }
  }
  auto blank = [](const std::string& l) { auto t = trim(l); return t.empty() || t[0] == '#'; };

  struct Section { std::map<std::string, std::string> kv; std::vector<std::pair<std::string, std::string>> order; };
  std::vector<Section> sections;
  size_t i = 0;
  while (i < lines.size()) {
    const std::string& l = lines[i];
    if (blank(l)) { ++i; continue; }
    if (indent_of(l) != 0) throw Error("execution_error", "extra_model_paths: unexpected indentation at line " + std::to_string(i + 1));
    size_t colon = l.find(':');
    if (colon == std::string::npos) throw Error("execution_error", "extra_model_paths: expected 'name:' at line " + std::to_string(i + 1));
    ++i;
    if (!scalar(l.substr(colon + 1)).empty()) continue;  // a scalar at top level: not a section
    Section sec;
    size_t sec_indent = std::string::npos;
    while (i < lines.size()) {
      const std::string& s = lines[i];
      if (blank(s)) { ++i; continue; }
      size_t ind = indent_of(s);
      if (ind == 0) break;
      if (sec_indent == std::string::npos) sec_indent = ind;
      if (ind != sec_indent) throw Error("execution_error", "extra_model_paths: inconsistent indentation at line " + std::to_string(i + 1));
      size_t c = s.find(':');
      if (c == std::string::npos) throw Error("execution_error", "extra_model_paths: expected 'key: value' at line " + std::to_string(i + 1));
      std::string key = trim(s.substr(0, c));
      std::string rest = trim(s.substr(c + 1));
      ++i;
      std::string value;
      if (!rest.empty() && (rest[0] == '|' || rest[0] == '>')) {
        // Block scalar: every following line indented deeper; '#' is literal inside.
        const bool folded = rest[0] == '>';
        size_t block_indent = std::string::npos;
        std::vector<std::string> body;
        while (i < lines.size()) {
          const std::string& b = lines[i];
          if (trim(b).empty()) { body.push_back(""); ++i; continue; }
          size_t bi = indent_of(b);
          if (bi <= ind) break;
          if (block_indent == std::string::npos) block_indent = bi;
          body.push_back(b.substr(std::min(bi, block_indent)));
          ++i;
        }
        for (size_t k = 0; k < body.size(); ++k) value += body[k] + (folded ? " " : "\n");
      } else {
        value = scalar(rest);
      }
      sec.order.emplace_back(key, value);
    }
    if (!sec.order.empty()) sections.push_back(std::move(sec));
  }

  for (auto& sec : sections) {
    std::optional<fs::path> base;
    bool is_default = false;
    for (auto& [k, v] : sec.order) {
      if (k == "base_path" && !trim(v).empty()) {
        fs::path b = expand(trim(v));
        if (b.is_relative()) b = yaml_dir / b;
        base = b.lexically_normal();
      }
      if (k == "is_default") is_default = lower(trim(v)) == "true";
    }
    for (auto& [k, v] : sec.order) {
      if (k == "base_path" || k == "is_default") continue;
      std::istringstream in(v);
      std::string line;
      std::vector<fs::path> ps;
      while (std::getline(in, line)) {
        line = trim(line);
        if (line.empty()) continue;
        fs::path p = expand(line);
        if (base) p = *base / p;
        else if (p.is_relative()) p = yaml_dir / p;
        ps.push_back(p.lexically_normal());
      }
      if (is_default)
        for (auto it = ps.rbegin(); it != ps.rend(); ++it) add(k, *it, true);
      else
        for (auto& p : ps) add(k, p, false);
    }
  }
}

std::vector<fs::path> ModelFolders::paths(const std::string& folder) const {
  auto it = paths_.find(canonical_folder(folder));
  return it == paths_.end() ? std::vector<fs::path>{} : it->second;
}

std::vector<std::string> ModelFolders::list(const std::string& folder) const {
  const auto f = canonical_folder(folder);
  auto td = folder_table().find(f);
  const std::set<std::string>* exts = td == folder_table().end() ? nullptr : &td->second.exts;
  std::set<std::string> names;
  for (const auto& root : paths(f)) {
    std::error_code ec;
    if (!fs::is_directory(root, ec)) continue;
    fs::recursive_directory_iterator it(root, fs::directory_options::follow_directory_symlink |
                                                  fs::directory_options::skip_permission_denied, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      if (it->is_directory(ec) && it->path().filename() == ".git") {
        it.disable_recursion_pending();
        continue;
      }
      if (!it->is_regular_file(ec)) continue;
      if (exts && !exts->empty() && !exts->count(lower(it->path().extension().string()))) continue;
      names.insert(it->path().lexically_relative(root).generic_string());
    }
  }
  return {names.begin(), names.end()};
}

std::optional<fs::path> ModelFolders::resolve(const std::string& folder, const std::string& name_in) const {
  std::string name = name_in;
  if (name.find('\\') != std::string::npos) {
    std::replace(name.begin(), name.end(), '\\', '/');
    spdlog::warn("model name '{}' uses '\\' separators; reading it as '{}'", name_in, name);
  }
  if (name.empty() || name.find('\0') != std::string::npos) return std::nullopt;
  // os.path.relpath(os.path.join("/", name), "/"): ".." cannot climb above the folder.
  auto rel = (fs::path("/") / name).lexically_normal().lexically_relative("/");
  if (rel.empty() || rel == ".") return std::nullopt;
  for (const auto& root : paths(folder)) {
    std::error_code ec;
    auto p = root / rel;
    if (fs::is_regular_file(p, ec)) return p;
  }
  return std::nullopt;
}

fs::path resolve_model_file(const RuntimeConfig& cfg, const std::string& folder, const std::string& name,
                            const std::string& input_name) {
  auto mf = ModelFolders::from_config(cfg);
  auto p = mf.resolve(folder, name);
  if (!p)
    throw Error("execution_error", "Model in folder '" + folder + "' with filename '" + name + "' not found.", input_name)
        .at_input(input_name)
        .with_extra({{"exception_type", "FileNotFoundError"}});
  return *p;
}

}  // namespace comfy::io
