// Reading torch.save zip files with a restricted unpickler (the subset of pickle protocol 2-5 that
// torch.save emits for containers of tensors). Nothing named by a GLOBAL is ever imported or called:
// a few known names are interpreted, everything else is an error — torch.load(weights_only=True)'s rule.
#include <ATen/ATen.h>
#include <caffe2/serialize/inline_container.h>

#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string_view>

#include "comfy/core/error.hpp"
#include "comfy/io/pt_file.hpp"
#include "io/pt_unpickle.hpp"

namespace comfy::io {

const PtValue* PtValue::find(const std::string& key) const {
  if (kind != Kind::Dict) return nullptr;
  for (const auto& [k, v] : dict)
    if (k.kind == Kind::Str && k.s == key) return &v;
  return nullptr;
}

std::string PtValue::kind_name() const {
  switch (kind) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::Str: return "str";
    case Kind::Bytes: return "bytes";
    case Kind::Tuple: return "tuple";
    case Kind::List: return "list";
    case Kind::Dict: return "dict";
    case Kind::Tensor: return "tensor";
  }
  return "?";
}

namespace {

[[noreturn]] void bad(const std::string& what, const std::string& msg) {
  throw Error("invalid_pt_file", what + ": " + msg);
}

// Objects while unpickling: shared, because the memo and containers refer to the same mutable object.
struct Obj;
using Ref = std::shared_ptr<Obj>;
struct Obj {
  enum class Kind { None, Bool, Int, Float, Str, Bytes, Tuple, List, Dict, Tensor, Storage, Global, Mark };
  Kind kind = Kind::None;
  bool b = false;
  int64_t i = 0;
  double f = 0.0;
  std::string s;  // Str, Bytes, Global ("module name")
  std::vector<Ref> items;
  std::vector<std::pair<Ref, Ref>> dict;
  at::Tensor tensor;  // Tensor, Storage (1-D, the storage's dtype)
};


const std::map<std::string, at::ScalarType>& storage_types() {
  static const std::map<std::string, at::ScalarType> m = {
      {"torch FloatStorage", at::kFloat},   {"torch HalfStorage", at::kHalf},     {"torch BFloat16Storage", at::kBFloat16},
      {"torch DoubleStorage", at::kDouble}, {"torch LongStorage", at::kLong},     {"torch IntStorage", at::kInt},
      {"torch ShortStorage", at::kShort},   {"torch CharStorage", at::kChar},     {"torch ByteStorage", at::kByte},
      {"torch BoolStorage", at::kBool}};
  return m;
}

bool same_key(const Obj& a, const Obj& b) {
  if (a.kind != b.kind) {
    // Python: 1 == 1.0 == True; keep it to ints and bools.
    bool ai = a.kind == Obj::Kind::Int || a.kind == Obj::Kind::Bool, bi = b.kind == Obj::Kind::Int || b.kind == Obj::Kind::Bool;
    return ai && bi && (a.kind == Obj::Kind::Int ? a.i : a.b) == (b.kind == Obj::Kind::Int ? b.i : b.b);
  }
  switch (a.kind) {
    case Obj::Kind::None: return true;
    case Obj::Kind::Bool: return a.b == b.b;
    case Obj::Kind::Int: return a.i == b.i;
    case Obj::Kind::Float: return a.f == b.f;
    case Obj::Kind::Str:
    case Obj::Kind::Bytes: return a.s == b.s;
    default: return false;  // unhashable in Python, or compared by identity
  }
}

class Unpickler {
 public:
  Unpickler(std::string_view data, const PtStorageLoader& load, std::string what, size_t start = 0)
      : d_(data), pos_(start), load_(load), what_(std::move(what)) {}
  size_t pos() const { return pos_; }
  // Containers may nest deeply or refer to themselves: cut every link first, so that no destructor
  // recurses and no cycle leaks.
  ~Unpickler() {
    for (auto& c : containers_) {
      c->items.clear();
      c->dict.clear();
    }
  }
  Unpickler(const Unpickler&) = delete;
  Unpickler& operator=(const Unpickler&) = delete;

