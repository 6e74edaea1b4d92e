// CFGGuider: process_conds, calc_cond_batch, cfg_function, KSamplerX0Inpaint (sampling.md 3.2-3.5).
#include "comfy/sampling/guider.hpp"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "comfy/core/error.hpp"
#include "comfy/models/controlnet.hpp"
#include "sampling/fused.hpp"

namespace comfy {

namespace {

// comfy.utils.repeat_to_batch_size
at::Tensor repeat_to_batch(const at::Tensor& t, int64_t b) {
  if (t.size(0) > b) return t.slice(0, 0, b);
  if (t.size(0) < b) {
    std::vector<int64_t> reps(size_t(t.dim()), 1);
    reps[0] = (b + t.size(0) - 1) / t.size(0);
    return t.repeat(reps).slice(0, 0, b);
  }
  return t;
}

// One conditioning entry after process_conds: tensors on the device, area/mask resolved.
struct PCond {
  at::Tensor cross_attn;                 // [b, tokens, dim]
  std::optional<at::Tensor> y;           // [b, adm]
  std::optional<CondArea> area;          // latent units
  double strength = 1.0;
  std::optional<at::Tensor> mask;        // [Bm, H, W]
  double mask_strength = 1.0;
  std::optional<float> ts_start, ts_end; // sigmas (timestep_start / timestep_end)
  std::shared_ptr<const ControlNet> control;  // options["control"]
  bool control_apply_to_uncond = false;
  // Joined to the model input, noise-sized (Model::concat_cond): inpainting models' mask + masked
  // image, or instruct-pix2pix's image latent.
  std::optional<at::Tensor> c_concat;
};

// One queued model input (get_area_and_mult's cond_obj).
struct Item {
  at::Tensor input_x;
  at::Tensor mult;                       // undefined = ones (no area, no mask, strength 1)
  std::optional<CondArea> area;          // after clamping
  at::Tensor c_crossattn;                // [B, tokens, dim]
  std::optional<at::Tensor> y;
  std::shared_ptr<const ControlNet> control;
  std::optional<at::Tensor> c_concat;    // cut to the area
  int k = 0;                             // 0 = cond, 1 = uncond
};

bool area_inside(const CondArea& a, const CondArea& cmp) {
  if (a.y < cmp.y || a.x < cmp.x) return false;
  if (a.height + a.y > cmp.height + cmp.y) return false;
  if (a.width + a.x > cmp.width + cmp.x) return false;
  return true;
}

bool can_concat(const Item& a, const Item& b) {
  if (a.input_x.sizes() != b.input_x.sizes()) return false;
  // CONDCrossAttn.can_concat: same batch and feature dims, token lengths within lcm ratio 4
  auto s1 = a.c_crossattn.sizes(), s2 = b.c_crossattn.sizes();
  if (s1[0] != s2[0] || s1[2] != s2[2]) return false;
  if (s1[1] != s2[1]) {
    int64_t l = std::lcm(s1[1], s2[1]);
    if (l / std::min(s1[1], s2[1]) > 4) return false;
  }
  if (a.y.has_value() != b.y.has_value()) return false;
  if (a.y && a.y->sizes() != b.y->sizes()) return false;
  if (a.c_concat.has_value() != b.c_concat.has_value()) return false;
  if (a.c_concat && a.c_concat->sizes() != b.c_concat->sizes()) return false;
  return a.control == b.control;  // one control object per batch (the hint cache lives in it)
}

// apply_empty_x_to_equal_area for "control": when no entry of `uncond` has a ControlNet, the ControlNets
// of the positive entries flagged control_apply_to_uncond are copied onto it (ControlNetApply (OLD)).
void copy_control_to_uncond(const std::vector<PCond>& positive, std::vector<PCond>& uncond) {
  std::vector<std::shared_ptr<const ControlNet>> cond_cnets;
  for (const auto& c : positive)
    if (c.control_apply_to_uncond && !c.area && c.control) cond_cnets.push_back(c.control);
  std::vector<size_t> uncond_other;
  for (size_t t = 0; t < uncond.size(); ++t) {
    if (uncond[t].area) continue;
    if (uncond[t].control) return;
    uncond_other.push_back(t);
  }
  if (uncond_other.empty()) return;
  for (size_t x = 0; x < cond_cnets.size(); ++x) {
    const size_t t = uncond_other[x % uncond_other.size()];
    if (uncond[t].control) {
      PCond n = uncond[t];
      n.control = cond_cnets[x];
      uncond.push_back(std::move(n));
    } else {
      uncond[t].control = cond_cnets[x];
    }
  }
}

}  // namespace

struct CFGGuider::Prepared {
  std::vector<PCond> lists[kCondKinds];  // positive, negative, middle (DualCFGGuider)
  int64_t batch = 1;
};

CFGGuider::CFGGuider(std::shared_ptr<const Model> model, std::shared_ptr<const Conditioning> positive,
                     std::shared_ptr<const Conditioning> negative, double cfg)
    : model_(std::move(model)), positive_(std::move(positive)), negative_(std::move(negative)), cfg_(cfg) {}
CFGGuider::~CFGGuider() = default;

void CFGGuider::prepare(at::IntArrayRef x_shape, c10::Device device, const at::Tensor& latent_image,
                        const at::Tensor& denoise_mask) {
  prep_ = std::make_unique<Prepared>();
  prep_->batch = x_shape[0];
  const int64_t H = x_shape[2], W = x_shape[3];
  const Conditioning* src[kCondKinds] = {positive_.get(), negative_.get(), middle_.get()};
  for (int k = 0; k < kCondKinds; ++k) {
    if (!src[k]) continue;
    for (const auto& e : src[k]->entries) {
      PCond p;
      p.cross_attn = e.cross_attn.to(device, at::kFloat);
      if (auto y = model_->encode_adm(e, W * 8, H * 8, k == 1)) p.y = y->to(device, at::kFloat);
      if (auto cc = model_->concat_cond(e, x_shape, latent_image, denoise_mask)) p.c_concat = cc->to(device, at::kFloat);
      p.area = e.area;
      p.strength = e.strength;
      p.mask_strength = e.mask_strength;
      if (e.mask) {
        // resolve_areas_and_cond_masks_multidim
        auto m = e.mask->to(device, at::kFloat);
        if (m.dim() == 2) m = m.unsqueeze(0);
        if (m.size(1) != H || m.size(2) != W) {
          m = at::upsample_bilinear2d(m.unsqueeze(1), {H, W}, false).squeeze(1);
        }
        if (e.set_area_to_bounds) {
          auto bounds = std::get<0>(m.abs().max(0));  // [H, W]
          auto nz = at::nonzero(bounds > 0).cpu();
          if (nz.size(0) == 0) {
            p.area = CondArea{8, 8, 0, 0};
          } else {
            auto mn = std::get<0>(nz.min(0)), mx = std::get<0>(nz.max(0));
            int64_t y0 = mn[0].item<int64_t>(), x0 = mn[1].item<int64_t>();
            int64_t y1 = mx[0].item<int64_t>(), x1 = mx[1].item<int64_t>();
            p.area = CondArea{std::max<int64_t>(8, y1 - y0 + 1), std::max<int64_t>(8, x1 - x0 + 1), y0, x0};
          }
        }
        p.mask = m;
      }
      // calculate_start_end_timesteps
      if (e.start_percent) p.ts_start = float(model_->sampling->percent_to_sigma(*e.start_percent));
      if (e.end_percent) p.ts_end = float(model_->sampling->percent_to_sigma(*e.end_percent));
      if (auto it = e.extra.find("control"); it != e.extra.end() && it->second.is_object())
        p.control = it->second.as<ControlNet>();
      if (auto it = e.extra.find("control_apply_to_uncond"); it != e.extra.end() && it->second.is_bool())
        p.control_apply_to_uncond = it->second.as_bool();
      prep_->lists[k].push_back(std::move(p));
    }
  }
  // Every area cond gets a counterpart with the same area in the other list
  // (create_cond_with_same_area_if_none).
  for (int k = 0; k < kCondKinds; ++k) {
    for (size_t ci = 0; ci < prep_->lists[k].size(); ++ci) {
     for (int kk = 0; kk < kCondKinds; ++kk) {
      if (kk == k) continue;
      const PCond c = prep_->lists[k][ci];
      if (!c.area) continue;
      auto& other = prep_->lists[kk];
      if (!src[kk]) continue;
      const PCond* smallest = nullptr;
      for (const auto& x : other) {
        if (x.area) {
          if (area_inside(*c.area, *x.area)) {
            if (!smallest || !smallest->area ||
                smallest->area->height * smallest->area->width > x.area->height * x.area->width)
              smallest = &x;
          }
        } else if (!smallest) {
          smallest = &x;
        }
      }
      if (!smallest) continue;
      if (smallest->area && smallest->area->height == c.area->height && smallest->area->width == c.area->width &&
          smallest->area->y == c.area->y && smallest->area->x == c.area->x)
        continue;
      PCond out = c;
      out.cross_attn = smallest->cross_attn;
      out.y = smallest->y;
      out.c_concat = smallest->c_concat;
      other.push_back(std::move(out));
     }
    }
  }
  // pre_run_control, then the old ControlNetApply's copy onto the negative.
  for (auto& list : prep_->lists)
    for (auto& c : list)
      if (c.control) c.control->pre_run(model_->sampling);
  for (int k = 1; k < kCondKinds; ++k)
    if (src[k]) copy_control_to_uncond(prep_->lists[0], prep_->lists[k]);
}

void CFGGuider::set_inpaint(at::Tensor denoise_mask, at::Tensor latent, at::Tensor noise) {
  mask_ = std::move(denoise_mask);
  if (mask_.defined()) latent_mask_ = 1. - mask_;
  latent_ = std::move(latent);
  inpaint_noise_ = std::move(noise);
}

std::vector<at::Tensor> CFGGuider::calc_cond_batch(const at::Tensor& x, float sigma, bool with_uncond) {
  return calc_cond_batch(x, sigma, {true, with_uncond, false});
}

std::vector<at::Tensor> CFGGuider::calc_cond_batch(const at::Tensor& x, float sigma, std::array<bool, kCondKinds> active) {
  const int64_t B = x.size(0);
  const int64_t H = x.size(2), W = x.size(3);
  std::vector<Item> to_run;
  for (int k = 0; k < kCondKinds; ++k) {
    if (!active[size_t(k)]) continue;
    for (const auto& c : prep_->lists[k]) {
      if (c.ts_start && sigma > *c.ts_start) continue;
      if (c.ts_end && sigma < *c.ts_end) continue;
      Item it;
      it.k = k;
      it.input_x = x;
      std::optional<CondArea> area = c.area;
      if (area) {
        area->height = std::min(H - area->y, area->height);
        it.input_x = it.input_x.narrow(2, area->y, area->height);
        area->width = std::min(W - area->x, area->width);
        it.input_x = it.input_x.narrow(3, area->x, area->width);
      }
      if (c.mask) {
        auto m = c.mask->slice(0, 0, it.input_x.size(0));
        if (area) m = m.narrow(1, area->y, area->height).narrow(2, area->x, area->width);
        m = m * c.mask_strength;
        m = m.unsqueeze(1).repeat({it.input_x.size(0) / m.size(0), it.input_x.size(1), 1, 1});
        it.mult = m * c.strength;
      } else if (area || c.strength != 1.0) {
        it.mult = at::ones_like(it.input_x) * c.strength;
        if (area) {
          const int rr = 8;
          int64_t off[2] = {area->y, area->x}, len[2] = {area->height, area->width}, full[2] = {H, W};
          for (int d = 0; d < 2; ++d) {
            if (off[d] != 0)
              for (int t = 0; t < rr; ++t) it.mult.narrow(d + 2, t, 1).mul_((1.0 / rr) * (t + 1));
            if (len[d] + off[d] < full[d])
              for (int t = 0; t < rr; ++t) it.mult.narrow(d + 2, len[d] - 1 - t, 1).mul_((1.0 / rr) * (t + 1));
          }
        }
      }
      it.area = area;
      it.c_crossattn = repeat_to_batch(c.cross_attn, B);
      if (c.y) it.y = repeat_to_batch(*c.y, B);
      it.control = c.control;
      if (c.c_concat) {  // CONDNoiseShape: the area of the full-size tensor
        auto cc = *c.c_concat;
        if (area) cc = cc.narrow(2, area->y, area->height).narrow(3, area->x, area->width);
        it.c_concat = repeat_to_batch(cc, B);
      }
      to_run.push_back(std::move(it));
    }
  }

  at::Tensor out[kCondKinds], count[kCondKinds];
  int n_items[kCondKinds] = {0, 0, 0};
  bool plain[kCondKinds] = {true, true, true};
  for (auto& it : to_run) {
    n_items[it.k]++;
    if (it.mult.defined() || it.area) plain[it.k] = false;
  }
  // A list with exactly one plain entry yields that output unchanged (0 + o*1) / (1e-37 + 1) == o.
  bool fast[kCondKinds];
  for (int k = 0; k < kCondKinds; ++k) fast[k] = n_items[k] == 1 && plain[k];
  for (int k = 0; k < kCondKinds; ++k)
    if (!fast[k] && active[size_t(k)]) {
      out[k] = at::zeros_like(x);
      count[k] = at::ones_like(x) * 1e-37;
    }

  while (!to_run.empty()) {
    // Everything concatenable with the first queued item, in reverse queue order.
    std::vector<size_t> idx;
    for (size_t i = 0; i < to_run.size(); ++i)
      if (can_concat(to_run[0], to_run[i])) idx.push_back(i);
    std::reverse(idx.begin(), idx.end());
    std::vector<Item> batch;
    for (size_t i : idx) {
      batch.push_back(std::move(to_run[i]));
      to_run.erase(to_run.begin() + int64_t(i));
    }
    const int64_t n = int64_t(batch.size());
    std::vector<at::Tensor> xs, cs, ys, ccs;
    int64_t max_len = batch[0].c_crossattn.size(1);
    for (auto& it : batch) max_len = std::lcm(max_len, it.c_crossattn.size(1));
    for (auto& it : batch) {
      xs.push_back(it.input_x);
      auto c = it.c_crossattn;
      if (c.size(1) < max_len) c = c.repeat({1, max_len / c.size(1), 1});
      cs.push_back(c);
      if (it.y) ys.push_back(*it.y);
      if (it.c_concat) ccs.push_back(*it.c_concat);
    }
    ModelConds conds;
    conds.c_crossattn = n == 1 ? cs[0] : at::cat(cs);
    if (!ys.empty()) conds.y = n == 1 ? ys[0] : at::cat(ys);
    if (!ccs.empty()) conds.c_concat = n == 1 ? ccs[0] : at::cat(ccs);
    auto input = n == 1 ? xs[0] : at::cat(xs);
    if (batch[0].control) conds.control = batch[0].control->get_control(input, sigma, conds, n);
    auto output = model_->apply_model(input, sigma, conds);
    ++model_calls_;
    auto chunks = output.chunk(n);
    for (int64_t o = 0; o < n; ++o) {
      auto& it = batch[size_t(o)];
      if (fast[it.k]) {
        out[it.k] = chunks[o];
        continue;
      }
      auto oc = out[it.k], ct = count[it.k];
      if (it.area) {
        oc = oc.narrow(2, it.area->y, it.area->height).narrow(3, it.area->x, it.area->width);
        ct = ct.narrow(2, it.area->y, it.area->height).narrow(3, it.area->x, it.area->width);
      }
      auto mult = it.mult.defined() ? it.mult : at::ones_like(it.input_x);
      oc.add_(chunks[o] * mult);
      ct.add_(mult);
    }
  }
  std::vector<at::Tensor> res(kCondKinds);
  for (int k = 0; k < kCondKinds; ++k) {
    if (fast[k]) res[size_t(k)] = out[k];
    else if (out[k].defined()) res[size_t(k)] = out[k].div_(count[k]);
  }
  return res;
}

// DualCFGGuider.predict_noise (nodes-control-upscale.md 3.5): P, M, N = cond1, cond2, negative.
at::Tensor CFGGuider::dual_guided(const at::Tensor& x, float sigma) {
  const auto& d = *dual_;
  auto isclose = [](double a, double b) { return std::fabs(a - b) <= 1e-9 * std::max(std::fabs(a), std::fabs(b)); };
  auto cfg = [](const at::Tensor& cond, const at::Tensor& uncond, double s) { return uncond + (cond - uncond) * s; };
  auto zero_if_none = [&](const at::Tensor& t) { return t.defined() ? t : at::zeros_like(x); };
  if (d.nested) {
    auto o = calc_cond_batch(x, sigma, {true, negative_ != nullptr, middle_ != nullptr});
    const auto P = zero_if_none(o[0]), N = zero_if_none(o[1]), M = zero_if_none(o[2]);
    auto pred_text = cfg(P, M, d.cfg1);
    return N + (pred_text - N) * d.cfg2;
  }
  bool use_neg = negative_ != nullptr, use_mid = middle_ != nullptr;
  if (isclose(d.cfg2, 1.0)) {
    use_neg = false;
    if (isclose(d.cfg1, 1.0)) use_mid = false;
  }
  auto o = calc_cond_batch(x, sigma, {true, use_neg, use_mid});
  const auto P = zero_if_none(o[0]), N = use_neg ? zero_if_none(o[1]) : at::zeros_like(x),
             M = use_mid ? zero_if_none(o[2]) : at::zeros_like(x);
  return cfg(M, N, d.cfg2) + (P - M) * d.cfg1;
}

at::Tensor CFGGuider::guided(const at::Tensor& x, float sigma) {
  if (!prep_) throw Error("execution_error", "CFGGuider used before prepare()");
  if (dual_) return dual_guided(x, sigma);
  const bool skip_uncond = std::fabs(cfg_ - 1.0) <= 1e-9 * std::max(std::fabs(cfg_), 1.0) && !capture_uncond_;
  const bool has_neg = negative_ != nullptr;
  auto outs = calc_cond_batch(x, sigma, has_neg && !skip_uncond);
  const auto& C = outs[0];
  if (capture_uncond_) last_uncond_ = has_neg ? outs[1] : at::zeros_like(x);
  // Without an uncond pass U == 0, so U + (C - U) * cfg is C * cfg (C itself at cfg 1).
  if (!has_neg || skip_uncond) return cfg_ == 1.0 ? C : C * cfg_;
  const auto& U = outs[1];
  return fused::cfg_combine(C, U, float(cfg_));  // U + (C - U) * cfg
}

at::Tensor CFGGuider::operator()(const at::Tensor& x_in, float sigma) {
  if (!mask_.defined()) return guided(x_in, sigma);
  auto x = x_in * mask_ + (inpaint_noise_ * sigma + latent_) * latent_mask_;
  auto r = guided(x, sigma);
  return r * mask_ + latent_ * latent_mask_;
}

}  // namespace comfy
