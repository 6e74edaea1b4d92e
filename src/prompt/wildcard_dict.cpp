// The wildcard dictionary (Impact's read_wildcard_dict, nodes-prompt.md 2.4 "Dictionary"): folders
// walked like os.walk (listing order, a folder's files before its subfolders, links followed),
// .txt lines read as ISO-8859-1, .yaml through libyaml (the parser PyYAML itself wraps).
#include <yaml.h>

#include <spdlog/spdlog.h>

#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include "comfy/core/error.hpp"
#include "comfy/prompt/wildcards.hpp"
#include "prompt/python_text.hpp"

namespace comfy::wildcards {
namespace fs = std::filesystem;

void Dictionary::set(const std::string& key, std::vector<std::string> lines) {
  auto it = index_.find(key);
  if (it != index_.end()) {
    entries_[it->second].second = std::move(lines);
    return;
  }
  index_.emplace(key, entries_.size());
  entries_.emplace_back(key, std::move(lines));
}

const std::vector<std::string>* Dictionary::find(const std::string& key) const {
  auto it = index_.find(key);
  return it == index_.end() ? nullptr : &entries_[it->second].second;
}

namespace {

std::string read_bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw Error("execution_error", "cannot read wildcard file " + p.string());
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// str.splitlines() of latin-1 text: \n, \r, \r\n, \v, \f, \x1c-\x1e and \x85 end a line.
std::vector<std::string> latin1_lines(const std::string& bytes) {
  std::vector<std::string> lines;
  std::string cur;
  for (size_t i = 0; i < bytes.size(); ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    const bool brk = c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || (c >= 0x1C && c <= 0x1E) || c == 0x85;
    if (!brk) {
      cur += bytes[i];
      continue;
    }
    if (c == '\r' && i + 1 < bytes.size() && bytes[i + 1] == '\n') ++i;
    lines.push_back(pytext::latin1_to_utf8(cur));
    cur.clear();
  }
  if (!cur.empty()) lines.push_back(pytext::latin1_to_utf8(cur));
  return lines;
}

void load_txt(Dictionary& dict, const fs::path& file, const std::string& key) {
  std::vector<std::string> kept;
  for (auto& line : latin1_lines(read_bytes(file)))
    if (!pytext::starts_with(pytext::strip(line), "#")) kept.push_back(std::move(line));
  dict.set(normalize_key(key), std::move(kept));
}

// ---- a YAML document as a small tree (libyaml events -> nodes; aliases resolved)
struct YNode {
  enum Kind { Scalar, Sequence, Mapping } kind = Scalar;
  std::string text;
  bool plain = false;  // an unquoted scalar: YAML 1.1 may read it as a number, bool or null
  std::vector<YNode> items;                        // sequence
  std::vector<std::pair<YNode, YNode>> pairs;      // mapping
};

class YamlReader {
 public:
  explicit YamlReader(const fs::path& file) : file_(file), bytes_(read_bytes(file)) {
    yaml_parser_initialize(&parser_);
    yaml_parser_set_input_string(&parser_, reinterpret_cast<const unsigned char*>(bytes_.data()), bytes_.size());
  }
  ~YamlReader() { yaml_parser_delete(&parser_); }
  YamlReader(const YamlReader&) = delete;
  YamlReader& operator=(const YamlReader&) = delete;

  // The first document's root, or nullopt for an empty file.
  std::optional<YNode> root() {
    for (;;) {
      Event e = next();
      if (e.ev.type == YAML_STREAM_END_EVENT) return std::nullopt;
      if (e.ev.type == YAML_DOCUMENT_START_EVENT) {
        Event first = next();
        return node(first);
      }
    }
  }

 private:
  struct Event {
    yaml_event_t ev{};
    Event() = default;
    Event(const Event&) = delete;
    Event(Event&& o) noexcept : ev(o.ev) { o.ev.type = YAML_NO_EVENT; }
    Event& operator=(Event&& o) noexcept {
      if (this != &o) {
        yaml_event_delete(&ev);
        ev = o.ev;
        o.ev.type = YAML_NO_EVENT;
      }
      return *this;
    }
    ~Event() { yaml_event_delete(&ev); }
  };
  Event next() {
    Event e;
    if (!yaml_parser_parse(&parser_, &e.ev)) {
      std::string why = parser_.problem ? parser_.problem : "syntax error";
      throw Error("execution_error", "cannot parse wildcard file " + file_.string() + " (line " +
                                         std::to_string(parser_.problem_mark.line + 1) + "): " + why);
    }
    return e;
  }
  YNode node(Event& e, int depth = 0) {
    if (depth > 64) throw Error("execution_error", "wildcard file " + file_.string() + " nests too deeply");
    YNode n;
    const unsigned char* anchor = nullptr;
    switch (e.ev.type) {
      case YAML_ALIAS_EVENT: {
        auto it = anchors_.find(reinterpret_cast<const char*>(e.ev.data.alias.anchor));
        if (it == anchors_.end()) throw Error("execution_error", "wildcard file " + file_.string() + ": unknown alias");
        return it->second;
      }
      case YAML_SCALAR_EVENT:
        n.text.assign(reinterpret_cast<const char*>(e.ev.data.scalar.value), e.ev.data.scalar.length);
        n.plain = e.ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !e.ev.data.scalar.tag;
        anchor = e.ev.data.scalar.anchor;
        break;
      case YAML_SEQUENCE_START_EVENT:
        n.kind = YNode::Sequence;
        anchor = e.ev.data.sequence_start.anchor;
        for (Event c = next(); c.ev.type != YAML_SEQUENCE_END_EVENT; c = next()) n.items.push_back(node(c, depth + 1));
        break;
      case YAML_MAPPING_START_EVENT:
        n.kind = YNode::Mapping;
        anchor = e.ev.data.mapping_start.anchor;
        for (Event k = next(); k.ev.type != YAML_MAPPING_END_EVENT; k = next()) {
          YNode key = node(k, depth + 1);
          Event v = next();
          n.pairs.emplace_back(std::move(key), node(v, depth + 1));
        }
        break;
      default:
        throw Error("execution_error", "wildcard file " + file_.string() + ": unexpected YAML structure");
    }
    if (anchor) anchors_[reinterpret_cast<const char*>(anchor)] = n;
    return n;
  }

