#include "comfy/core/value.hpp"

#include <cmath>
#include <limits>

#include "comfy/core/error.hpp"

namespace comfy {

std::string int_to_string(Int v) {
  if (v == 0) return "0";
  bool neg = v < 0;
  unsigned __int128 u = neg ? (unsigned __int128)(-(v + 1)) + 1 : (unsigned __int128)v;
  std::string s;
  while (u > 0) { s.push_back(char('0' + int(u % 10))); u /= 10; }
  if (neg) s.push_back('-');
  return {s.rbegin(), s.rend()};
}

std::string Value::kind() const {
  switch (v_.index()) {
    case 0: return "NONE";
    case 1: return "INT";
    case 2: return "FLOAT";
    case 3: return "STRING";
    case 4: return "BOOLEAN";
    case 5: return "TENSOR";
    default: return std::get<ObjectPtr>(v_) ? std::get<ObjectPtr>(v_)->type_name() : "NONE";
  }
}

void Value::throw_bad_cast(const char* wanted) const {
  throw Error("execution_error", std::string("expected a value of C++ type ") + wanted + ", got " + kind());
}

Int Value::as_int() const {
  if (auto p = std::get_if<Int>(&v_)) return *p;
  if (auto p = std::get_if<bool>(&v_)) return *p ? 1 : 0;
  if (auto p = std::get_if<double>(&v_)) {
    if (std::isfinite(*p) && *p == std::trunc(*p)) return Int(*p);
  }
  throw Error("execution_error", "expected an INT, got " + kind());
}

int64_t Value::as_i64() const {
  Int v = as_int();
  if (v < Int(std::numeric_limits<int64_t>::min()) || v > Int(std::numeric_limits<int64_t>::max()))
    throw Error("execution_error", "integer " + int_to_string(v) + " does not fit in 64 bits");
  return int64_t(v);
}

uint64_t Value::as_u64() const {
  Int v = as_int();
  if (v < 0 || v > Int(std::numeric_limits<uint64_t>::max()))
    throw Error("execution_error", "integer " + int_to_string(v) + " is not in [0, 2^64-1]");
  return uint64_t(v);
}

double Value::as_float() const {
  if (auto p = std::get_if<double>(&v_)) return *p;
  if (auto p = std::get_if<Int>(&v_)) return double(*p);
  throw Error("execution_error", "expected a FLOAT, got " + kind());
}

const std::string& Value::as_string() const {
  if (auto p = std::get_if<std::string>(&v_)) return *p;
  throw Error("execution_error", "expected a STRING, got " + kind());
}

bool Value::as_bool() const {
  if (auto p = std::get_if<bool>(&v_)) return *p;
  if (auto p = std::get_if<Int>(&v_)) return *p != 0;
  throw Error("execution_error", "expected a BOOLEAN, got " + kind());
}

const at::Tensor& Value::as_tensor() const {
  if (auto p = std::get_if<at::Tensor>(&v_)) return *p;
  throw Error("execution_error", "expected a tensor, got " + kind());
}

const ObjectPtr& Value::as_object() const {
  if (auto p = std::get_if<ObjectPtr>(&v_)) return *p;
  throw Error("execution_error", "expected an object, got " + kind());
}

}  // namespace comfy
