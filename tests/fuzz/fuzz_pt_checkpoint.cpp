// libFuzzer target for pickled checkpoint files (.ckpt / .pt / .pth): the bytes are written to a file
// and read by io::read_pt_file, which takes both torch.save formats (zip archive and the legacy
// consecutive-pickle stream). Any input either gives plain data and in-bounds tensors or throws
// comfy::Error; crashes, hangs, ASan/UBSan reports and other exception types are findings.
#include <ATen/ATen.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "comfy/core/error.hpp"
#include "comfy/io/pt_file.hpp"

namespace {
int64_t touch(const comfy::io::PtValue& v) {
  int64_t n = v.is_tensor() ? v.tensor.numel() : 0;
  if (v.is_tensor() && v.tensor.numel()) n += v.tensor.to(at::kDouble).sum().item<double>() != 0;
  for (const auto& x : v.items) n += touch(x);
  for (const auto& [k, x] : v.dict) n += touch(k) + touch(x);
  return n;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("fuzz_pt_checkpoint_" + std::to_string(::getpid()) + ".ckpt");
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(data), std::streamsize(size));
  }
  try {
    auto v = comfy::io::read_pt_file(path);
    volatile int64_t n = touch(v);
    (void)n;
  } catch (const comfy::Error&) {
  }
  return 0;
}
