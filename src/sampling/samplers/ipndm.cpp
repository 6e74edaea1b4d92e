// ipndm, ipndm_v (sampling-samplers.md X7.1, X7.2). The callback gets the sampler's initial x every
// step (reference quirk, kept).
#include <deque>

#include "common.hpp"

namespace comfy {
namespace samplers {
namespace {

void push(std::deque<at::Tensor>& buf, const at::Tensor& d) {
  buf.push_back(d);
  if (buf.size() > 3) buf.pop_front();
}

at::Tensor sample_ipndm(SamplerRun& r) {
  const auto& s = r.sigmas;
  auto xc = r.x;
  std::deque<at::Tensor> buf;  // newest at the back
  for (int64_t i = 0; i < steps(r); ++i) {
    const size_t k = size_t(i);
    const float t_cur = s[k], t_next = s[k + 1];
    auto denoised = (*r.model)(xc, t_cur);
    callback(r, i, r.x, denoised);
    auto d = (xc - denoised) / t_cur;
    const int order = int(std::min<int64_t>(4, i + 1));
    const float dt = t_next - t_cur;
    const size_t n = buf.size();
    if (t_next == 0.0f) xc = denoised;
    else if (order == 1) xc = xc + d * dt;
    else if (order == 2) xc = xc + (d * 3 - buf[n - 1]) * dt / 2;
    else if (order == 3) xc = xc + (d * 23 - buf[n - 1] * 16 + buf[n - 2] * 5) * dt / 12;
    else xc = xc + (d * 55 - buf[n - 1] * 59 + buf[n - 2] * 37 - buf[n - 3] * 9) * dt / 24;
    push(buf, d);
  }
  return xc;
}

at::Tensor sample_ipndm_v(SamplerRun& r) {
  const auto& s = r.sigmas;
  auto xc = r.x;
  std::deque<at::Tensor> buf;
  for (int64_t i = 0; i < steps(r); ++i) {
    const size_t k = size_t(i);
    const float t_cur = s[k], t_next = s[k + 1];
    auto denoised = (*r.model)(xc, t_cur);
    callback(r, i, r.x, denoised);
    auto d = (xc - denoised) / t_cur;
    const int order = int(std::min<int64_t>(4, i + 1));
    const size_t n = buf.size();
    const float h0 = t_next - t_cur;
    if (t_next == 0.0f) {
      xc = denoised;
    } else if (order == 1) {
      xc = xc + d * h0;
    } else if (order == 2) {
      const float h1 = t_cur - s[k - 1];
      const float c1 = (2 + (h0 / h1)) / 2;
      const float c2 = -(h0 / h1) / 2;
      xc = xc + (d * c1 + buf[n - 1] * c2) * h0;
    } else if (order == 3) {
      const float h1 = t_cur - s[k - 1], h2 = s[k - 1] - s[k - 2];
      const float T = (1 - h0 / (3 * (h0 + h1)) * (h0 * (h0 + h1)) / (h1 * (h1 + h2))) / 2;
      const float c1 = (2 + (h0 / h1)) / 2 + T;
      const float c2 = -(h0 / h1) / 2 - (1 + h1 / h2) * T;
      const float c3 = T * h1 / h2;
      xc = xc + (d * c1 + buf[n - 1] * c2 + buf[n - 2] * c3) * h0;
    } else {
      const float h1 = t_cur - s[k - 1], h2 = s[k - 1] - s[k - 2], h3 = s[k - 2] - s[k - 3];
      const float T1 = (1 - h0 / (3 * (h0 + h1)) * (h0 * (h0 + h1)) / (h1 * (h1 + h2))) / 2;
      const float T2 = ((1 - h0 / (3 * (h0 + h1))) / 2 + (1 - h0 / (2 * (h0 + h1))) * h0 / (6 * (h0 + h1 + h2))) *
                       (h0 * (h0 + h1) * (h0 + h1 + h2)) / (h1 * (h1 + h2) * (h1 + h2 + h3));
      const float Q = (h1 * (h1 + h2) / (h2 * (h2 + h3)));
      const float c1 = (2 + (h0 / h1)) / 2 + T1 + T2;
      const float c2 = -(h0 / h1) / 2 - (1 + h1 / h2) * T1 - (1 + (h1 / h2) + Q) * T2;
      const float c3 = T1 * h1 / h2 + ((h1 / h2) + Q * (1 + h2 / h3)) * T2;
      const float c4 = -T2 * Q * h1 / h2;
      xc = xc + (d * c1 + buf[n - 1] * c2 + buf[n - 2] * c3 + buf[n - 3] * c4) * h0;
    }
    push(buf, d);
  }
  return xc;
}

}  // namespace
}  // namespace samplers

void register_ipndm_samplers(SamplerRegistry& reg) {
  reg.add({"ipndm", samplers::sample_ipndm});
  reg.add({"ipndm_v", samplers::sample_ipndm_v});
}

}  // namespace comfy