  fs::path file_;
  std::string bytes_;
  yaml_parser_t parser_{};
  std::map<std::string, YNode> anchors_;
};

// A plain scalar PyYAML (YAML 1.1) reads as null, a bool or a number rather than a string.
bool plain_non_string(const YNode& n) {
  if (!n.plain) return false;
  static const std::set<std::string> words = {"", "~", "null", "Null", "NULL", "yes", "Yes", "YES", "no", "No",
                                              "NO", "true", "True", "TRUE", "false", "False", "FALSE", "on",
                                              "On", "ON", "off", "Off", "OFF"};
  if (words.count(n.text)) return true;
  std::string t = n.text;
  if (!t.empty() && (t[0] == '+' || t[0] == '-')) t = t.substr(1);
  bool digit = false;
  for (char c : t) {
    if (std::isdigit(static_cast<unsigned char>(c))) digit = true;
    else if (c != '_' && c != '.' && c != 'e' && c != 'E' && c != '+' && c != '-') return false;
  }
  return digit;
}

// read_wildcard(k, v): list -> its items, string -> one line, mapping -> "k/child" keys.
void read_yaml_value(Dictionary& dict, const std::string& key, const YNode& v) {
  if (v.kind == YNode::Sequence) {
    std::vector<std::string> lines;
    for (const auto& item : v.items)
      if (item.kind == YNode::Scalar) lines.push_back(item.text);
      else spdlog::warn("wildcard '{}': a nested list or mapping item is skipped", key);
    dict.set(normalize_key(key), std::move(lines));
  } else if (v.kind == YNode::Mapping) {
    for (const auto& [k2, v2] : v.pairs) read_yaml_value(dict, normalize_key(key + "/" + k2.text), v2);
  } else if (!plain_non_string(v)) {
    dict.set(normalize_key(key), {v.text});
  }
}

void load_yaml(Dictionary& dict, const fs::path& file) {
  YamlReader reader(file);
  auto root = reader.root();
  if (!root || root->kind != YNode::Mapping) {
    spdlog::warn("wildcard file {} holds no mapping; skipped", file.string());
    return;
  }
  for (const auto& [k, v] : root->pairs) read_yaml_value(dict, k.text, v);
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void walk(Dictionary& dict, const fs::path& root, const fs::path& dir, std::set<fs::path>& seen) {
  std::error_code ec;
  const auto canonical = fs::canonical(dir, ec);
  if (ec || !seen.insert(canonical).second) return;  // a link back up the tree: os.walk would loop
  std::vector<fs::path> subdirs, files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code e2;
    (it->is_directory(e2) ? subdirs : files).push_back(it->path());
  }
  for (const auto& f : files) {
    const std::string name = f.filename().string();
    const std::string rel = fs::relative(f, root).generic_string();
    if (ends_with(name, ".txt")) load_txt(dict, f, rel.substr(0, rel.size() - 4));
    else if (ends_with(name, ".yaml")) load_yaml(dict, f);
  }
  for (const auto& d : subdirs) walk(dict, root, d, seen);
}

}  // namespace

Dictionary load_dictionary(const std::vector<fs::path>& dirs) {
  Dictionary dict;
  for (const auto& d : dirs) {
    std::error_code ec;
    if (!fs::is_directory(d, ec)) continue;
    std::set<fs::path> seen;
    walk(dict, d, d, seen);
  }
  return dict;
}

std::shared_ptr<const Dictionary> cached_dictionary(const std::vector<fs::path>& dirs) {
  static std::mutex mu;
  static std::map<std::vector<fs::path>, std::shared_ptr<const Dictionary>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = cache[dirs];
  if (!slot) slot = std::make_shared<const Dictionary>(load_dictionary(dirs));
  return slot;
}

}  // namespace comfy::wildcards
