// Child processes with piped input (see header).
#include "comfy/io/subprocess.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "comfy/core/error.hpp"

extern char** environ;

namespace fs = std::filesystem;

namespace comfy::io {

namespace {
bool is_executable_file(const fs::path& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0;
}

// Our environment with `extra` set (replacing same-named entries).
std::vector<std::string> environment_with(const std::map<std::string, std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string kv(*e);
    if (!extra.count(kv.substr(0, kv.find('=')))) env.push_back(kv);
  }
  for (auto& [k, v] : extra) env.push_back(k + "=" + v);
  return env;
}
}  // namespace

std::optional<fs::path> find_program(const std::string& name) {
  if (name.empty()) return std::nullopt;
  if (name.find('/') != std::string::npos) return is_executable_file(name) ? std::optional<fs::path>(name) : std::nullopt;
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "";
  size_t b = 0;
  while (b <= dirs.size()) {
    size_t e = dirs.find(':', b);
    if (e == std::string::npos) e = dirs.size();
    fs::path dir = dirs.substr(b, e - b);
    if (dir.empty()) dir = ".";
    if (is_executable_file(dir / name)) return dir / name;
    b = e + 1;
  }
  return std::nullopt;
}

PipedProcess::PipedProcess(const std::vector<std::string>& argv, const std::map<std::string, std::string>& extra_env) {
  // A program that stops reading must not kill us with SIGPIPE: write() reports EPIPE instead.
  static const bool sigpipe_ignored = [] { return ::signal(SIGPIPE, SIG_IGN) != SIG_ERR; }();
  (void)sigpipe_ignored;
  int in[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0) throw Error("execution_error", std::string("pipe: ") + std::strerror(errno));
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(in[0]), ::close(in[1]);
    throw Error("execution_error", std::string("pipe: ") + std::strerror(errno));
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  std::vector<char*> args, envp;
  for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  auto env = environment_with(extra_env);
  for (auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  int rc = ::posix_spawn(&pid_, argv.at(0).c_str(), &fa, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  ::close(in[0]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(in[1]), ::close(err[0]);
    pid_ = -1;
    throw Error("execution_error", "cannot start " + argv[0] + ": " + std::strerror(rc));
  }
  stdin_fd_ = in[1];
  stderr_fd_ = err[0];
  err_reader_ = std::thread([this] {
    char buf[4096];
    for (;;) {
      ssize_t n = ::read(stderr_fd_, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      err_.append(buf, size_t(n));
    }
  });
}

bool PipedProcess::write(const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0 && stdin_fd_ >= 0) {
    ssize_t n = ::write(stdin_fd_, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += n;
    size -= size_t(n);
  }
  return stdin_fd_ >= 0;
}

ProcessResult PipedProcess::finish() {
  ProcessResult r;
  if (stdin_fd_ >= 0) ::close(stdin_fd_), stdin_fd_ = -1;
  if (err_reader_.joinable()) err_reader_.join();
  if (stderr_fd_ >= 0) ::close(stderr_fd_), stderr_fd_ = -1;
  if (pid_ > 0) {
    int st = 0;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
    r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    pid_ = -1;
  }
  r.err = err_;
  return r;
}

PipedProcess::~PipedProcess() {
  if (pid_ > 0) ::kill(pid_, SIGKILL);
  finish();
}

ProcessResult run_program(const std::vector<std::string>& argv, const std::string& input,
                          const std::map<std::string, std::string>& extra_env) {
  PipedProcess p(argv, extra_env);
  p.write(input.data(), input.size());
  return p.finish();
}

}  // namespace comfy::io
