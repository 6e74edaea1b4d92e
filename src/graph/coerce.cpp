// Constant conversion (workflow-execution.md 7.4) with Python's semantics, and Python-style printing
// of values for ComfyUI's messages.
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "comfy/graph/validate.hpp"

namespace comfy {

namespace {
using ojson = nlohmann::ordered_json;

std::string strip(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\n\r\f\v");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\n\r\f\v");
  return s.substr(b, e - b + 1);
}

// Python int(str): optional sign, digits with single underscores between them, surrounding blanks.
// Returns false on a syntax error; `overflow` when the value does not fit 127 bits.
bool parse_py_int(const std::string& text, Int& out, bool& overflow) {
  std::string s = strip(text);
  overflow = false;
  size_t i = 0;
  bool neg = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
  if (i >= s.size()) return false;
  Int v = 0;
  bool prev_digit = false;
  const Int limit = (~(unsigned __int128)0) >> 1;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c == '_') {
      if (!prev_digit || i + 1 >= s.size()) return false;
      prev_digit = false;
      continue;
    }
    if (c < '0' || c > '9') return false;
    prev_digit = true;
    if (!overflow) {
      if (v > (limit - (c - '0')) / 10) overflow = true;
      else v = v * 10 + (c - '0');
    }
  }
  if (!prev_digit) return false;
  out = neg ? -v : v;
  return true;
}

bool parse_py_float(const std::string& text, double& out) {
  std::string s = strip(text), t;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_') {
      if (i == 0 || i + 1 >= s.size() || !isdigit((unsigned char)s[i - 1]) || !isdigit((unsigned char)s[i + 1]))
        return false;
      continue;
    }
    t += s[i];
  }
  if (t.empty()) return false;
  std::string low;
  for (char c : t) low += char(tolower((unsigned char)c));
  size_t b = (low[0] == '+' || low[0] == '-') ? 1 : 0;
  std::string body = low.substr(b);
  double sign = low[0] == '-' ? -1.0 : 1.0;
  if (body == "inf" || body == "infinity") { out = sign * INFINITY; return true; }
  if (body == "nan") { out = NAN; return true; }
  for (char c : body)
    if (!(isdigit((unsigned char)c) || c == '.' || c == 'e' || c == '+' || c == '-')) return false;
  char* end = nullptr;
  out = std::strtod(t.c_str(), &end);
  return end && *end == '\0';
}

Coerced bad(const ojson& v, std::string msg) {
  Coerced c;
  c.ok = false;
  c.value = v;
  c.error = std::move(msg);
  return c;
}

std::string py_type_name(const ojson& v) {
  switch (v.type()) {
    case ojson::value_t::null: return "NoneType";
    case ojson::value_t::object: return "dict";
    case ojson::value_t::array: return "list";
    case ojson::value_t::string: return "str";
    case ojson::value_t::boolean: return "bool";
    case ojson::value_t::number_float: return "float";
    default: return "int";
  }
}

ojson coerce_int_json(Int v) {
  if (v >= 0 && v <= Int(~uint64_t(0))) return uint64_t(v);
  if (v < 0 && v >= Int(INT64_MIN)) return int64_t(v);
  return int_to_string(v);  // beyond 64 bits: exact, as text
}

std::string py_str_quote(const std::string& s) {
  bool sq = s.find('\'') != std::string::npos, dq = s.find('"') != std::string::npos;
  char q = (sq && !dq) ? '"' : '\'';
  std::string o(1, q);
  for (unsigned char c : s) {
    if (c == '\\') o += "\\\\";
    else if (c == (unsigned char)q) { o += '\\'; o += char(c); }
    else if (c == '\n') o += "\\n";
    else if (c == '\r') o += "\\r";
    else if (c == '\t') o += "\\t";
    else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      snprintf(buf, sizeof buf, "\\x%02x", c);
      o += buf;
    } else o += char(c);
  }
  return o + q;
}
}  // namespace

std::string py_float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string sci(buf, r.ptr);  // "-1.2345e+05" shortest round-trip digits
  bool neg = sci[0] == '-';
  if (neg) sci.erase(0, 1);
  size_t e = sci.find('e');
  int exp = std::atoi(sci.c_str() + e + 1);
  std::string digits;
  for (size_t i = 0; i < e; ++i)
    if (sci[i] != '.') digits += sci[i];
  std::string out;
  if (exp >= -4 && exp < 16) {  // Python repr: positional for 1e-4 <= |d| < 1e16
    if (exp < 0) {
      out = "0." + std::string(size_t(-exp - 1), '0') + digits;
    } else if (size_t(exp) + 1 >= digits.size()) {
      out = digits + std::string(size_t(exp) + 1 - digits.size(), '0') + ".0";
    } else {
      out = digits.substr(0, size_t(exp) + 1) + "." + digits.substr(size_t(exp) + 1);
    }
  } else {
    std::string m = digits.substr(0, 1) + (digits.size() > 1 ? "." + digits.substr(1) : "");
    char eb[16];
    snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
    out = m + eb;
  }
  return (neg ? "-" : "") + out;
}

