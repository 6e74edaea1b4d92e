#include "comfy/io/pt_file.hpp"

#include <ATen/ATen.h>
#include <ATen/core/Dict.h>
#include <ATen/core/ivalue.h>
#include <ATen/core/jit_type.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "comfy/core/error.hpp"
#include "comfy/io/files.hpp"

namespace fs = std::filesystem;

namespace comfy::io {

std::string pt_bytes(const PtDict& d) {
  c10::impl::GenericDict dict(c10::StringType::get(), c10::AnyType::get());
  for (const auto& [k, t] : d.tensors) dict.insert(c10::IValue(k), c10::IValue(t.to(at::kCPU).contiguous()));
  for (const auto& [k, s] : d.strings) dict.insert(c10::IValue(k), c10::IValue(s));
  auto bytes = torch::jit::pickle_save(c10::IValue(dict));
  return std::string(bytes.begin(), bytes.end());
}

namespace {
// ComfyUI get_save_image_path's counter: files "<name>_<digits>_..." -> max digits + 1.
int64_t next_counter(const fs::path& folder, const std::string& name) {
  int64_t best = 0;
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) return 1;
  for (const auto& e : fs::directory_iterator(folder, ec)) {
    const std::string f = e.path().filename().string();
    if (f.size() <= name.size() || f.compare(0, name.size(), name) != 0 || f[name.size()] != '_') continue;
    size_t p = name.size() + 1, q = p;
    while (q < f.size() && std::isdigit(static_cast<unsigned char>(f[q]))) ++q;
    if (q == p || q >= f.size() || f[q] != '_') continue;
    try {
      best = std::max<int64_t>(best, std::stoll(f.substr(p, q - p)));
    } catch (...) {
    }
  }
  return best + 1;
}
}  // namespace

fs::path save_counted(const fs::path& folder, const std::string& name, const std::string& suffix,
                      const std::string& bytes) {
  fs::create_directories(folder);
  int64_t counter = next_counter(folder, name);
  for (int attempt = 0; attempt < 1000; ++attempt, ++counter) {
    char num[32];
    std::snprintf(num, sizeof num, "%05lld", static_cast<long long>(counter));
    fs::path p = folder / (name + "_" + num + "_" + suffix);
    if (fs::exists(p)) continue;
    try {
      write_file_atomic(p, bytes);
      return p;
    } catch (const Error&) {
      if (!fs::exists(p)) throw;  // a real write error, not a lost race
    }
  }
  throw Error("execution_error", "could not find a free file name for " + (folder / name).string());
}

}  // namespace comfy::io
