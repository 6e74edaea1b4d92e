#pragma once
// safetensors: 8-byte LE header length N, N bytes of JSON header, then raw little-endian tensor data.
// The reader mmaps the file and hands out zero-copy CPU tensor views that keep the mapping alive.
#include <ATen/core/Tensor.h>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace comfy::io {

struct TensorInfo {
  std::string dtype;            // "F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL"
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // offsets relative to the data section
};

class SafeTensors : public std::enable_shared_from_this<SafeTensors> {
 public:
  // Opens and validates the whole header (offsets inside the file, no overlaps, shape x dtype = byte
  // length, header size bound); throws comfy::Error naming the file and the offending tensor.
  static std::shared_ptr<SafeTensors> open(const std::filesystem::path& path);
  // Parse from memory (used by the fuzz target and tests); the buffer is copied.
  static std::shared_ptr<SafeTensors> from_bytes(const std::string& bytes, const std::string& name = "<memory>");

  ~SafeTensors();
  SafeTensors(const SafeTensors&) = delete;
  SafeTensors& operator=(const SafeTensors&) = delete;

  bool contains(const std::string& name) const { return infos_.count(name) != 0; }
  const TensorInfo& info(const std::string& name) const;
  std::vector<std::string> names() const;  // sorted
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::filesystem::path& path() const { return path_; }

  // Asks the kernel to read the whole file ahead, in file order, while the caller goes on (a loader that
  // converts every tensor otherwise faults the file in tensor by tensor, in construction order, which
  // reads a cold file several times slower than sequentially). Skipped for files over half the RAM.
  void prefetch() const;

  // Zero-copy CPU view (shares the mapping). Throws if the name is missing.
  at::Tensor get(const std::string& name) const;
  // Convenience: view converted to dtype/device (a copy only when needed).
  at::Tensor get(const std::string& name, c10::ScalarType dtype) const;

 private:
  SafeTensors() = default;
  void parse();
  std::filesystem::path path_;
  const uint8_t* data_ = nullptr;  // start of the whole file
  size_t size_ = 0;
  size_t data_offset_ = 0;         // 8 + N
  bool mapped_ = false;
  std::string owned_;              // for from_bytes
  std::map<std::string, TensorInfo> infos_;
  std::map<std::string, std::string> metadata_;
};

// Writes a safetensors file atomically (temp file + rename); refuses to overwrite unless allowed.
// Tensors are written contiguous, on CPU, in their own dtype, in name order.
void save_safetensors(const std::filesystem::path& path, const std::map<std::string, at::Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {}, bool overwrite = false);
std::string safetensors_bytes(const std::map<std::string, at::Tensor>& tensors,
                              const std::map<std::string, std::string>& metadata = {});

// Streams a large file without holding it in memory: `decls` gives each tensor's dtype and shape (the
// header is written first), then produce(name) is called once per tensor in name order and must return
// a tensor of exactly that dtype/shape. Same atomic, never-overwriting semantics as save_safetensors.
struct TensorDecl {
  c10::ScalarType dtype;
  std::vector<int64_t> shape;
};
void save_safetensors_streamed(const std::filesystem::path& path, const std::map<std::string, TensorDecl>& decls,
                               const std::function<at::Tensor(const std::string&)>& produce,
                               const std::map<std::string, std::string>& metadata = {});

// Whether t views a mapped safetensors file (SafeTensors::open + get), and, for such a view, drops its
// whole pages from this process's resident memory (the mapping is private and read-only: a later read
// pages them in again from the file). Loaders call it once a view has been converted to the weight
// that is kept, so that loading holds one copy of the weights, not the converted one plus the file.
bool is_mapped_view(const at::Tensor& t);
void release_mapped_pages(const at::Tensor& t);

std::string dtype_name(c10::ScalarType t);        // F32 ...
c10::ScalarType dtype_from_name(const std::string& s);  // throws on unknown

}  // namespace comfy::io
