#include "comfy/io/output_names.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <system_error>

#include "comfy/core/error.hpp"
#include "comfy/io/files.hpp"

namespace fs = std::filesystem;

namespace comfy::io {

namespace {

std::string pad2(int v) {
  char b[16];
  std::snprintf(b, sizeof b, "%02d", v);
  return b;
}

// Python int() of the text between "<name>_" and the next "_"; 0 when it is not a number.
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
    if (v < (INT64_MAX - 9) / 10) v = v * 10 + (s[i] - '0');
  }
  return neg ? -v : v;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += to.size()) s.replace(p, from.size(), to);
  return s;
}

}  // namespace

std::string format_prefix_date(const std::string& fmt, const std::tm& t) {
  // The regex /dd?|MM?|hh?|mm?|ss?|yyy?y?/g, left to right.
  std::string out;
  for (size_t i = 0; i < fmt.size();) {
    const char c = fmt[i];
    size_t n = 1;
    while (n < 4 && i + n < fmt.size() && fmt[i + n] == c) ++n;
    int v = -1;
    switch (c) {
      case 'd': v = t.tm_mday; break;
      case 'M': v = t.tm_mon + 1; break;
      case 'h': v = t.tm_hour; break;
      case 'm': v = t.tm_min; break;
      case 's': v = t.tm_sec; break;
      default: break;
    }
    if (v >= 0) {
      n = std::min<size_t>(n, 2);
      out += n == 2 ? pad2(v) : std::to_string(v);
    } else if (c == 'y' && n >= 2) {
      if (n == 4) out += std::to_string(t.tm_year + 1900);
      else if (n == 3) out += "yyy";
      else out += std::to_string(t.tm_year + 1900).substr(2);
    } else {
      n = 1;
      out.push_back(c);
    }
    i += n;
  }
  return out;
}

std::string expand_prefix_tokens(const std::string& prefix, int64_t width, int64_t height, std::time_t now) {
  if (prefix.find('%') == std::string::npos) return prefix;
  std::tm t{};
  localtime_r(&now, &t);
  std::string s;
  // %date:FORMAT% (the editor's step A, applied here too so API prompts written by hand get it):
  // each match of /%([^%]+)%/ whose text does not hold exactly one dot.
  for (size_t i = 0; i < prefix.size();) {
    const size_t end = prefix[i] == '%' ? prefix.find('%', i + 1) : std::string::npos;
    if (end != std::string::npos && end > i + 1) {
      const std::string text = prefix.substr(i + 1, end - i - 1);
      const std::string head = text.substr(0, text.find('.'));
      if (std::count(text.begin(), text.end(), '.') != 1 && head.compare(0, 5, "date:") == 0) {
        s += format_prefix_date(head.substr(5), t);
      } else {
        s += prefix.substr(i, end - i + 1);
      }
      i = end + 1;
      continue;
    }
    s.push_back(prefix[i++]);
  }
  // step B (server side)
  s = replace_all(s, "%width%", std::to_string(width));
  s = replace_all(s, "%height%", std::to_string(height));
  s = replace_all(s, "%year%", std::to_string(t.tm_year + 1900));
  s = replace_all(s, "%month%", pad2(t.tm_mon + 1));
  s = replace_all(s, "%day%", pad2(t.tm_mday));
  s = replace_all(s, "%hour%", pad2(t.tm_hour));
  s = replace_all(s, "%minute%", pad2(t.tm_min));
  s = replace_all(s, "%second%", pad2(t.tm_sec));
  return s;
}

OutputTarget resolve_output_target(const fs::path& output_dir, const std::string& filename_prefix, int64_t width,
                                   int64_t height) {
  std::string prefix = expand_prefix_tokens(filename_prefix, width, height, std::time(nullptr));
  auto escape = [&](const std::string& why) {
    throw Error("execution_error",
                "Saving image outside the output folder is not allowed. filename_prefix '" + filename_prefix + "' " +
                    why + " (output folder: " + output_dir.string() + ")",
                "filename_prefix")
        .at_input("filename_prefix");
  };
  if (prefix.find('\0') != std::string::npos) escape("contains a NUL byte");
  fs::path p = fs::path(prefix).lexically_normal();
  if (p.is_absolute()) escape("is an absolute path");
  std::string norm = p.generic_string();
  while (norm.size() > 1 && norm.back() == '/') norm.pop_back();  // Python's normpath drops a trailing "/"
  if (norm.empty() || norm == ".") escape("is empty");
  if (norm == ".." || norm.rfind("../", 0) == 0) escape("leaves the output folder");
  fs::path np(norm);
  OutputTarget t;
  t.name = np.filename().string();
  t.subfolder = np.parent_path().generic_string();
  if (t.name.empty() || t.name == "." || t.name == "..") escape("has no file name");
  // safe_join also catches symlinked subfolders that point outside the output folder.
  try {
    t.folder = t.subfolder.empty() ? fs::weakly_canonical(fs::absolute(output_dir))
                                   : safe_join(output_dir, t.subfolder, "filename_prefix");
  } catch (const Error&) {
    escape("leaves the output folder");
  }
  // counter = 1 + max counter of files "<name>_<n>_..." (non-recursive), 1 when none / no folder
  int64_t best = 0;
  bool any = false;
  std::error_code ec;
  if (fs::is_directory(t.folder, ec)) {
    for (auto it = fs::directory_iterator(t.folder, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
      std::string f = it->path().filename().string();
      if (f.size() <= t.name.size() || f.compare(0, t.name.size(), t.name) != 0 || f[t.name.size()] != '_') continue;
      std::string rest = f.substr(t.name.size() + 1);
      int64_t n = parse_counter(rest.substr(0, rest.find('_')));
      if (!any || n > best) best = n;
      any = true;
    }
  }
  t.counter = any ? best + 1 : 1;
  return t;
}

OutputPath output_path_for(const OutputTarget& t, const std::string& ext, int64_t counter, int64_t batch_num) {
  char num[32];
  std::snprintf(num, sizeof num, "%05lld", static_cast<long long>(counter));
  OutputPath o;
  o.filename = replace_all(t.name, "%batch_num%", std::to_string(batch_num)) + "_" + num + "_." + ext;
  o.subfolder = t.subfolder;
  o.counter = counter;
  o.path = t.folder / o.filename;
  return o;
}

OutputPath next_output_path(const fs::path& output_dir, const std::string& filename_prefix, const std::string& ext,
                            int64_t width, int64_t height, int64_t batch_num) {
  auto t = resolve_output_target(output_dir, filename_prefix, width, height);
  auto o = output_path_for(t, ext, t.counter, batch_num);
  std::error_code ec;
  while (fs::exists(fs::symlink_status(o.path, ec))) o = output_path_for(t, ext, o.counter + 1, batch_num);
  return o;
}

OutputPath write_output_file(OutputTarget& t, const std::string& ext, const std::string& bytes, int64_t batch_num) {
  for (int attempt = 0;; ++attempt) {
    auto o = output_path_for(t, ext, t.counter, batch_num);
    t.counter++;
    std::error_code ec;
    if (fs::exists(fs::symlink_status(o.path, ec))) continue;  // taken (e.g. %batch_num% names): next counter
    try {
      write_file_atomic(o.path, bytes, /*overwrite=*/false);
      return o;
    } catch (const Error&) {
      // Someone created the name between our check and our link(): try the next counter.
      if (attempt < 1000 && fs::exists(fs::symlink_status(o.path, ec))) continue;
      throw;
    }
  }
}

}  // namespace comfy::io
