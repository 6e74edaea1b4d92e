#pragma once
// PyTorch .pt files (torch.save's zip + pickle format). Writing: one dict of named tensors and strings
// (libtorch's pickle_save), so Python's torch.load opens it. Reading: a restricted unpickler for data
// files such as textual-inversion embeddings — plain containers, numbers, strings and tensors only.
#include <ATen/core/Tensor.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace comfy::io {

struct PtDict {
  std::vector<std::pair<std::string, at::Tensor>> tensors;    // saved from the CPU
  std::vector<std::pair<std::string, std::string>> strings;
};
std::string pt_bytes(const PtDict& d);

// A value read from a torch.save file.
struct PtValue {
  enum class Kind { None, Bool, Int, Float, Str, Bytes, Tuple, List, Dict, Tensor };
  Kind kind = Kind::None;
  bool b = false;
  int64_t i = 0;
  double f = 0.0;
  std::string s;                                   // Str (UTF-8), Bytes
  std::vector<PtValue> items;                      // Tuple, List
  std::vector<std::pair<PtValue, PtValue>> dict;   // Dict (also OrderedDict), in insertion order
  at::Tensor tensor;                               // Tensor: CPU, contiguous, owns its memory

  bool is_tensor() const { return kind == Kind::Tensor; }
  // Dict lookup by a string key; nullptr when absent (or not a dict).
  const PtValue* find(const std::string& key) const;
  std::string kind_name() const;  // "dict", "tensor", ... for messages
};

// Reads a torch.save zip file (PyTorch >= 1.6). Like torch.load(weights_only=True) it builds only
// dict / OrderedDict / list / tuple / str / bytes / int / float / bool / None and tensors
// (torch._utils._rebuild_tensor_v2 and _rebuild_parameter over the file's storages); any other pickle
// GLOBAL is refused, never imported or called. Throws comfy::Error("invalid_pt_file", ...) naming the
// file and what was found.
PtValue read_pt_file(const std::filesystem::path& path);

// The float32 payloads of the zip's "data/" records, last first (what ComfyUI's safe_load_embed_zip
// falls back to when torch.load refuses a file). Throws comfy::Error when the file is not a zip.
std::vector<std::pair<std::string, std::string>> pt_data_records(const std::filesystem::path& path);

}  // namespace comfy::io
