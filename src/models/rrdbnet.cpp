// ESRGAN RRDBNet (spandrel 0.4.1 architectures/ESRGAN, nodes-control-upscale.md 2.2-2.4): key layouts,
// hyper-parameters from the old-layout dict, construction by key name, forward.
#include <ATen/ATen.h>

#include <cmath>
#include <regex>
#include <sstream>

#include "comfy/core/error.hpp"
#include "comfy/models/upscale_model.hpp"
#include "models/blocks.hpp"

namespace comfy {

using blocks::Conv2d;

namespace {
bool rrdb_has(const TensorMap& m, const std::string& k) { return m.count(k) != 0; }
std::string S(int64_t v) { return std::to_string(v); }
bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

// Largest integer N among keys "<prefix>N.<...>", or -1.
int64_t max_index(const TensorMap& m, const std::string& prefix) {
  int64_t best = -1;
  for (const auto& [k, _] : m) {
    if (!starts_with(k, prefix)) continue;
    const auto rest = k.substr(prefix.size());
    const auto dot = rest.find('.');
    const auto num = rest.substr(0, dot);
    if (num.empty() || num.find_first_not_of("0123456789") != std::string::npos || num.size() > 6) continue;
    best = std::max<int64_t>(best, std::stoll(num));
  }
  return best;
}

at::Tensor lrelu(const at::Tensor& x) { return at::leaky_relu(x, 0.2); }
}  // namespace

std::vector<std::string> RRDBNetConfig::tags() const {
  std::vector<std::string> t = {S(num_filters) + "nf", S(num_blocks) + "nb"};
  if (shuffle_factor) t.push_back("unshuffle");
  return t;
}

std::string RRDBNetConfig::describe() const {
  std::ostringstream o;
  o << "ESRGAN x" << scale() << " (in " << in_nc << " out " << out_nc << ", " << num_filters << " filters, "
    << num_blocks << " blocks";
  if (shuffle_factor) o << ", pixel-unshuffle " << shuffle_factor;
  o << ")";
  return o.str();
}

std::string detect_esrgan_layout(const TensorMap& sd, std::string* found) {
  if (rrdb_has(sd, "model.0.weight") && rrdb_has(sd, "model.1.sub.0.RDB1.conv1.0.weight")) return "old";
  if (rrdb_has(sd, "conv_first.weight") && rrdb_has(sd, "body.0.rdb1.conv1.weight") && rrdb_has(sd, "conv_body.weight") &&
      rrdb_has(sd, "conv_last.weight"))
    return "Real-ESRGAN";
  if (rrdb_has(sd, "conv_first.weight") && rrdb_has(sd, "RRDB_trunk.0.RDB1.conv1.weight") && rrdb_has(sd, "trunk_conv.weight") &&
      rrdb_has(sd, "conv_last.weight"))
    return "BSRGAN";
  if (found) {
    std::ostringstream o;
    o << sd.size() << " tensors";
    int n = 0;
    for (const auto& [k, _] : sd) {
      if (n++ == 4) break;
      o << (n == 1 ? ": " : ", ") << "'" << k << "'";
    }
    if (sd.size() > 4) o << ", ...";
    *found = o.str();
  }
  return "";
}

TensorMap esrgan_to_old_layout(const TensorMap& sd, const std::string& layout) {
  if (layout == "old") return sd;
  const bool real = layout == "Real-ESRGAN";
  const std::string trunk = real ? "body." : "RRDB_trunk.";
  const std::string body_conv = real ? "conv_body." : "trunk_conv.";
  const std::string up = real ? "conv_up" : "upconv";
  const std::string hr = real ? "conv_hr." : "HRconv.";
  const int64_t nb = max_index(sd, trunk) + 1;
  int64_t max_up = 0;
  for (int64_t n = 1; rrdb_has(sd, up + S(n) + ".weight"); ++n) max_up = n;
  const int64_t U = 3 * max_up;
  static const std::regex block(R"(^(?:body|RRDB_trunk)\.(\d+)\.(?:rdb|RDB)(\d)\.conv(\d)\.(weight|bias)$)");
  TensorMap out;
  for (const auto& entry : sd) {
    const std::string& k = entry.first;
    const at::Tensor& t = entry.second;
    std::smatch mt;
    std::string nk;
    auto suffix = [&](const std::string& p) { return k.substr(p.size()); };
    if (starts_with(k, "conv_first.")) nk = "model.0." + suffix("conv_first.");
    else if (std::regex_match(k, mt, block))
      nk = "model.1.sub." + mt[1].str() + ".RDB" + mt[2].str() + ".conv" + mt[3].str() + ".0." + mt[4].str();
    else if (starts_with(k, body_conv)) nk = "model.1.sub." + S(nb) + "." + suffix(body_conv);
    else if (starts_with(k, hr)) nk = "model." + S(U + 2) + "." + suffix(hr);
    else if (starts_with(k, "conv_last.")) nk = "model." + S(U + 4) + "." + suffix("conv_last.");
    else if (starts_with(k, up)) {
      const auto rest = suffix(up);
      const auto dot = rest.find('.');
      nk = "model." + S(3 * std::stoll(rest.substr(0, dot))) + rest.substr(dot);
    } else {
      nk = k;  // unknown keys stay (and are reported as unused)
    }
    out[nk] = t;
  }
  return out;
}

RRDBNetConfig detect_rrdbnet(const TensorMap& sd, const std::string& what) {
  auto bad = [&](const std::string& why) { return Error("execution_error", what + ": " + why); };
  auto w = [&](const std::string& k) -> const at::Tensor& {
    auto it = sd.find(k);
    if (it == sd.end()) throw bad("missing key '" + k + "'");
    if (it->second.dim() != 4) throw bad("'" + k + "' is not a conv weight");
    return it->second;
  };
  for (const auto& [k, _] : sd)
    if (k.find(".conv1x1.") != std::string::npos) throw bad("ESRGAN+ (conv1x1 in the dense blocks) is not supported");
  const int64_t L = max_index(sd, "model.") + 1;
  if (L < 5) throw bad("the model.N sequence has only " + S(L) + " entries (an ESRGAN has at least 5)");
  RRDBNetConfig c;
  c.in_nc = w("model.0.weight").size(1);
  c.num_filters = w("model.0.weight").size(0);
  c.out_nc = w("model." + S(L - 1) + ".weight").size(0);
  c.arch_scale = int64_t(1) << ((L - 5) / 3);
  c.num_blocks = max_index(sd, "model.1.sub.");  // (1 + largest index) - 1: the last entry is the trunk conv
  if (c.num_blocks < 1) throw bad("no RRDB blocks under model.1.sub");
  if (c.in_nc == 4 * c.out_nc) c.shuffle_factor = 2;
  else if (c.in_nc == 16 * c.out_nc) c.shuffle_factor = 4;
  if (c.shuffle_factor && c.arch_scale % c.shuffle_factor != 0)
    throw bad("pixel-unshuffle " + S(c.shuffle_factor) + " with network scale " + S(c.arch_scale));
  return c;
}

// ---------------------------------------------------------------- the network

struct RRDBNet::Impl {
  struct RDB {
    Conv2d conv[5];
  };
  struct RRDB {
    RDB rdb[3];
  };
  Conv2d first, trunk_conv, hr, last;
  std::vector<RRDB> blocks;
  std::vector<Conv2d> ups;
};

RRDBNet::~RRDBNet() = default;

RRDBNet::RRDBNet(const RRDBNetConfig& cfg, WeightSource& w) : cfg_(cfg), impl_(std::make_unique<Impl>()) {
  auto& I = *impl_;
  const int64_t nf = cfg.num_filters, gc = 32;
  I.first = Conv2d(w, "model.0.", cfg.in_nc, nf, 3);
  for (int64_t i = 0; i < cfg.num_blocks; ++i) {
    Impl::RRDB b;
    for (int r = 0; r < 3; ++r)
      for (int k = 0; k < 5; ++k) {
        const std::string p = "model.1.sub." + S(i) + ".RDB" + S(r + 1) + ".conv" + S(k + 1) + ".0.";
        b.rdb[r].conv[k] = Conv2d(w, p, nf + k * gc, k == 4 ? nf : gc, 3);
      }
    I.blocks.push_back(std::move(b));
  }
  I.trunk_conv = Conv2d(w, "model.1.sub." + S(cfg.num_blocks) + ".", nf, nf, 3);
  int64_t u = 0;
  for (int64_t s = cfg.arch_scale; s > 1; s /= 2) I.ups.emplace_back(w, "model." + S(3 * ++u) + ".", nf, nf, 3);
  I.hr = Conv2d(w, "model." + S(3 * u + 2) + ".", nf, nf, 3);
  I.last = Conv2d(w, "model." + S(3 * u + 4) + ".", nf, cfg.out_nc, 3);
  const auto& taken = w.taken();
  for (const auto& [_, t] : taken) bytes_ += int64_t(t.numel() * t.element_size());
  if (!taken.empty()) {
    device_ = taken.begin()->second.device();
    dtype_ = taken.begin()->second.scalar_type();
  }
}

at::Tensor RRDBNet::forward(const at::Tensor& x_in) const {
  const auto& I = *impl_;
  at::Tensor x = x_in.to(dtype_);
  const int64_t h = x.size(2), w = x.size(3), sf = cfg_.shuffle_factor;
  if (sf) {
    const int64_t ph = (sf - h % sf) % sf, pw = (sf - w % sf) % sf;
    if (ph || pw) x = at::reflection_pad2d(x, {0, pw, 0, ph});
    x = at::pixel_unshuffle(x, sf);  // [B, C*sf^2, H/sf, W/sf]
  }
  auto fea = I.first(x);  // [B, nf, h, w]
  auto t = fea;
  for (const auto& b : I.blocks) {
    auto r = t;
    for (const auto& d : b.rdb) {
      std::vector<at::Tensor> feats = {r};
      for (int k = 0; k < 4; ++k) feats.push_back(lrelu(d.conv[k](at::cat(feats, 1))));  // [B, gc, h, w]
      auto x5 = d.conv[4](at::cat(feats, 1));                                          // [B, nf, h, w]
      r = x5 * 0.2 + r;
    }
    t = r * 0.2 + t;
  }
  fea = fea + I.trunk_conv(t);
  for (const auto& up : I.ups) fea = lrelu(up(at::upsample_nearest2d(fea, {fea.size(2) * 2, fea.size(3) * 2})));
  auto out = I.last(lrelu(I.hr(fea)));  // [B, out_nc, h*s, w*s]
  if (sf) out = out.slice(2, 0, h * cfg_.scale()).slice(3, 0, w * cfg_.scale());
  return out;
}

}  // namespace comfy
