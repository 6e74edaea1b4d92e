#include "comfy/io/output_names.hpp"

#include <cctype>
#include <regex>

#include "comfy/core/error.hpp"
#include "comfy/io/files.hpp"

namespace fs = std::filesystem;

namespace comfy::io {

namespace {

std::tm local_tm(std::optional<std::time_t> now) {
  std::time_t t = now ? *now : std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  return tm;
}

std::string pad2(int v) {
  char b[16];
  std::snprintf(b, sizeof b, "%02d", v);
  return b;
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size()) s.replace(pos, from.size(), to);
}

// Python's int() on the text between "<name>_" and the next "_": optional spaces and sign, digits.
int64_t parse_counter(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  bool neg = false;
  if (b < e && (s[b] == '+' || s[b] == '-')) neg = s[b++] == '-';
  if (b == e) return 0;
  int64_t v = 0;
  for (size_t i = b; i < e; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return 0;
    if (v > (INT64_MAX - 9) / 10) return 0;  // absurd counters are ignored rather than overflowing
    v = v * 10 + (s[i] - '0');
  }
  return neg ? -v : v;
}

// os.path.normpath for a relative POSIX path ("a/./b//c/../d" -> "a/b/d"; leading ".." kept).
std::string normpath(const std::string& p) {
  if (p.empty()) return ".";
  const bool abs = p[0] == '/';
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string::npos) j = p.size();
    std::string c = p.substr(i, j - i);
    if (c.empty() || c == ".") {
    } else if (c == ".." && !parts.empty() && parts.back() != "..") {
      parts.pop_back();
    } else if (c == ".." && abs) {
    } else {
      parts.push_back(c);
    }
    i = j + 1;
  }
  std::string out = abs ? "/" : "";
  for (size_t k = 0; k < parts.size(); ++k) out += (k ? "/" : "") + parts[k];
  return out.empty() ? "." : out;
}

}  // namespace

std::string OutputPath::filename(int64_t batch_num, const std::string& extension) const {
  std::string n = name;
  replace_all(n, "%batch_num%", std::to_string(batch_num));
  char c[32];
  std::snprintf(c, sizeof c, "%05lld", static_cast<long long>(counter));
  return n + "_" + c + "_" + extension;
}

OutputPath next_output_path(const fs::path& output_dir, const std::string& filename_prefix, int64_t width, int64_t height,
                            std::optional<std::time_t> now) {
  std::string prefix = filename_prefix;
  if (prefix.find('%') != std::string::npos) {
    const std::tm tm = local_tm(now);
    replace_all(prefix, "%width%", std::to_string(width));
    replace_all(prefix, "%height%", std::to_string(height));
    replace_all(prefix, "%year%", std::to_string(tm.tm_year + 1900));
    replace_all(prefix, "%month%", pad2(tm.tm_mon + 1));
    replace_all(prefix, "%day%", pad2(tm.tm_mday));
    replace_all(prefix, "%hour%", pad2(tm.tm_hour));
    replace_all(prefix, "%minute%", pad2(tm.tm_min));
    replace_all(prefix, "%second%", pad2(tm.tm_sec));
  }
  const std::string norm = normpath(prefix);
  const size_t slash = norm.rfind('/');
  OutputPath out;
  out.subfolder = slash == std::string::npos ? "" : norm.substr(0, slash);
  out.name = slash == std::string::npos ? norm : norm.substr(slash + 1);
  if (out.subfolder == "/") out.subfolder = "/";  // absolute: rejected below

  const fs::path base = fs::weakly_canonical(fs::absolute(output_dir));
  try {
    if (prefix.empty() || out.name == "." || out.name == ".." || prefix.find('\0') != std::string::npos)
      throw Error("execution_error", "bad prefix");
    out.folder = out.subfolder.empty() ? base : safe_join(base, out.subfolder, "filename_prefix");
  } catch (const Error&) {
    throw Error("execution_error", "Saving image outside the output folder is not allowed.",
                "full_output_folder: " + (base / out.subfolder).string() + "\n         output_dir: " + base.string() +
                    "\n         commonpath: " + base.root_path().string())
        .at_input("filename_prefix");
  }

  int64_t best = 0;
  std::error_code ec;
  if (fs::is_directory(out.folder, ec)) {
    for (const auto& entry : fs::directory_iterator(out.folder, ec)) {
      const std::string f = entry.path().filename().string();
      if (f.size() <= out.name.size() || f.compare(0, out.name.size(), out.name) != 0 || f[out.name.size()] != '_')
        continue;
      std::string rest = f.substr(out.name.size() + 1);
      best = std::max(best, parse_counter(rest.substr(0, rest.find('_'))));
    }
  }
  out.counter = best + 1;
  return out;
}