std::string py_repr(const ojson& v) {
  switch (v.type()) {
    case ojson::value_t::null: return "None";
    case ojson::value_t::boolean: return v.get<bool>() ? "True" : "False";
    case ojson::value_t::number_float: return py_float_repr(v.get<double>());
    case ojson::value_t::number_integer: return std::to_string(v.get<int64_t>());
    case ojson::value_t::number_unsigned: return std::to_string(v.get<uint64_t>());
    case ojson::value_t::string: return py_str_quote(v.get<std::string>());
    case ojson::value_t::array: {
      std::string s = "[";
      for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + py_repr(v[i]);
      return s + "]";
    }
    case ojson::value_t::object: {
      std::string s = "{";
      bool first = true;
      for (auto& [k, x] : v.items()) {
        s += (first ? "" : ", ") + py_str_quote(k) + ": " + py_repr(x);
        first = false;
      }
      return s + "}";
    }
    default: return v.dump();
  }
}

std::string py_str(const ojson& v) { return v.is_string() ? v.get<std::string>() : py_repr(v); }

Coerced coerce_constant(const ojson& v, const std::string& type, const InputSpec* spec) {
  Coerced c;
  c.value = v;
  if (type == "INT") {
    Int out = 0;
    switch (v.type()) {
      case ojson::value_t::boolean: out = v.get<bool>() ? 1 : 0; break;
      case ojson::value_t::number_integer: out = v.get<int64_t>(); break;
      case ojson::value_t::number_unsigned: out = v.get<uint64_t>(); break;
      case ojson::value_t::number_float: {
        double d = v.get<double>();
        if (std::isnan(d)) return bad(v, "cannot convert float NaN to integer");
        if (std::isinf(d)) return bad(v, "cannot convert float infinity to integer");
        if (std::fabs(d) >= 1.6e38) return bad(v, "integer too large for comfy-native (beyond 127 bits)");
        // A JavaScript re-serialisation of an integer bound (2^64-1 -> 1.8446744073709552e+19) means the bound.
        if (spec && spec->int_max && double(*spec->int_max) == d && std::fabs(d) > 9007199254740992.0) {
          out = *spec->int_max;
          c.warning = "value " + py_float_repr(d) + " read as the maximum " + int_to_string(out) +
                      " (a JavaScript-rounded integer)";
          break;
        }
        if (spec && spec->int_min && double(*spec->int_min) == d && std::fabs(d) > 9007199254740992.0) {
          out = *spec->int_min;
          break;
        }
        long double t = std::trunc((long double)d);
        out = Int(t);
        break;
      }
      case ojson::value_t::string: {
        bool overflow = false;
        if (!parse_py_int(v.get<std::string>(), out, overflow))
          return bad(v, "invalid literal for int() with base 10: " + py_repr(v));
        if (overflow) {
          // Python keeps it; every INT bound we have is far below, so it is out of range.
          c.big_sign = strip(v.get<std::string>())[0] == '-' ? -1 : 1;
          return c;
        }
        break;
      }
      default:
        return bad(v, "int() argument must be a string, a bytes-like object or a real number, not '" +
                                  py_type_name(v) + "'");
    }
    c.int_value = out;
    c.value = coerce_int_json(out);
    return c;
  }
  if (type == "FLOAT") {
    double d = 0;
    switch (v.type()) {
      case ojson::value_t::boolean: d = v.get<bool>() ? 1.0 : 0.0; break;
      case ojson::value_t::number_integer: d = double(v.get<int64_t>()); break;
      case ojson::value_t::number_unsigned: d = double(v.get<uint64_t>()); break;
      case ojson::value_t::number_float: d = v.get<double>(); break;
      case ojson::value_t::string:
        if (!parse_py_float(v.get<std::string>(), d))
          return bad(v, "could not convert string to float: " + py_repr(v));
        break;
      default:
        return bad(v, "float() argument must be a string or a real number, not '" + py_type_name(v) + "'");
    }
    c.value = d;
    return c;
  }
  if (type == "STRING") {
    c.value = py_str(v);
    return c;
  }
  if (type == "BOOLEAN") {
    // ComfyUI uses Python truthiness ("false" -> True); we accept only unambiguous values.
    if (v.is_boolean()) return c;
    if (v.is_number()) {
      c.value = v.is_number_float() ? v.get<double>() != 0.0 : v.dump() != "0";
      return c;
    }
    if (v.is_string()) {
      std::string s = strip(v.get<std::string>());
      for (auto& ch : s) ch = char(tolower((unsigned char)ch));
      if (s == "true" || s == "false") {
        c.value = s == "true";
        c.warning = "string " + py_repr(v) + " read as a boolean";
        return c;
      }
    }
    return bad(v, "expected true or false, found " + py_repr(v) + " (comfy-native does not apply Python truthiness)");
  }
  return c;
}

}  // namespace comfy
