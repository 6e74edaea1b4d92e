// UPSCALE_MODEL: reading a file like UpscaleModelLoader, spandrel's descriptor call (padding, clamp) and
// ImageUpscaleWithModel's tiled run with the halve-the-tile retry (nodes-control-upscale.md 2.1, 2.5, 2.6).
#include "comfy/models/upscale_model.hpp"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <spdlog/spdlog.h>

#include <new>

#include "comfy/core/error.hpp"
#include "comfy/io/pt_file.hpp"
#include "comfy/io/safetensors.hpp"
#include "comfy/ops/tiled_scale.hpp"

namespace comfy {

namespace {
bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

TensorMap dict_tensors(const io::PtValue& d) {
  TensorMap m;
  for (const auto& [k, v] : d.dict)
    if (k.kind == io::PtValue::Kind::Str && v.is_tensor()) m.emplace(k.s, v.tensor);
  return m;
}

// torch.load(weights_only=True) + ComfyUI's unwrapping: "state_dict", or a dict with exactly one key
// whose value is a dict (Real-ESRGAN's {"params_ema": ...}).
TensorMap read_pth(const std::filesystem::path& path) {
  auto v = io::read_pt_file(path);
  const std::string fname = path.filename().string();
  if (v.kind != io::PtValue::Kind::Dict) throw Error("execution_error", fname + " holds a " + v.kind_name() + ", not a state dict");
  const io::PtValue* d = &v;
  if (auto sd = v.find("state_dict"); sd && sd->kind == io::PtValue::Kind::Dict) d = sd;
  else if (v.dict.size() == 1 && v.dict[0].second.kind == io::PtValue::Kind::Dict) d = &v.dict[0].second;
  return dict_tensors(*d);
}
}  // namespace

std::shared_ptr<UpscaleModel> upscale_model_from_state_dict(const TensorMap& sd_in, c10::Device device,
                                                            const std::string& what) {
  TensorMap sd = sd_in;
  if (sd.count("module.layers.0.residual_group.blocks.0.norm1.weight")) {  // SwinIR saved from DataParallel
    TensorMap s;
    for (auto& [k, t] : sd) s[starts_with(k, "module.") ? k.substr(7) : k] = t;
    sd = std::move(s);
  }
  std::string found;
  const std::string layout = detect_esrgan_layout(sd, &found);
  if (layout.empty())
    throw Error("execution_error", "Unsupported model type: " + what +
                                       " is not an ESRGAN / Real-ESRGAN (RRDBNet) upscale model, the only architecture "
                                       "comfy-native supports (found " + found + ")");
  auto old = esrgan_to_old_layout(sd, layout);
  auto cfg = detect_rrdbnet(old, what);
  MapWeights w(old, device, at::kFloat, what);
  auto net = std::make_shared<RRDBNet>(cfg, w);
  auto unused = w.unused();
  if (!unused.empty())
    throw Error("execution_error", what + ": " + std::to_string(unused.size()) + " unexpected key(s) for an " +
                                       cfg.describe() + ", first '" + unused.front() + "'");
  auto m = std::make_shared<UpscaleModel>();
  m->net = net;
  m->file = what;
  return m;
}

std::shared_ptr<UpscaleModel> load_upscale_model(const std::filesystem::path& path, c10::Device device) {
  auto ext = path.extension().string();
  for (auto& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  const std::string fname = path.filename().string();
  TensorMap sd;
  std::shared_ptr<io::SafeTensors> keep;
  if (ext == ".safetensors" || ext == ".sft") {
    keep = io::SafeTensors::open(path);
    for (const auto& n : keep->names()) sd.emplace(n, keep->get(n));
  } else {
    sd = read_pth(path);
  }
  auto m = upscale_model_from_state_dict(sd, device, fname);
  spdlog::info("loaded upscale model {}: {}", fname, m->net->config().describe());
  return m;
}

at::Tensor UpscaleModel::operator()(const at::Tensor& tile) const {
  const auto& cfg = net->config();
  const int64_t h = tile.size(2), w = tile.size(3), mult = cfg.multiple_of(), s = cfg.scale();
  auto target = [&](int64_t v) {
    v = std::max(cfg.minimum(), v);
    return (v + mult - 1) / mult * mult;
  };
  const int64_t th = target(h), tw = target(w);
  at::Tensor x = tile.to(net->device(), at::kFloat);
  const bool padded = th != h || tw != w;
  if (padded) {
    // reflect as far as it can reach (size - 1), replicate the rest
    const int64_t rw = std::min(tw - w, w - 1), rh = std::min(th - h, h - 1);
    if (rw > 0 || rh > 0) x = at::reflection_pad2d(x, {0, rw, 0, rh});
    const int64_t qw = tw - w - rw, qh = th - h - rh;
    if (qw > 0 || qh > 0) x = at::replication_pad2d(x, {0, qw, 0, qh});
  }
  auto out = net->forward(x).to(at::kFloat).clamp_(0, 1);
  if (padded) out = out.slice(2, 0, h * s).slice(3, 0, w * s);
  return out;
}

at::Tensor upscale_image_with_model(const UpscaleModel& m, const at::Tensor& image, int64_t tile, int64_t overlap) {
  const int64_t want = m.net->config().input_channels();
  if (image.dim() != 4 || image.size(-1) != want)
    throw Error("execution_error", "the upscale model " + m.file + " takes images with " + std::to_string(want) +
                                       " channels, got an image of shape " + c10::str(image.sizes()));
  auto in_img = image.movedim(-1, -3).to(m.net->device(), at::kFloat);  // [B, C, H, W]
  const double s = double(m.scale());
  for (;;) {
    try {
      auto out = tiled_scale(in_img, [&](const at::Tensor& t) { return m(t); }, tile, tile, overlap, s, 3);
      return out.to(at::kCPU).movedim(-3, -1).clamp_(0, 1);  // [B, H*s, W*s, 3]
    } catch (const c10::OutOfMemoryError&) {
    } catch (const std::bad_alloc&) {
    }
    tile /= 2;
    if (tile < 128) throw Error("execution_error", "out of memory upscaling with " + m.file + " even with 128-pixel tiles");
    spdlog::warn("out of memory upscaling with {}: retrying with tile {}", m.file, tile);
  }
}

}  // namespace comfy
