#include "comfy/core/memory_budget.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "comfy/core/error.hpp"
#include "comfy/core/runtime.hpp"

namespace comfy {

namespace {
// SwapTotal from /proc/meminfo, 0 when unreadable.
uint64_t swap_bytes() {
  std::ifstream f("/proc/meminfo");
  std::string key;
  uint64_t kb = 0;
  std::string unit;
  while (f >> key >> kb >> unit)
    if (key == "SwapTotal:") return kb * 1024;
  return 0;
}

uint64_t machine_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  const uint64_t ram = pages > 0 && page > 0 ? uint64_t(pages) * uint64_t(page) : 0;
  return ram + swap_bytes();
}
}  // namespace

uint64_t memory_budget(const RuntimeConfig& cfg) {
  if (cfg.memory_limit) return *cfg.memory_limit;
  static const uint64_t machine = machine_bytes();  // a property of the machine, read once
  return machine;
}

void require_memory(const RuntimeConfig& cfg, double bytes, const std::string& what, const std::string& input) {
  const uint64_t budget = memory_budget(cfg);
  if (budget == 0 || bytes <= double(budget)) return;
  const std::string where = cfg.memory_limit ? "the --memory-limit" : "this machine's physical memory + swap";
  throw Error("execution_error", what + " needs " + format_bytes(bytes) + " of memory; " + where + " is " +
                                     format_bytes(double(budget)),
              input)
      .at_input(input)
      .with_extra({{"exception_type", "torch.OutOfMemoryError"}, {"bytes_needed", bytes}, {"bytes_available", budget}});
}

double float_tensor_bytes(std::initializer_list<int64_t> sizes) {
  double n = 4;
  for (int64_t s : sizes) n *= double(s);
  return n;
}

std::string format_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int u = 0;
  while (bytes >= 1024 && u < 6) {
    bytes /= 1024;
    ++u;
  }
  char buf[64];
  if (u == 0) std::snprintf(buf, sizeof buf, "%.0f B", bytes);
  else std::snprintf(buf, sizeof buf, "%.1f %s", bytes, units[u]);
  return buf;
}

std::optional<uint64_t> parse_bytes(const std::string& text) {
  std::istringstream in(text);
  double v = 0;
  if (!(in >> v) || v < 0 || !std::isfinite(v)) return std::nullopt;
  std::string unit;
  in >> unit;
  std::string rest;
  if (in >> rest) return std::nullopt;
  for (auto& c : unit) c = char(std::toupper(static_cast<unsigned char>(c)));
  double mul = 1;
  if (unit.empty() || unit == "B") mul = 1;
  else if (unit == "K" || unit == "KB" || unit == "KIB") mul = 1024.0;
  else if (unit == "M" || unit == "MB" || unit == "MIB") mul = 1024.0 * 1024;
  else if (unit == "G" || unit == "GB" || unit == "GIB") mul = 1024.0 * 1024 * 1024;
  else if (unit == "T" || unit == "TB" || unit == "TIB") mul = 1024.0 * 1024 * 1024 * 1024;
  else return std::nullopt;
  const double b = v * mul;
  if (b >= 1.8e19) return std::nullopt;
  return uint64_t(b);
}

}  // namespace comfy
