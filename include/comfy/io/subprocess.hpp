#pragma once
// Running an external program with data piped into its standard input (VHS drives ffmpeg this way).
#include <sys/types.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace comfy::io {

// `name` looked up like a shell does: a name with "/" as given, else each $PATH entry; only an
// executable regular file counts. nullopt when there is none.
std::optional<std::filesystem::path> find_program(const std::string& name);

struct ProcessResult {
  int exit_code = -1;   // 128 + signal when killed by one
  std::string err;      // everything it wrote to stderr
};

// One child process: argv[0] is the program's path; the environment is ours plus `extra_env`;
// stdout goes to /dev/null, stderr is collected. A program that cannot be started throws comfy::Error.
class PipedProcess {
 public:
  PipedProcess(const std::vector<std::string>& argv, const std::map<std::string, std::string>& extra_env = {});
  ~PipedProcess();  // a process not finished is killed and reaped
  PipedProcess(const PipedProcess&) = delete;
  PipedProcess& operator=(const PipedProcess&) = delete;

  // False when the program no longer reads its input (it exited or closed the pipe).
  bool write(const void* data, size_t size);
  // Closes its input and waits for it to exit.
  ProcessResult finish();

 private:
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int stderr_fd_ = -1;
  std::string err_;
  std::thread err_reader_;
};

// Runs a program to completion with `input` on its stdin.
ProcessResult run_program(const std::vector<std::string>& argv, const std::string& input,
                          const std::map<std::string, std::string>& extra_env = {});

}  // namespace comfy::io