  Ref run() {
    while (true) {
      const uint8_t op = u8();
      switch (op) {
        case 0x80: u8(); break;                       // PROTO
        case 0x95: take(8); break;                    // FRAME (length only)
        case '.':                                     // STOP
          if (stack_.size() != 1) bad(what_, "pickle stack holds " + std::to_string(stack_.size()) + " items at STOP");
          return pop();
        case '(': push(make(Obj::Kind::Mark)); break;  // MARK
        case '0': pop(); break;                       // POP
        case '1': pop_mark(); break;                  // POP_MARK
        case '2': push(top()); break;                 // DUP
        case 'N': push(make(Obj::Kind::None)); break;
        case 0x88: push(boolean(true)); break;        // NEWTRUE
        case 0x89: push(boolean(false)); break;       // NEWFALSE
        case 'J': push(integer(int32_t(le(4)))); break;  // BININT
        case 'K': push(integer(le(1))); break;        // BININT1
        case 'M': push(integer(le(2))); break;        // BININT2
        case 0x8a: push(long1()); break;              // LONG1
        case 'G': push(binfloat()); break;            // BINFLOAT
        case 'X': push(str(take(le(4)), Obj::Kind::Str)); break;        // BINUNICODE
        case 0x8c: push(str(take(le(1)), Obj::Kind::Str)); break;       // SHORT_BINUNICODE
        case 0x8d: push(str(take(le(8)), Obj::Kind::Str)); break;       // BINUNICODE8
        case 'T': push(str(take(le(4)), Obj::Kind::Str)); break;        // BINSTRING (Python 2 str)
        case 'U': push(str(take(le(1)), Obj::Kind::Str)); break;        // SHORT_BINSTRING
        case 'B': push(str(take(le(4)), Obj::Kind::Bytes)); break;      // BINBYTES
        case 'C': push(str(take(le(1)), Obj::Kind::Bytes)); break;      // SHORT_BINBYTES
        case 0x8e: push(str(take(le(8)), Obj::Kind::Bytes)); break;     // BINBYTES8
        case '}': push(make(Obj::Kind::Dict)); break;  // EMPTY_DICT
        case ']': push(make(Obj::Kind::List)); break;  // EMPTY_LIST
        case ')': push(make(Obj::Kind::Tuple)); break; // EMPTY_TUPLE
        case 't': {                                   // TUPLE
          auto t = make(Obj::Kind::Tuple);
          t->items = pop_mark();
          push(t);
          break;
        }
        case 0x85: case 0x86: case 0x87: {            // TUPLE1..3
          auto t = make(Obj::Kind::Tuple);
          t->items.resize(op - 0x84);
          for (size_t k = t->items.size(); k-- > 0;) t->items[k] = pop();
          push(t);
          break;
        }
        case 'l': {                                   // LIST
          auto l = make(Obj::Kind::List);
          l->items = pop_mark();
          push(l);
          break;
        }
        case 'd': {                                   // DICT
          auto d = make(Obj::Kind::Dict);
          set_items(*d, pop_mark());
          push(d);
          break;
        }
        case 'a': {                                   // APPEND
          auto v = pop();
          list_of(top()).items.push_back(v);
          break;
        }
        case 'e': {                                   // APPENDS
          auto vs = pop_mark();
          auto& l = list_of(top()).items;
          l.insert(l.end(), vs.begin(), vs.end());
          break;
        }
        case 's': {                                   // SETITEM
          auto v = pop();
          auto k = pop();
          set_items(dict_of(top()), {k, v});
          break;
        }
        case 'u': {                                   // SETITEMS
          auto kvs = pop_mark();
          set_items(dict_of(top()), kvs);
          break;
        }
        case 'q': memo_put(le(1)); break;             // BINPUT
        case 'r': memo_put(le(4)); break;             // LONG_BINPUT
        case 0x94: memo_put(memo_.size()); break;     // MEMOIZE
        case 'h': push(memo_get(le(1))); break;       // BINGET
        case 'j': push(memo_get(le(4))); break;       // LONG_BINGET
        case 'c': {                                   // GLOBAL "module\nname\n"
          std::string module = line(), name = line();
          push(global(module + " " + name));
          break;
        }
        case 0x93: {                                  // STACK_GLOBAL
          auto name = pop(), module = pop();
          if (module->kind != Obj::Kind::Str || name->kind != Obj::Kind::Str) bad(what_, "STACK_GLOBAL without strings");
          push(global(module->s + " " + name->s));
          break;
        }
        case 'Q': push(persistent_load(pop())); break;  // BINPERSID
        case 'R': {                                   // REDUCE
          auto args = pop();
          auto fn = pop();
          push(reduce(*fn, *args));
          break;
        }
        case 'b': {                                   // BUILD: only an empty state on what REDUCE made
          auto state = pop();
          if (!empty_state(*state)) bad(what_, "object state (BUILD) is not supported");
          break;
        }
        default: {
          char buf[8];
          std::snprintf(buf, sizeof buf, "0x%02x", op);
          bad(what_, std::string("pickle opcode ") + buf + " at byte " + std::to_string(pos_ - 1) +
                         " is not supported by the safe reader (only plain data and tensors are)");
        }
      }
    }
  }

