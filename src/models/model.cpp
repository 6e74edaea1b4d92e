#include "comfy/models/model.hpp"

#include <ATen/ATen.h>

namespace comfy {

at::Tensor Model::apply_model(const at::Tensor& x, const at::Tensor& sigma, const ModelConds& conds) const {
  auto xc = sampling->calculate_input(sigma, x).to(dtype);
  auto t = sampling->timestep(sigma).to(at::kFloat);
  ModelConds c = conds;
  c.c_crossattn = conds.c_crossattn.to(dtype);
  if (c.y) c.y = c.y->to(dtype);
  auto out = net->forward(xc, t, c);
  return sampling->calculate_denoised(sigma, out.to(at::kFloat), x);
}

at::Tensor Model::apply_model(const at::Tensor& x, float sigma, const ModelConds& conds) const {
  auto xc = sampling->calculate_input(sigma, x).to(dtype);
  auto t = at::full({x.size(0)}, sampling->timestep_value(sigma), x.options().dtype(at::kFloat));
  ModelConds c = conds;
  c.c_crossattn = conds.c_crossattn.to(dtype);
  if (c.y) c.y = c.y->to(dtype);
  auto out = net->forward(xc, t, c);
  return sampling->calculate_denoised(sigma, out.to(at::kFloat), x);
}

}  // namespace comfy
