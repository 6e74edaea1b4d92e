#include "comfy/models/model.hpp"

#include <ATen/ATen.h>

namespace comfy {

namespace {
// The network on an already scaled input: conds in the net's dtype, output back in float32.
at::Tensor net_output(const Model& m, at::Tensor xc, const at::Tensor& t, const ModelConds& conds) {
  ModelConds c = conds;
  c.c_crossattn = conds.c_crossattn.to(m.dtype);
  if (c.y) c.y = c.y->to(m.dtype);
  // BaseModel._apply_model: xc = cat([calculate_input(sigma, x), c_concat], dim=1)
  if (c.c_concat) return m.net->forward(at::cat({xc, c.c_concat->to(xc.device(), xc.scalar_type())}, 1).to(m.dtype), t, c).to(at::kFloat);
  return m.net->forward(xc.to(m.dtype), t, c).to(at::kFloat);
}
}  // namespace

at::Tensor Model::apply_model(const at::Tensor& x, const at::Tensor& sigma, const ModelConds& conds) const {
  auto out = net_output(*this, sampling->calculate_input(sigma, x), sampling->timestep(sigma).to(at::kFloat), conds);
  return sampling->calculate_denoised(sigma, out, x);
}

at::Tensor Model::apply_model(const at::Tensor& x, float sigma, const ModelConds& conds) const {
  auto t = at::full({x.size(0)}, sampling->timestep_value(sigma), x.options().dtype(at::kFloat));
  auto out = net_output(*this, sampling->calculate_input(sigma, x), t, conds);
  return sampling->calculate_denoised(sigma, out, x);
}

}  // namespace comfy