 private:
  // ---- bytes
  uint8_t u8() {
    if (pos_ >= d_.size()) bad(what_, "pickle data ends without STOP");
    return static_cast<uint8_t>(d_[pos_++]);
  }
  std::string take(uint64_t n) {
    if (n > d_.size() - pos_) bad(what_, "pickle data truncated (" + std::to_string(n) + " bytes wanted)");
    std::string s(d_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  uint64_t le(int n) {
    uint64_t v = 0;
    for (int k = 0; k < n; ++k) v |= uint64_t(u8()) << (8 * k);
    return v;
  }
  std::string line() {
    auto end = d_.find('\n', pos_);
    if (end == std::string_view::npos || end - pos_ > 256) bad(what_, "malformed GLOBAL");
    std::string s(d_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return s;
  }

  // ---- values
  Ref make(Obj::Kind k) {
    auto o = std::make_shared<Obj>();
    o->kind = k;
    if (k == Obj::Kind::Tuple || k == Obj::Kind::List || k == Obj::Kind::Dict) containers_.push_back(o);
    return o;
  }
  Ref boolean(bool v) {
    auto o = make(Obj::Kind::Bool);
    o->b = v;
    return o;
  }
  Ref integer(int64_t v) {
    auto o = make(Obj::Kind::Int);
    o->i = v;
    return o;
  }
  Ref long1() {
    const int n = u8();
    if (n > 8) bad(what_, "integer wider than 64 bits");
    uint64_t v = le(n);
    if (n > 0 && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t(0) << (8 * n);  // sign-extend
    return integer(static_cast<int64_t>(v));
  }
  Ref binfloat() {
    uint64_t bits = 0;
    for (int k = 0; k < 8; ++k) bits = (bits << 8) | u8();  // big-endian
    auto o = make(Obj::Kind::Float);
    std::memcpy(&o->f, &bits, 8);
    return o;
  }
  Ref str(std::string s, Obj::Kind k) {
    auto o = make(k);
    o->s = std::move(s);
    return o;
  }
  Ref global(const std::string& qualified) {
    static const std::set<std::string> allowed = {
        "collections OrderedDict", "torch._utils _rebuild_tensor_v2", "torch._utils _rebuild_parameter",
        "torch._utils _rebuild_parameter_with_state"};
    if (!allowed.count(qualified) && !storage_types().count(qualified))
      bad(what_, "the file refers to '" + qualified + "', which the safe reader does not load (only plain data and "
                 "tensors are read; a pickle GLOBAL is never imported)");
    return str(qualified, Obj::Kind::Global);
  }

  // ---- stack and memo
  void push(Ref r) {
    if (stack_.size() > 1000000) bad(what_, "pickle stack too deep");
    stack_.push_back(std::move(r));
  }
  Ref pop() {
    if (stack_.empty() || stack_.back()->kind == Obj::Kind::Mark) bad(what_, "pickle stack underflow");
    auto r = stack_.back();
    stack_.pop_back();
    return r;
  }
  Ref& top() {
    if (stack_.empty()) bad(what_, "pickle stack underflow");
    return stack_.back();
  }
  std::vector<Ref> pop_mark() {
    size_t m = stack_.size();
    while (m > 0 && stack_[m - 1]->kind != Obj::Kind::Mark) --m;
    if (m == 0) bad(what_, "pickle MARK missing");
    std::vector<Ref> out(stack_.begin() + long(m), stack_.end());
    stack_.resize(m - 1);
    return out;
  }
  void memo_put(uint64_t idx) { memo_[idx] = top(); }
  Ref memo_get(uint64_t idx) {
    auto it = memo_.find(idx);
    if (it == memo_.end()) bad(what_, "pickle memo entry " + std::to_string(idx) + " missing");
    return it->second;
  }
  Obj& list_of(const Ref& r) {
    if (r->kind != Obj::Kind::List) bad(what_, "APPEND on a non-list");
    return *r;
  }
  Obj& dict_of(const Ref& r) {
    if (r->kind != Obj::Kind::Dict) bad(what_, "SETITEM on a non-dict");
    return *r;
  }
  void set_items(Obj& d, const std::vector<Ref>& kvs) {
    if (kvs.size() % 2) bad(what_, "odd number of items for a dict");
    for (size_t k = 0; k < kvs.size(); k += 2) {
      const auto& key = kvs[k];
      switch (key->kind) {
        case Obj::Kind::List: case Obj::Kind::Dict: case Obj::Kind::Mark: bad(what_, "unhashable dict key");
        default: break;
      }
      bool replaced = false;
      for (auto& [ek, ev] : d.dict)
        if (same_key(*ek, *key)) {
          ev = kvs[k + 1];
          replaced = true;
          break;
        }
      if (!replaced) d.dict.emplace_back(key, kvs[k + 1]);
    }
  }
  static bool empty_state(const Obj& s) {
    if (s.kind == Obj::Kind::None) return true;
    if (s.kind == Obj::Kind::Dict) return s.dict.empty();
    if (s.kind == Obj::Kind::Tuple) {
      for (const auto& x : s.items)
        if (!empty_state(*x)) return false;
      return true;
    }
    return false;
  }

  // ---- torch
  int64_t as_int(const Ref& r, const char* what) {
    if (r->kind != Obj::Kind::Int) bad(what_, std::string(what) + " is not an int");
    return r->i;
  }
  std::vector<int64_t> ints(const Ref& r, const char* what) {
    if (r->kind != Obj::Kind::Tuple) bad(what_, std::string(what) + " is not a tuple");
    std::vector<int64_t> v;
    for (const auto& x : r->items) v.push_back(as_int(x, what));
    return v;
  }

  // ('storage', <storage type>, key, location, numel[, view_metadata None (legacy files)]) -> the
  // storage's elements (1-D)
  Ref persistent_load(const Ref& pid) {
    if (pid->kind != Obj::Kind::Tuple || pid->items.size() < 5 || pid->items.size() > 6 ||
        (pid->items.size() == 6 && pid->items[5]->kind != Obj::Kind::None) || pid->items[0]->kind != Obj::Kind::Str ||
        pid->items[0]->s != "storage" || pid->items[1]->kind != Obj::Kind::Global || pid->items[2]->kind != Obj::Kind::Str)
      bad(what_, "unsupported persistent id (only tensor storages are read)");
    auto dt = storage_types().find(pid->items[1]->s);
    if (dt == storage_types().end()) bad(what_, "'" + pid->items[1]->s + "' is not a storage type");
    const std::string key = pid->items[2]->s;
    const int64_t numel = as_int(pid->items[4], "storage size");
    if (numel < 0) bad(what_, "negative storage size");
    auto it = storages_.find(key);
    if (it == storages_.end()) {
      at::Tensor t = load_(key, dt->second, numel);
      if (!t.defined() || t.dim() != 1 || t.numel() != numel || t.scalar_type() != dt->second)
        bad(what_, "storage data/" + key + " does not hold " + std::to_string(numel) + " elements");
      it = storages_.emplace(key, t).first;
    }
    auto o = make(Obj::Kind::Storage);
    o->tensor = it->second;
    return o;
  }

  Ref reduce(const Obj& fn, const Obj& args) {
    if (fn.kind != Obj::Kind::Global) bad(what_, "REDUCE on something that is not a known callable");
    if (args.kind != Obj::Kind::Tuple) bad(what_, "REDUCE arguments are not a tuple");
    const auto& a = args.items;
    if (fn.s == "collections OrderedDict") {
      if (!a.empty()) bad(what_, "OrderedDict with arguments is not supported");
      return make(Obj::Kind::Dict);
    }
    if (fn.s == "torch._utils _rebuild_tensor_v2") {
      // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
      if (a.size() < 6 || a.size() > 7 || a[0]->kind != Obj::Kind::Storage) bad(what_, "malformed _rebuild_tensor_v2");
      auto t = make(Obj::Kind::Tensor);
      t->tensor = rebuild(a[0]->tensor, as_int(a[1], "storage offset"), ints(a[2], "tensor size"), ints(a[3], "tensor stride"));
      return t;
    }
    if (fn.s == "torch._utils _rebuild_parameter" || fn.s == "torch._utils _rebuild_parameter_with_state") {
      if (a.size() < 3 || a[0]->kind != Obj::Kind::Tensor) bad(what_, "malformed _rebuild_parameter");
      return a[0];
    }
    bad(what_, "'" + fn.s + "' cannot be called");
  }

  at::Tensor rebuild(const at::Tensor& storage, int64_t offset, const std::vector<int64_t>& size,
                     const std::vector<int64_t>& stride) {
    if (size.size() != stride.size()) bad(what_, "tensor size and stride differ in length");
    if (size.size() > 32) bad(what_, "tensor with more than 32 dimensions");
    const int64_t numel = storage.numel();
    if (offset < 0 || offset > numel) bad(what_, "storage offset out of range");
    constexpr int64_t kMax = int64_t(1) << 40;
    int64_t last = offset, count = 1;  // highest element index the view touches; elements (non-empty dims)
    bool empty = false;
    for (size_t k = 0; k < size.size(); ++k) {
      if (size[k] < 0 || stride[k] < 0 || size[k] > kMax || stride[k] > kMax) bad(what_, "tensor size or stride out of range");
      if (size[k] == 0) {
        empty = true;
        continue;
      }
      count *= size[k];
      if (count > kMax) bad(what_, "tensor too large");
      if (size[k] > 1 && stride[k] > kMax / size[k]) bad(what_, "tensor stride out of range");
      last += (size[k] - 1) * stride[k];
      if (last > kMax) bad(what_, "tensor reaches past its storage");
    }
    if (empty) return at::empty(size, storage.options());
    if (last >= numel)
      bad(what_, "tensor of size " + c10::str(at::IntArrayRef(size)) + " reaches past its storage of " +
                     std::to_string(numel) + " elements");
    auto view = storage.as_strided(size, stride, offset);
    // A tensor that is its whole storage (the usual case) keeps it: no second copy of the weights.
    if (offset == 0 && count == numel && view.is_contiguous()) return view;
    return view.clone(at::MemoryFormat::Contiguous);
  }

  std::string_view d_;
  size_t pos_ = 0;
  const PtStorageLoader& load_;
  std::string what_;
  std::vector<Ref> stack_;
  std::map<uint64_t, Ref> memo_;
  std::map<std::string, at::Tensor> storages_;
  std::vector<Ref> containers_;  // every tuple / list / dict made, for the destructor
};

PtValue to_value(const Obj& o, const std::string& what, int depth = 0) {
  if (depth > 64) bad(what, "data nested too deeply (or recursive)");
  PtValue v;
  switch (o.kind) {
    case Obj::Kind::None: v.kind = PtValue::Kind::None; break;
    case Obj::Kind::Bool: v.kind = PtValue::Kind::Bool; v.b = o.b; break;
    case Obj::Kind::Int: v.kind = PtValue::Kind::Int; v.i = o.i; break;
    case Obj::Kind::Float: v.kind = PtValue::Kind::Float; v.f = o.f; break;
    case Obj::Kind::Str: v.kind = PtValue::Kind::Str; v.s = o.s; break;
    case Obj::Kind::Bytes: v.kind = PtValue::Kind::Bytes; v.s = o.s; break;
    case Obj::Kind::Tuple:
    case Obj::Kind::List:
      v.kind = o.kind == Obj::Kind::Tuple ? PtValue::Kind::Tuple : PtValue::Kind::List;
      for (const auto& x : o.items) v.items.push_back(to_value(*x, what, depth + 1));
      break;
    case Obj::Kind::Dict:
      v.kind = PtValue::Kind::Dict;
      for (const auto& [k, x] : o.dict) v.dict.emplace_back(to_value(*k, what, depth + 1), to_value(*x, what, depth + 1));
      break;
    case Obj::Kind::Tensor: v.kind = PtValue::Kind::Tensor; v.tensor = o.tensor; break;
    default: bad(what, "the file holds a bare storage or class reference, not data");
  }
  return v;
}

// The 15 bytes torch.save's legacy (pre-1.6, non-zip) format starts with: the pickled magic number
// 0x1950a86a20f9469cfc6c, protocol 2.
constexpr char kLegacyMagic[] = "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19\x2e";
constexpr size_t kLegacyMagicSize = sizeof(kLegacyMagic) - 1;

enum class PtFormat { Zip, Legacy };

PtFormat sniff(const std::filesystem::path& path, const std::string& what) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("invalid_pt_file", what + ": cannot open the file");
  char magic[kLegacyMagicSize] = {};
  f.read(magic, sizeof magic);
  if (std::memcmp(magic, "PK\x03\x04", 4) == 0) return PtFormat::Zip;
  if (size_t(f.gcount()) == kLegacyMagicSize && std::memcmp(magic, kLegacyMagic, kLegacyMagicSize) == 0)
    return PtFormat::Legacy;
  bad(what, "not a torch.save file (neither a zip archive nor the legacy pickle format)");
}

std::unique_ptr<caffe2::serialize::PyTorchStreamReader> open_zip(const std::filesystem::path& path, const std::string& what) {
  if (sniff(path, what) != PtFormat::Zip) bad(what, "not a torch.save zip file");
  try {
    return std::make_unique<caffe2::serialize::PyTorchStreamReader>(path.string());
  } catch (const c10::Error& e) {
    bad(what, std::string("unreadable zip archive: ") + e.what_without_backtrace());
  }
}

std::string record(caffe2::serialize::PyTorchStreamReader& zip, const std::string& name, const std::string& what) {
  try {
    auto [ptr, size] = zip.getRecord(name);
    return std::string(static_cast<const char*>(ptr.get()), size);
  } catch (const c10::Error& e) {
    bad(what, "record '" + name + "': " + e.what_without_backtrace());
  }
}

}  // namespace

PtValue unpickle_pt(const std::string& pickle, const PtStorageLoader& load, const std::string& what) {
  Unpickler up(pickle, load, what);
  return to_value(*up.run(), what);
}

namespace {
PtValue read_zip(const std::filesystem::path& path, const std::string& what) {
  auto zip = open_zip(path, what);
  if (zip->hasRecord("byteorder") && record(*zip, "byteorder", what) != "little")
    bad(what, "big-endian tensor data is not supported");
  if (!zip->hasRecord("data.pkl")) bad(what, "no data.pkl in the archive");
  const std::string pkl = record(*zip, "data.pkl", what);
  auto load = [&](const std::string& key, at::ScalarType dtype, int64_t numel) {
    // The record's buffer becomes the storage: read once, never copied.
    std::shared_ptr<at::DataPtr> data;
    size_t size = 0;
    try {
      auto [ptr, n] = zip->getRecord("data/" + key);
      data = std::make_shared<at::DataPtr>(std::move(ptr));
      size = n;
    } catch (const c10::Error& e) {
      bad(what, "record 'data/" + key + "': " + e.what_without_backtrace());
    }
    const uint64_t need = uint64_t(numel) * c10::elementSize(dtype);
    if (size < need)
      bad(what, "storage data/" + key + " holds " + std::to_string(size) + " bytes, " + std::to_string(need) + " expected");
    if (need == 0 || reinterpret_cast<uintptr_t>(data->get()) % 64 != 0) {
      at::Tensor t = at::empty({numel}, at::TensorOptions().dtype(dtype));
      if (need) std::memcpy(t.data_ptr(), data->get(), need);
      return t;
    }
    return at::from_blob(data->get(), {numel}, [data](void*) {}, at::TensorOptions().dtype(dtype));
  };
  return unpickle_pt(pkl, load, what);
}

// Legacy format: consecutive pickles (magic, protocol version, sys info, the object, the storage keys),
// then per key in that order an int64 element count and the raw little-endian elements.
PtValue read_legacy(const std::filesystem::path& path, const std::string& what) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("invalid_pt_file", what + ": cannot open the file");
  const uint64_t file_size = std::filesystem::file_size(path);
  // The pickles are small next to the data: read a growing prefix until they all parse.
  for (uint64_t chunk = 1 << 20;; chunk *= 4) {
    const uint64_t n = std::min(chunk, file_size);
    std::string head(n, '\0');
    f.clear();
    f.seekg(0);
    f.read(head.data(), std::streamsize(n));
    try {
      // Pass 1 on meta storages: where the object pickle ends and which storages it uses.
      std::map<std::string, std::pair<at::ScalarType, int64_t>> wanted;
      // A named PtStorageLoader: the Unpickler keeps a reference to it, so no temporary may be made per call.
      const PtStorageLoader meta = [&](const std::string& key, at::ScalarType dtype, int64_t numel) {
        wanted[key] = {dtype, numel};
        return at::empty({numel}, at::TensorOptions().dtype(dtype).device(at::kMeta));
      };
      size_t pos = kLegacyMagicSize;
      for (int k = 0; k < 2; ++k) {  // protocol version, sys info
        Unpickler up(head, meta, what, pos);
        auto v = to_value(*up.run(), what);
        if (k == 1) {
          const PtValue* le = v.find("little_endian");
          if (le && le->kind == PtValue::Kind::Bool && !le->b) bad(what, "big-endian tensor data is not supported");
        }
        pos = up.pos();
      }
      const size_t object_pos = pos;
      { Unpickler up(head, meta, what, pos); up.run(); pos = up.pos(); }
      PtValue keys;
      { Unpickler up(head, meta, what, pos); keys = to_value(*up.run(), what); pos = up.pos(); }
      if (keys.kind != PtValue::Kind::List) bad(what, "the storage key list is not a list");
      // The storages, read straight into their tensors.
      std::map<std::string, at::Tensor> storages;
      uint64_t off = pos;
      f.clear();
      for (const auto& k : keys.items) {
        if (k.kind != PtValue::Kind::Str) bad(what, "a storage key is not a string");
        auto w = wanted.find(k.s);
        if (w == wanted.end()) bad(what, "storage '" + k.s + "' is listed but never used");
        const auto [dtype, numel] = w->second;
        uint64_t count = 0;
        f.seekg(std::streamoff(off));
        f.read(reinterpret_cast<char*>(&count), 8);
        const uint64_t bytes = uint64_t(numel) * c10::elementSize(dtype);
        if (!f || count != uint64_t(numel) || off + 8 + bytes > file_size)
          bad(what, "storage '" + k.s + "' is truncated or has the wrong size");
        at::Tensor t = at::empty({numel}, at::TensorOptions().dtype(dtype));
        if (bytes) f.read(static_cast<char*>(t.data_ptr()), std::streamsize(bytes));
        if (!f) bad(what, "storage '" + k.s + "' is truncated");
        storages.emplace(k.s, t);
        off += 8 + bytes;
      }
      const PtStorageLoader load = [&](const std::string& key, at::ScalarType, int64_t) {
        auto it = storages.find(key);
        if (it == storages.end()) bad(what, "storage '" + key + "' has no data in the file");
        return it->second;
      };
      Unpickler up(head, load, what, object_pos);
      return to_value(*up.run(), what);
    } catch (const Error& e) {
      // Only running out of the prefix is worth a longer read; anything else is the file's fault.
      const std::string m = e.what();
      const bool short_read = m.find("pickle data ends without STOP") != std::string::npos ||
                              m.find("pickle data truncated") != std::string::npos;
      if (n == file_size || !short_read) throw;
    }
  }
}
}  // namespace

PtValue read_pt_file(const std::filesystem::path& path) {
  const std::string what = path.filename().string();
  try {
    return sniff(path, what) == PtFormat::Zip ? read_zip(path, what) : read_legacy(path, what);
  } catch (const c10::Error& e) {  // a malformed archive or tensor deep inside libtorch's reader
    bad(what, std::string("unreadable file: ") + e.what_without_backtrace());
  }
}

std::vector<std::pair<std::string, std::string>> pt_data_records(const std::filesystem::path& path) {
  const std::string what = path.filename().string();
  auto zip = open_zip(path, what);
  std::vector<std::pair<std::string, std::string>> out;
  std::vector<std::string> names;
  try {
    names = zip->getAllRecords();
  } catch (const c10::Error& e) {
    bad(what, std::string("unreadable zip archive: ") + e.what_without_backtrace());
  }
  for (auto it = names.rbegin(); it != names.rend(); ++it)
    if (it->compare(0, 5, "data/") == 0) out.emplace_back(*it, record(*zip, *it, what));
  return out;
}

}  // namespace comfy::io
