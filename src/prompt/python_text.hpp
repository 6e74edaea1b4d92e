#pragma once
// The few Python str operations Impact's wildcard code relies on, on UTF-8 text: Unicode whitespace
// (str.isspace / strip / lstrip, regex \s), str.lower for ASCII, float() of a plain decimal number.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace comfy::pytext {

// Length in bytes of the UTF-8 sequence starting at s[i] (1 for a stray byte).
size_t char_len(std::string_view s, size_t i);
// The code point at s[i] (a stray byte counts as U+DC80+byte, as Python's surrogateescape would).
uint32_t code_point(std::string_view s, size_t i);
// Python's str.isspace for one code point.
bool is_space(uint32_t cp);
std::string strip(std::string_view s);
std::string lstrip(std::string_view s);
bool starts_with(std::string_view s, std::string_view prefix);
std::string ascii_lower(std::string_view s);
// re.match(r'^-?(\d*\.?\d+|\d+\.?\d*)$'): '$' also matches before one final "\n".
bool is_numeric_string(std::string_view s);
// float() of a string is_numeric_string accepted.
double to_float(std::string_view s);
// The latin-1 bytes of a file as the text Python reads with encoding="ISO-8859-1" (each byte one code point).
std::string latin1_to_utf8(std::string_view bytes);

}  // namespace comfy::pytext
