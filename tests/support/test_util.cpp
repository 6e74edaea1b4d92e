#include "test_util.hpp"

#include "comfy/build_config.hpp"
#include "comfy/core/host_memory.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <sstream>

namespace fs = std::filesystem;

// The test programs tune the heap as the CLI does (comfy/core/host_memory.hpp), before main().
static const bool kHostMemoryTuned = (comfy::tune_host_memory(), true);

namespace comfy::test {

fs::path golden_root() {
  if (const char* e = std::getenv("COMFY_NATIVE_GOLDEN_DIR"); e && *e) return fs::path(e);
  return fs::path(COMFY_DEFAULT_GOLDEN_DIR);
}
fs::path shared_dir() { return fs::path(COMFY_SHARED_DIR); }
fs::path source_dir() { return fs::path(comfy::build_config::kSourceDir); }
fs::path cli_path() { return fs::path(COMFY_CLI_PATH); }

std::shared_ptr<io::SafeTensors> golden_file(const std::string& rel) {
  static std::mutex m;
  static std::map<std::string, std::shared_ptr<io::SafeTensors>> cache;
  std::lock_guard<std::mutex> lock(m);
  auto& slot = cache[rel];
  if (!slot) slot = io::SafeTensors::open(golden_root() / rel);
  return slot;
}

nlohmann::json load_json(const fs::path& p) {
  std::ifstream f(p);
  if (!f) throw std::runtime_error("cannot open " + p.string());
  return nlohmann::json::parse(f);
}

std::string check_close(const at::Tensor& actual_, const at::Tensor& expected_, double rtol, double atol) {
  if (actual_.sizes() != expected_.sizes()) {
    std::ostringstream s;
    s << "shape mismatch: actual " << actual_.sizes() << " expected " << expected_.sizes();
    return s.str();
  }
  auto a = actual_.detach().to(at::kCPU).to(at::kDouble).contiguous();
  auto e = expected_.detach().to(at::kCPU).to(at::kDouble).contiguous();
  const double* pa = a.data_ptr<double>();
  const double* pe = e.data_ptr<double>();
  int64_t n = a.numel(), worst = -1, bad = 0;
  double worst_excess = 0;
  for (int64_t i = 0; i < n; ++i) {
    bool na = std::isnan(pa[i]), ne = std::isnan(pe[i]);
    if (na || ne) {
      if (na != ne) { ++bad; if (worst < 0) worst = i; worst_excess = INFINITY; }
      continue;
    }
    double d = std::fabs(pa[i] - pe[i]), lim = atol + rtol * std::fabs(pe[i]);
    if (!(d <= lim)) {
      ++bad;
      if (d - lim > worst_excess || worst < 0) { worst_excess = d - lim; worst = i; }
    }
  }
  if (!bad) return "";
  std::ostringstream s;
  s.precision(9);
  s << bad << " of " << n << " elements differ; worst at flat index " << worst << ": actual " << pa[worst]
    << " expected " << pe[worst] << " (rtol " << rtol << ", atol " << atol << ")";
  return s.str();
}

std::string check_close(const at::Tensor& actual, const at::Tensor& expected, const nlohmann::json& tol) {
  double rtol = tol.value("rtol", 0.0);
  double atol = tol.value("atol", 0.0);
  if (tol.contains("atol_rel_to_max")) {
    auto m = expected.detach().to(at::kDouble).abs().nan_to_num(0, 0, 0).max().item<double>();
    atol = tol["atol_rel_to_max"].get<double>() * m;
  }
  return check_close(actual, expected, rtol, atol);
}

TempDir::TempDir() {
  std::random_device rd;
  path = fs::temp_directory_path() / ("comfy-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
  fs::create_directories(path);
}
TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path, ec);
}

namespace {
std::string shell_quote(const std::string& s) {
  std::string r = "'";
  for (char c : s) r += (c == '\'') ? std::string("'\\''") : std::string(1, c);
  return r + "'";
}
}  // namespace

CliResult run_cli(const std::vector<std::string>& args, const fs::path& cwd) {
  TempDir td;
  std::string cmd;
  if (!cwd.empty()) cmd += "cd " + shell_quote(cwd.string()) + " && ";
  cmd += shell_quote(cli_path().string());
  for (auto& a : args) cmd += " " + shell_quote(a);
  cmd += " >" + shell_quote((td.path / "out").string()) + " 2>" + shell_quote((td.path / "err").string()) + " </dev/null";
  int st = std::system(cmd.c_str());
  CliResult r;
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
  auto slurp = [](const fs::path& p) { std::ifstream f(p, std::ios::binary); std::ostringstream s; s << f.rdbuf(); return s.str(); };
  r.out = slurp(td.path / "out");
  r.err = slurp(td.path / "err");
  return r;
}

std::string python_with_torch() {
  static std::string cached = [] {
    for (const char* py : {"/usr/bin/python3"}) {
      std::string cmd = std::string(py) + " -c 'import torch' >/dev/null 2>&1";
      if (fs::exists(py) && std::system(cmd.c_str()) == 0) return std::string(py);
    }
    return std::string();
  }();
  return cached;
}

}  // namespace comfy::test
