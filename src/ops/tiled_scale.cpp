// comfy.utils.tiled_scale_multidim for two spatial dims (nodes-control-upscale.md 2.6).
#include "comfy/ops/tiled_scale.hpp"

#include <ATen/ATen.h>

#include <algorithm>
#include <vector>

#include "comfy/ops/upscale.hpp"

namespace comfy {

namespace {
// Tile start positions along one dim: [0] if it fits, else Python's range(0, S - O, T - O).
std::vector<int64_t> positions(int64_t S, int64_t T, int64_t O) {
  if (S <= T) return {0};
  std::vector<int64_t> p;
  const int64_t step = std::max<int64_t>(1, T - O);
  for (int64_t v = 0; v < S - O; v += step) p.push_back(v);
  return p;
}

// ones_like(ps) with linear ramps (t+1)/F on both ends of each spatial dim, F = round(O*s).
at::Tensor feather_mask(const at::Tensor& ps, int64_t overlap, double s) {
  auto mask = at::ones_like(ps);
  const int64_t F = python_round(double(overlap) * s);
  for (int64_t d = 2; d < 4; ++d) {
    const int64_t n = mask.size(d);
    if (F >= n) continue;
    for (int64_t t = 0; t < F; ++t) {
      const double a = double(t + 1) / double(F);
      mask.narrow(d, t, 1).mul_(a);
      mask.narrow(d, n - 1 - t, 1).mul_(a);
    }
  }
  return mask;
}
}  // namespace

at::Tensor tiled_scale(const at::Tensor& samples, const std::function<at::Tensor(const at::Tensor&)>& f,
                       int64_t tile_x, int64_t tile_y, int64_t overlap, double s, int64_t out_channels) {
  const int64_t B = samples.size(0), H = samples.size(2), W = samples.size(3);
  const int64_t OH = python_round(double(H) * s), OW = python_round(double(W) * s);
  auto output = at::empty({B, out_channels, OH, OW}, samples.options().dtype(at::kFloat));
  for (int64_t b = 0; b < B; ++b) {
    auto item = samples.narrow(0, b, 1);  // [1, C, H, W]
    if (H <= tile_y && W <= tile_x) {
      output.narrow(0, b, 1).copy_(f(item));
      continue;
    }
    auto out = at::zeros({1, out_channels, OH, OW}, output.options());
    auto div = at::zeros({1, out_channels, OH, OW}, output.options());
    for (int64_t py : positions(H, tile_y, overlap)) {
      for (int64_t px : positions(W, tile_x, overlap)) {
        const int64_t y0 = std::max<int64_t>(0, std::min(H - overlap, py));
        const int64_t x0 = std::max<int64_t>(0, std::min(W - overlap, px));
        const int64_t lh = std::min(tile_y, H - y0), lw = std::min(tile_x, W - x0);
        auto ps = f(item.narrow(2, y0, lh).narrow(3, x0, lw)).to(at::kFloat);  // [1, oc, lh*s, lw*s]
        auto mask = feather_mask(ps, overlap, s);
        const int64_t oy = python_round(double(y0) * s), ox = python_round(double(x0) * s);
        out.narrow(2, oy, ps.size(2)).narrow(3, ox, ps.size(3)).add_(ps * mask);
        div.narrow(2, oy, ps.size(2)).narrow(3, ox, ps.size(3)).add_(mask);
      }
    }
    output.narrow(0, b, 1).copy_(out / div);
  }
  return output;
}

}  // namespace comfy
