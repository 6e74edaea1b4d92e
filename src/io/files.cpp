#include "comfy/io/files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "comfy/core/error.hpp"

namespace fs = std::filesystem;

namespace comfy::io {

void write_file_atomic(const fs::path& path, const std::string& bytes, bool overwrite) {
  if (!overwrite && fs::exists(path)) throw Error("execution_error", "refusing to overwrite existing file " + path.string());
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  std::random_device rd;
  auto tmp = path;
  tmp += ".tmp" + std::to_string(rd()) + "~";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw Error("execution_error", "cannot create " + tmp.string() + ": " + std::strerror(errno));
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + off, bytes.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw Error("execution_error", "cannot write " + path.string() + ": " + std::strerror(e));
    }
    off += size_t(n);
  }
  ::fsync(fd);
  ::close(fd);
  if (overwrite) {
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
      int e = errno;
      ::unlink(tmp.c_str());
      throw Error("execution_error", "cannot move into place " + path.string() + ": " + std::strerror(e));
    }
    return;
  }
  // link() fails with EEXIST if someone created `path` meanwhile: never clobber.
  if (::link(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    throw Error("execution_error", "cannot create " + path.string() + ": " + std::strerror(e));
  }
  ::unlink(tmp.c_str());
}

std::string read_file(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("execution_error", "cannot open " + path.string());
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

fs::path safe_join(const fs::path& root, const std::string& relative, const std::string& input_name) {
  fs::path rel(relative);
  auto bad = [&](const std::string& why) {
    return Error("execution_error", "path '" + relative + "' " + why, input_name).at_input(input_name);
  };
  if (relative.find('\0') != std::string::npos) throw bad("contains a NUL byte");
  if (rel.is_absolute()) throw bad("is absolute; it must stay inside " + root.string());
  auto base = fs::weakly_canonical(fs::absolute(root));
  auto full = fs::weakly_canonical(base / rel);
  auto b = base.lexically_normal().string(), f = full.lexically_normal().string();
  if (!b.empty() && b.back() == '/') b.pop_back();
  if (f != b && f.compare(0, b.size() + 1, b + "/") != 0) throw bad("escapes the folder " + root.string());
  return full;
}

}  // namespace comfy::io
