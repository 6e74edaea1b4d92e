// load_state_dict: comfy.utils.load_torch_file (spec M8).
#include "comfy/models/state_dict.hpp"

#include <ATen/ATen.h>

#include "comfy/core/error.hpp"
#include "comfy/io/pt_file.hpp"
#include "comfy/io/safetensors.hpp"

namespace comfy {

namespace {
std::string lower_ext(const std::filesystem::path& p) {
  auto ext = p.extension().string();
  for (auto& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}
}  // namespace

TensorMap load_state_dict(const std::filesystem::path& path) {
  const std::string fname = path.filename().string();
  const auto ext = lower_ext(path);
  if (ext == ".safetensors" || ext == ".sft") {
    auto st = io::SafeTensors::open(path);
    st->prefetch();  // the whole checkpoint is about to be read
    return tensors_under(*st, "");
  }
  if (ext != ".ckpt" && ext != ".pt" && ext != ".pth" && ext != ".bin")
    throw Error("invalid_checkpoint", "cannot load " + fname + ": unknown weight file type '" + ext +
                                          "' (expected .safetensors, .sft, .ckpt, .pt, .pth or .bin)");
  const io::PtValue top = io::read_pt_file(path);
  if (top.kind != io::PtValue::Kind::Dict)
    throw Error("invalid_checkpoint", fname + " holds a " + top.kind_name() + ", not a dict of weights");
  const io::PtValue* sd = top.find("state_dict");
  if (!sd && top.dict.size() == 1 && top.dict[0].second.kind == io::PtValue::Kind::Dict) sd = &top.dict[0].second;
  if (!sd || sd->kind != io::PtValue::Kind::Dict) sd = &top;
  TensorMap out;
  for (const auto& [k, v] : sd->dict)
    if (k.kind == io::PtValue::Kind::Str && v.is_tensor()) out[k.s] = v.tensor;
  if (out.empty()) throw Error("invalid_checkpoint", fname + " holds no tensors");
  return out;
}

}  // namespace comfy
