#include "comfy/io/safetensors.hpp"

#include <ATen/ATen.h>
#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <random>

#include "comfy/core/error.hpp"
#include "comfy/io/files.hpp"

namespace fs = std::filesystem;

namespace comfy::io {

namespace {
constexpr uint64_t kMaxHeader = 100u << 20;  // 100 MB, like the reference implementation

// Context of a tensor viewing the file mapping: keeps the mapping alive.
struct MappedView {
  std::shared_ptr<const SafeTensors> file;
};
void delete_mapped_view(void* ctx) { delete static_cast<MappedView*>(ctx); }

size_t dtype_size(const std::string& d) {
  if (d == "F64" || d == "I64" || d == "U64") return 8;
  if (d == "F32" || d == "I32" || d == "U32") return 4;
  if (d == "F16" || d == "BF16" || d == "I16" || d == "U16") return 2;
  if (d == "I8" || d == "U8" || d == "BOOL" || d == "F8_E4M3" || d == "F8_E5M2") return 1;
  return 0;
}
}  // namespace

std::string dtype_name(c10::ScalarType t) {
  switch (t) {
    case at::kFloat: return "F32";
    case at::kHalf: return "F16";
    case at::kBFloat16: return "BF16";
    case at::kDouble: return "F64";
    case at::kLong: return "I64";
    case at::kInt: return "I32";
    case at::kShort: return "I16";
    case at::kChar: return "I8";
    case at::kByte: return "U8";
    case at::kBool: return "BOOL";
    default: throw Error("execution_error", std::string("dtype not storable in safetensors: ") + c10::toString(t));
  }
}

c10::ScalarType dtype_from_name(const std::string& s) {
  if (s == "F32") return at::kFloat;
  if (s == "F16") return at::kHalf;
  if (s == "BF16") return at::kBFloat16;
  if (s == "F64") return at::kDouble;
  if (s == "I64") return at::kLong;
  if (s == "I32") return at::kInt;
  if (s == "I16") return at::kShort;
  if (s == "I8") return at::kChar;
  if (s == "U8") return at::kByte;
  if (s == "BOOL") return at::kBool;
  throw Error("execution_error", "unsupported safetensors dtype " + s);
}

SafeTensors::~SafeTensors() {
  if (mapped_ && data_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

std::shared_ptr<SafeTensors> SafeTensors::open(const fs::path& path) {
  auto st = std::shared_ptr<SafeTensors>(new SafeTensors());
  st->path_ = path;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error("execution_error", "cannot open safetensors file " + path.string() + ": " + std::strerror(errno));
  struct stat sb {};
  if (::fstat(fd, &sb) != 0) {
    ::close(fd);
    throw Error("execution_error", "cannot stat " + path.string());
  }
  st->size_ = size_t(sb.st_size);
  if (st->size_ < 8) {
    ::close(fd);
    throw Error("execution_error", "safetensors file " + path.string() + " is truncated (" +
                                       std::to_string(st->size_) + " bytes, no header)");
  }
  void* p = ::mmap(nullptr, st->size_, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED) throw Error("execution_error", "cannot mmap " + path.string());
  st->data_ = static_cast<const uint8_t*>(p);
  st->mapped_ = true;
  st->parse();
  return st;
}

std::shared_ptr<SafeTensors> SafeTensors::from_bytes(const std::string& bytes, const std::string& name) {
  auto st = std::shared_ptr<SafeTensors>(new SafeTensors());
  st->path_ = name;
  st->owned_ = bytes;
  st->data_ = reinterpret_cast<const uint8_t*>(st->owned_.data());
  st->size_ = st->owned_.size();
  if (st->size_ < 8) throw Error("execution_error", "safetensors data " + name + " is truncated (no header)");
  st->parse();
  return st;
}

void SafeTensors::parse() {
  const std::string where = "safetensors file " + path_.string();
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | data_[i];
  if (n > kMaxHeader) throw Error("execution_error", where + ": header length " + std::to_string(n) + " is too large");
  if (8 + n > size_)
    throw Error("execution_error", where + " is truncated: header needs " + std::to_string(n) + " bytes, file has " +
                                       std::to_string(size_ - 8));
  data_offset_ = size_t(8 + n);
  nlohmann::json h;
  try {
    h = nlohmann::json::parse(reinterpret_cast<const char*>(data_ + 8), reinterpret_cast<const char*>(data_ + 8 + n));
  } catch (const std::exception& e) {
    throw Error("execution_error", where + ": header is not valid JSON (" + e.what() + ")");
  }
  if (!h.is_object()) throw Error("execution_error", where + ": header is not a JSON object");
  const uint64_t data_size = size_ - data_offset_;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (auto& item : h.items()) {
    const std::string name = item.key();  // a plain variable: lambdas below capture it
    auto& v = item.value();
    if (name == "__metadata__") {
      if (!v.is_object()) throw Error("execution_error", where + ": __metadata__ is not an object");
      for (auto& [k, s] : v.items()) {
        if (!s.is_string()) throw Error("execution_error", where + ": metadata '" + k + "' is not a string");
        metadata_[k] = s.get<std::string>();
      }
      continue;
    }
    auto bad = [&](const std::string& why) { return Error("execution_error", where + ", tensor '" + name + "': " + why); };
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
      throw bad("needs dtype, shape and data_offsets");
    for (auto& [field, _] : v.items())
      if (field != "dtype" && field != "shape" && field != "data_offsets") throw bad("unknown field '" + field + "'");
    TensorInfo ti;
    if (!v["dtype"].is_string()) throw bad("dtype is not a string");
    ti.dtype = v["dtype"].get<std::string>();
    size_t es = dtype_size(ti.dtype);
    if (es == 0) throw bad("unknown dtype " + ti.dtype);
    if (!v["shape"].is_array()) throw bad("shape is not an array");
    unsigned __int128 count = 1;
    if (v["shape"].size() > 64) throw bad("shape has more than 64 dimensions");
    for (auto& d : v["shape"]) {
      if (!d.is_number_unsigned() && !(d.is_number_integer() && d.get<int64_t>() >= 0)) throw bad("shape entries must be non-negative integers");
      uint64_t x = d.get<uint64_t>();
      count *= x;
      if (count > (unsigned __int128)(uint64_t(1) << 62)) throw bad("shape is absurdly large");
      ti.shape.push_back(int64_t(x));
    }
    auto& off = v["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      throw bad("data_offsets must be two non-negative integers");
    ti.begin = off[0].get<uint64_t>();
    ti.end = off[1].get<uint64_t>();
    if (ti.end < ti.begin) throw bad("data_offsets end before they begin");
    if (ti.end > data_size)
      throw bad("data ends at " + std::to_string(ti.end) + " but the file holds only " + std::to_string(data_size) +
                " data bytes (truncated file?)");
    if ((unsigned __int128)(ti.end - ti.begin) != count * es)
      throw bad("byte length " + std::to_string(ti.end - ti.begin) + " does not match shape x dtype (" +
                std::to_string(uint64_t(count * es)) + ")");
    ranges.emplace_back(ti.begin, ti.end);
    infos_.emplace(name, std::move(ti));
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].first < ranges[i - 1].second) throw Error("execution_error", where + ": tensor data ranges overlap");
}

const TensorInfo& SafeTensors::info(const std::string& name) const {
  auto it = infos_.find(name);
  if (it == infos_.end()) throw Error("execution_error", "tensor '" + name + "' not found in " + path_.string());
  return it->second;
}

std::vector<std::string> SafeTensors::names() const {
  std::vector<std::string> v;
  for (auto& [k, _] : infos_) v.push_back(k);
  return v;
}

at::Tensor SafeTensors::get(const std::string& name) const {
  const auto& ti = info(name);
  auto dt = dtype_from_name(ti.dtype);
  void* ptr = const_cast<uint8_t*>(data_ + data_offset_ + ti.begin);
  const auto opts = at::TensorOptions().dtype(dt);
  // Writers pad the header to 8 bytes, but the format does not promise alignment: a misaligned
  // tensor is copied out instead of viewed (kernels may assume element alignment).
  if (reinterpret_cast<uintptr_t>(ptr) % c10::elementSize(dt) != 0) {
    auto t = at::empty(ti.shape, opts);
    if (t.numel()) std::memcpy(t.data_ptr(), ptr, ti.end - ti.begin);
    return t;
  }
  // Keep this object alive for as long as any view exists.
  if (!mapped_) {
    auto holder = new std::shared_ptr<const SafeTensors>(shared_from_this());
    return at::from_blob(ptr, ti.shape, [holder](void*) { delete holder; }, opts);
  }
  // A view of the file mapping, recognisable by its deleter (is_mapped_view / release_mapped_pages).
  c10::DataPtr dp(ptr, new MappedView{shared_from_this()}, &delete_mapped_view, c10::Device(c10::kCPU));
  c10::Storage storage(c10::Storage::use_byte_size_t(), ti.end - ti.begin, std::move(dp), nullptr, false);
  return at::empty({0}, opts).set_(storage, 0, ti.shape);  // contiguous
}

void SafeTensors::prefetch() const {
  if (!mapped_) return;
  // Past half the RAM the read-ahead would evict its own pages before they are used.
  const double ram = double(::sysconf(_SC_PHYS_PAGES)) * double(::sysconf(_SC_PAGESIZE));
  if (double(size_) <= ram / 2) ::madvise(const_cast<uint8_t*>(data_), size_, MADV_WILLNEED);
}

bool is_mapped_view(const at::Tensor& t) {
  return t.defined() && t.has_storage() && t.storage().data_ptr().get_deleter() == &delete_mapped_view;
}

void release_mapped_pages(const at::Tensor& t) {
  if (!is_mapped_view(t)) return;
  // Whole pages inside the view only: a page shared with a neighbouring tensor stays mapped.
  const auto page = uintptr_t(::sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<uintptr_t>(t.storage().data());
  const uintptr_t first = (begin + page - 1) / page * page, last = (begin + t.storage().nbytes()) / page * page;
  if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

at::Tensor SafeTensors::get(const std::string& name, c10::ScalarType dtype) const {
  auto t = get(name);
  return t.scalar_type() == dtype ? t : t.to(dtype);
}

std::string safetensors_bytes(const std::map<std::string, at::Tensor>& tensors,
                              const std::map<std::string, std::string>& metadata) {
  nlohmann::json h = nlohmann::json::object();
  if (!metadata.empty()) h["__metadata__"] = metadata;
  std::vector<at::Tensor> conts;
  uint64_t off = 0;
  for (auto& [name, t] : tensors) {
    auto c = t.detach().to(at::kCPU).contiguous();
    uint64_t nbytes = uint64_t(c.numel()) * c.element_size();
    h[name] = {{"dtype", dtype_name(c.scalar_type())}, {"shape", c.sizes().vec()}, {"data_offsets", {off, off + nbytes}}};
    off += nbytes;
    conts.push_back(c);
  }
  std::string hs = h.dump();
  while ((8 + hs.size()) % 8) hs.push_back(' ');
  std::string out;
  out.reserve(8 + hs.size() + off);
  uint64_t n = hs.size();
  for (int i = 0; i < 8; ++i) out.push_back(char((n >> (8 * i)) & 0xff));
  out += hs;
  for (auto& c : conts) out.append(static_cast<const char*>(c.data_ptr()), size_t(c.numel()) * c.element_size());
  return out;
}

void save_safetensors(const fs::path& path, const std::map<std::string, at::Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata, bool overwrite) {
  write_file_atomic(path, safetensors_bytes(tensors, metadata), overwrite);
}

void save_safetensors_streamed(const fs::path& path, const std::map<std::string, TensorDecl>& decls,
                               const std::function<at::Tensor(const std::string&)>& produce,
                               const std::map<std::string, std::string>& metadata) {
  if (fs::exists(path)) throw Error("execution_error", "refusing to overwrite existing file " + path.string());
  nlohmann::json h = nlohmann::json::object();
  if (!metadata.empty()) h["__metadata__"] = metadata;
  uint64_t off = 0;
  for (auto& [name, d] : decls) {
    uint64_t n = c10::elementSize(d.dtype);
    for (auto x : d.shape) n *= uint64_t(x);
    h[name] = {{"dtype", dtype_name(d.dtype)}, {"shape", d.shape}, {"data_offsets", {off, off + n}}};
    off += n;
  }
  std::string hs = h.dump();
  while ((8 + hs.size()) % 8) hs.push_back(' ');
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  auto tmp = path;
  tmp += ".tmp" + std::to_string(std::random_device{}()) + "~";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw Error("execution_error", "cannot create " + tmp.string() + ": " + std::strerror(errno));
  auto fail = [&](const std::string& why) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return Error("execution_error", "cannot write " + path.string() + ": " + why);
  };
  auto put = [&](const void* p, size_t len) {
    const char* c = static_cast<const char*>(p);
    while (len) {
      ssize_t n = ::write(fd, c, len);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw fail(std::strerror(errno));
      }
      c += n;
      len -= size_t(n);
    }
  };
  uint8_t len8[8];
  for (int i = 0; i < 8; ++i) len8[i] = uint8_t((uint64_t(hs.size()) >> (8 * i)) & 0xff);
  put(len8, 8);
  put(hs.data(), hs.size());
  for (auto& [name, d] : decls) {
    auto t = produce(name).detach().to(at::kCPU).contiguous();
    if (t.scalar_type() != d.dtype || t.sizes() != at::IntArrayRef(d.shape))
      throw fail("tensor '" + name + "' does not match its declared dtype/shape");
    put(t.data_ptr(), size_t(t.numel()) * t.element_size());
  }
  ::fsync(fd);
  ::close(fd);
  if (::link(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    throw Error("execution_error", "cannot create " + path.string() + ": " + std::strerror(e));
  }
  ::unlink(tmp.c_str());
}

}  // namespace comfy::io
