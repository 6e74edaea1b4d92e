#pragma once
// SHA-256 (FIPS 180-4): LoadImage / LoadLatent IS_CHANGED is the hex digest of the file bytes.
#include <string>

namespace comfy::io {

std::string sha256_hex(const std::string& bytes);  // 64 lowercase hex digits

}  // namespace comfy::io
