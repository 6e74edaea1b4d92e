#pragma once
// Values that flow on links and sit in widgets. Scalars are held directly; tensors (IMAGE, MASK,
// SIGMAS, NOISE_IMAGE) as at::Tensor; everything else (LATENT, CONDITIONING, MODEL, ...) as a shared,
// immutable Object. Nodes never mutate an input: they build new objects (ComfyUI's shallow-copy habit).
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace comfy {

// ComfyUI INTs are Python ints: seeds reach 2^64-1 and other inputs may be negative.
using Int = __int128;

struct Object {
  virtual ~Object() = default;
  virtual std::string type_name() const = 0;  // "LATENT", "MODEL", ...
};
using ObjectPtr = std::shared_ptr<const Object>;

class Value {
 public:
  using Storage = std::variant<std::monostate, Int, double, std::string, bool, at::Tensor, ObjectPtr>;

  Value() = default;
  Value(Int v) : v_(v) {}
  Value(int v) : v_(Int(v)) {}
  Value(int64_t v) : v_(Int(v)) {}
  Value(uint64_t v) : v_(Int(v)) {}
  Value(double v) : v_(v) {}
  Value(std::string v) : v_(std::move(v)) {}
  Value(const char* v) : v_(std::string(v)) {}
  Value(bool v) : v_(v) {}
  Value(at::Tensor t) : v_(std::move(t)) {}
  Value(ObjectPtr o) : v_(std::move(o)) {}
  template <class T, class = std::enable_if_t<std::is_base_of_v<Object, T>>>
  Value(std::shared_ptr<T> o) : v_(ObjectPtr(std::move(o))) {}

  bool is_none() const { return std::holds_alternative<std::monostate>(v_); }
  bool is_int() const { return std::holds_alternative<Int>(v_); }
  bool is_float() const { return std::holds_alternative<double>(v_); }
  bool is_string() const { return std::holds_alternative<std::string>(v_); }
  bool is_bool() const { return std::holds_alternative<bool>(v_); }
  bool is_tensor() const { return std::holds_alternative<at::Tensor>(v_); }
  bool is_object() const { return std::holds_alternative<ObjectPtr>(v_); }

  Int as_int() const;                 // INT (a bool or integral float is accepted)
  int64_t as_i64() const;             // throws if out of int64 range
  uint64_t as_u64() const;            // throws if negative or > 2^64-1
  double as_float() const;            // FLOAT (an INT is accepted)
  const std::string& as_string() const;
  bool as_bool() const;
  const at::Tensor& as_tensor() const;
  const ObjectPtr& as_object() const;

  // Typed access to an Object: v.as<Latent>() throws a clear error on a type mismatch.
  template <class T>
  std::shared_ptr<const T> as() const {
    auto p = std::dynamic_pointer_cast<const T>(as_object());
    if (!p) throw_bad_cast(typeid(T).name());
    return p;
  }

  const Storage& storage() const { return v_; }
  std::string kind() const;  // for messages: "INT", "FLOAT", "STRING", "BOOLEAN", "TENSOR", object type, "NONE"

 private:
  [[noreturn]] void throw_bad_cast(const char* wanted) const;
  Storage v_;
};

std::string int_to_string(Int v);

}  // namespace comfy