std::string write_next_output(OutputPath& p, int64_t batch_num, const std::string& extension, const std::string& bytes) {
  fs::create_directories(p.folder);
  for (int attempt = 0; attempt < 100000; ++attempt, ++p.counter) {
    const std::string file = p.filename(batch_num, extension);
    const fs::path path = p.folder / file;
    if (fs::exists(fs::symlink_status(path))) continue;
    try {
      write_file_atomic(path, bytes, /*overwrite=*/false);
    } catch (const Error&) {
      if (fs::exists(fs::symlink_status(path))) continue;  // lost a race: take the next counter
      throw;
    }
    ++p.counter;
    return file;
  }
  throw Error("execution_error", "no free output file name for " + (p.folder / p.name).string());
}

std::string substitute_editor_tokens(
    const std::string& prefix,
    const std::function<std::optional<std::string>(const std::string&, const std::string&)>& widget_value,
    std::optional<std::time_t> now) {
  static const std::regex pattern("%([^%]+)%");
  std::string out;
  auto begin = std::sregex_iterator(prefix.begin(), prefix.end(), pattern);
  size_t last = 0;
  const std::tm tm = local_tm(now);
  for (auto it = begin; it != std::sregex_iterator(); ++it) {
    const auto& m = *it;
    out += prefix.substr(last, size_t(m.position(0)) - last);
    last = size_t(m.position(0) + m.length(0));
    const std::string body = m[1].str();
    std::string replacement = m[0].str();
    if (body.rfind("date:", 0) == 0) {
      // Frontend formatDate: tokens d|dd M|MM h|hh m|mm s|ss padded to their length, yy / yyyy years.
      static const std::regex tok("dd?|MM?|hh?|mm?|ss?|yyy?y?");
      const std::string fmt = body.substr(5);
      std::string r;
      size_t l = 0;
      for (auto t = std::sregex_iterator(fmt.begin(), fmt.end(), tok); t != std::sregex_iterator(); ++t) {
        r += fmt.substr(l, size_t(t->position(0)) - l);
        l = size_t(t->position(0) + t->length(0));
        const std::string k = (*t)[0].str();
        const std::string year = std::to_string(tm.tm_year + 1900);
        if (k == "yyyy") { r += year; continue; }
        if (k == "yy") { r += year.substr(2); continue; }
        if (k[0] == 'y') { r += k; continue; }
        int v = k[0] == 'M' ? tm.tm_mon + 1 : k[0] == 'd' ? tm.tm_mday : k[0] == 'h' ? tm.tm_hour
              : k[0] == 'm' ? tm.tm_min : tm.tm_sec;
        r += k.size() == 2 ? pad2(v) : std::to_string(v);
      }
      replacement = r + fmt.substr(l);
    } else if (std::count(body.begin(), body.end(), '.') == 1 && widget_value) {
      const size_t dot = body.find('.');
      if (auto v = widget_value(body.substr(0, dot), body.substr(dot + 1))) {
        replacement = *v;
        for (char& c : replacement) {
          const auto u = static_cast<unsigned char>(c);
          if (u < 0x20 || u == 0x7f || std::string("/?<>\\:*|\"").find(c) != std::string::npos) c = '_';
        }
      }
    }
    out += replacement;
  }
  return out + prefix.substr(last);
}

}  // namespace comfy::io
