#pragma once
// SHA-256, as ComfyUI's IS_CHANGED of file-loading nodes uses it (hex digest of the file bytes).
#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace comfy::io {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t n);
  void update(std::string_view s) { update(s.data(), s.size()); }
  std::array<uint8_t, 32> digest();  // finishes; the object must not be updated afterwards
  std::string hex_digest();

 private:
  void block(const uint8_t* p);
  uint32_t h_[8];
  uint8_t buf_[64];
  size_t buf_len_ = 0;
  uint64_t total_ = 0;
};

std::string sha256_hex(std::string_view data);
// Streams the file; throws comfy::Error when it cannot be read.
std::string sha256_file_hex(const std::filesystem::path& path);

}  // namespace comfy::io
