// The CONTROL_NET object (comfy/controlnet.py, nodes-control-upscale.md 1.1-1.2, 1.7): loading a file
// in any supported layout, set_cond_hint, pre_run and get_control with control_merge.
#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

#include "comfy/core/error.hpp"
#include "comfy/io/pt_file.hpp"
#include "comfy/io/safetensors.hpp"
#include "comfy/models/controlnet.hpp"
#include "comfy/ops/upscale.hpp"

namespace comfy {

at::Tensor broadcast_image_to(const at::Tensor& t, int64_t target_batch, int64_t batched_number) {
  const int64_t current = t.size(0);
  if (current == 1) return t;
  const int64_t per_batch = target_batch / batched_number;
  at::Tensor x = t.slice(0, 0, per_batch);
  if (per_batch > x.size(0)) {
    std::vector<at::Tensor> parts(size_t(per_batch / x.size(0)), x);
    parts.push_back(x.slice(0, 0, per_batch % x.size(0)));
    x = at::cat(parts, 0);
  }
  if (x.size(0) == target_batch) return x;
  return at::cat(std::vector<at::Tensor>(size_t(batched_number), x), 0);
}

std::shared_ptr<ControlNet> ControlNet::with_hint(const at::Tensor& image_nchw, double s, double start, double end,
                                                  std::shared_ptr<const ControlNet> prev) const {
  auto c = std::make_shared<ControlNet>();
  c->net = net;
  c->global_average_pooling = global_average_pooling;
  c->file = file;
  c->cond_hint_original = image_nchw;
  c->strength = s;
  c->start_percent = start;
  c->end_percent = end;
  c->previous = std::move(prev);
  c->control_type = control_type;  // copy_to: extra_args
  return c;
}

void ControlNet::pre_run(std::shared_ptr<const ModelSampling> ms) const {
  ms_ = ms;
  sigma_start_ = ms->percent_to_sigma(start_percent);
  sigma_end_ = ms->percent_to_sigma(end_percent);
  if (previous) previous->pre_run(std::move(ms));
}

namespace {
// control_merge: global pooling, strength (once per tensor), then add the previous result.
std::shared_ptr<ControlResiduals> control_merge(ControlResiduals cur, const ControlResiduals* prev, double strength,
                                                bool pooling) {
  auto out = std::make_shared<ControlResiduals>();
  auto scale = [&](std::vector<at::Tensor>& v) {
    for (auto& x : v) {
      if (!x.defined()) continue;
      if (pooling) x = x.mean({2, 3}, true).repeat({1, 1, x.size(2), x.size(3)});
      x = x * strength;
    }
  };
  scale(cur.input);
  scale(cur.middle);
  scale(cur.output);
  *out = std::move(cur);
  if (!prev) return out;
  auto add = [](std::vector<at::Tensor>& o, const std::vector<at::Tensor>& p) {
    for (size_t i = 0; i < p.size(); ++i) {
      if (i >= o.size()) o.push_back(p[i]);
      else if (p[i].defined()) o[i] = o[i].defined() ? p[i] + o[i] : p[i];
    }
  };
  add(out->input, prev->input);
  add(out->middle, prev->middle);
  add(out->output, prev->output);
  return out;
}
}  // namespace

std::shared_ptr<const ControlResiduals> ControlNet::get_control(const at::Tensor& x_noisy, float sigma,
                                                                const ModelConds& conds,
                                                                int64_t batched_number) const {
  std::shared_ptr<const ControlResiduals> prev;
  if (previous) prev = previous->get_control(x_noisy, sigma, conds, batched_number);
  if (!ms_) throw Error("execution_error", "ControlNet used before pre_run (no model sampling)");
  // The window compares float32 sigmas (t[0] > timestep_range[0] or t[0] < timestep_range[1]).
  if (sigma > float(sigma_start_) || sigma < float(sigma_end_)) return prev;
  if (!net) throw Error("execution_error", "ControlNet has no network");
  const auto dtype = net->dtype();
  const auto device = net->device();

  const int64_t H8 = x_noisy.size(2) * 8, W8 = x_noisy.size(3) * 8;
  if (!cond_hint_.defined() || cond_hint_.size(2) != H8 || cond_hint_.size(3) != W8) {
    auto img = cond_hint_original.to(at::kFloat);
    if (img.size(1) != net->hint_channels())
      throw Error("execution_error", "ControlNet hint has " + std::to_string(img.size(1)) + " channels, the ControlNet " +
                                         file + " takes " + std::to_string(net->hint_channels()));
    cond_hint_ = common_upscale(img, W8, H8, "nearest-exact", "center").to(device, dtype);
  }
  if (x_noisy.size(0) != cond_hint_.size(0))
    cond_hint_ = broadcast_image_to(cond_hint_, x_noisy.size(0), batched_number);

  const int64_t ctx_dim = conds.c_crossattn.size(-1);
  if (ctx_dim != net->config().context_dim)
    throw Error("execution_error", "ControlNet " + file + " expects a context of width " +
                                       std::to_string(net->config().context_dim) + " but the model's conditioning has " +
                                       std::to_string(ctx_dim) + " (a ControlNet of another model family)");
  std::optional<at::Tensor> y;
  if (conds.y) y = conds.y->to(device, dtype);
  auto t = at::full({x_noisy.size(0)}, ms_->timestep_value(sigma), x_noisy.options().dtype(at::kFloat));
  auto x_in = ms_->calculate_input(sigma, x_noisy).to(device, dtype);
  ++calls_;
  auto control = net->forward(x_in, cond_hint_, t.to(device), conds.c_crossattn.to(device, dtype), y);
  return control_merge(std::move(control), prev.get(), strength, global_average_pooling);
}

// ---------------------------------------------------------------- loading

namespace {
TensorMap read_tensors(const std::filesystem::path& path, std::shared_ptr<io::SafeTensors>& keep) {
  auto ext = path.extension().string();
  for (auto& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  TensorMap m;
  if (ext == ".safetensors" || ext == ".sft") {
    keep = io::SafeTensors::open(path);
    for (const auto& n : keep->names()) m.emplace(n, keep->get(n));
    return m;
  }
  auto v = io::read_pt_file(path);  // restricted unpickler: tensors and plain containers only
  const io::PtValue* d = &v;
  if (auto sd = v.find("state_dict"); sd && sd->kind == io::PtValue::Kind::Dict) d = sd;
  if (d->kind != io::PtValue::Kind::Dict)
    throw Error("execution_error", path.filename().string() + " holds a " + d->kind_name() + ", not a dict of tensors");
  for (const auto& [k, t] : d->dict)
    if (k.kind == io::PtValue::Kind::Str && t.is_tensor()) m.emplace(k.s, t.tensor);
  return m;
}

std::string stem_of(const std::filesystem::path& p) { return p.stem().string(); }
bool ends_with(const std::string& s, const std::string& e) {
  return s.size() >= e.size() && s.compare(s.size() - e.size(), e.size(), e) == 0;
}
}  // namespace

std::shared_ptr<ControlNet> load_controlnet(const std::filesystem::path& path, const RuntimeConfig& cfg,
                                            const TensorMap* diff_base) {
  const std::string fname = path.filename().string();
  std::shared_ptr<io::SafeTensors> keep;
  TensorMap all = read_tensors(path, keep);
  auto det = detect_controlnet_layout(all);
  TensorMap bare;
  switch (det.layout) {
    case ControlNetLayout::Diffusers:
      bare = controlnet_from_diffusers(all, fname);
      break;
    case ControlNetLayout::LdmPrefixed: {
      const std::string p = "control_model.";
      const bool difference = all.count("difference") != 0;
      if (difference && !diff_base) spdlog::warn("{}: a diff ControlNet loaded without a model (no weights added)", fname);
      for (const auto& [k, t] : all) {
        if (k.compare(0, p.size(), p) != 0) continue;
        const std::string key = k.substr(p.size());
        at::Tensor w = t;
        if (difference && diff_base) {
          auto it = diff_base->find(key);
          if (it != diff_base->end()) w = t.to(at::kFloat) + it->second.to(t.device(), at::kFloat);
        }
        bare.emplace(key, w);
      }
      break;
    }
    case ControlNetLayout::LdmBare:
      bare = std::move(all);
      break;
    case ControlNetLayout::Unknown:
      throw Error("execution_error", "ERROR: controlnet file is invalid and does not contain a valid controlnet model. (" +
                                         fname + ": " + (det.found.empty() ? "error could not detect control model type" : "found " + det.found) + ")");
  }
  auto c = std::make_shared<ControlNet>();
  c->net = ControlNetModel::load(bare, cfg.device, compute_dtype(cfg), "ControlNet " + fname);
  c->file = fname;
  const std::string stem = stem_of(path);
  c->global_average_pooling = ends_with(stem, "_shuffle") || ends_with(stem, "_shuffle_fp16");
  spdlog::info("loaded ControlNet {}: {}", fname, c->net->config().describe());
  return c;
}

}  // namespace comfy
