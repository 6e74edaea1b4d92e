// AutoencoderKL (comfy/ldm/modules/diffusionmodules/model.py Encoder/Decoder, comfy/sd.py VAE framing).
#include "comfy/models/vae.hpp"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <spdlog/spdlog.h>

#include "comfy/core/error.hpp"
#include "comfy/io/safetensors.hpp"
#include "models/blocks.hpp"

namespace comfy {

using namespace blocks;

namespace {

struct ResnetBlock {
  GroupNorm norm1, norm2;
  Conv2d conv1, conv2, nin_shortcut;
  bool has_shortcut = false;
  ResnetBlock(WeightSource& w, const std::string& p, int64_t in, int64_t out)
      : norm1(w, p + "norm1.", in, 1e-6),
        norm2(w, p + "norm2.", out, 1e-6),
        conv1(w, p + "conv1.", in, out, 3),
        conv2(w, p + "conv2.", out, out, 3),
        has_shortcut(in != out) {
    if (has_shortcut) nin_shortcut = Conv2d(w, p + "nin_shortcut.", in, out, 1);
  }
  at::Tensor forward(const at::Tensor& x) const {
    auto h = conv1(at::silu(norm1(x)));  // [B, out, H, W]
    h = conv2(at::silu(norm2(h)));
    return (has_shortcut ? nin_shortcut(x) : x) + h;
  }
};

struct AttnBlock {  // single-head attention over H*W positions with 1x1 conv projections
  GroupNorm norm;
  Conv2d q, k, v, proj_out;
  AttnBlock(WeightSource& w, const std::string& p, int64_t c)
      : norm(w, p + "norm.", c, 1e-6),
        q(w, p + "q.", c, c, 1),
        k(w, p + "k.", c, c, 1),
        v(w, p + "v.", c, c, 1),
        proj_out(w, p + "proj_out.", c, c, 1) {}
  at::Tensor forward(const at::Tensor& x) const {
    const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
    auto h = norm(x);
    auto tok = [&](const at::Tensor& t) { return t.reshape({B, C, H * W}).transpose(1, 2); };  // [B, HW, C]
    auto o = attention(tok(q(h)), tok(k(h)), tok(v(h)), 1);                               // [B, HW, C]
    return x + proj_out(o.transpose(1, 2).reshape({B, C, H, W}));
  }
};

struct Level {
  std::vector<ResnetBlock> block;
  std::vector<AttnBlock> attn;
  bool has_resample = false;
  Conv2d resample;  // downsample (stride 2, pad 0 after right/bottom zero pad) or upsample conv
};

}  // namespace

struct AutoencoderKL::Impl {
  // encoder
  Conv2d enc_conv_in, enc_conv_out;
  std::vector<Level> down;
  std::unique_ptr<ResnetBlock> enc_mid_1, enc_mid_2, dec_mid_1, dec_mid_2;
  std::unique_ptr<AttnBlock> enc_mid_attn, dec_mid_attn;
  GroupNorm enc_norm_out, dec_norm_out;
  Conv2d quant_conv, post_quant_conv;
  // decoder
  Conv2d dec_conv_in, dec_conv_out;
  std::vector<Level> up;  // indexed by level (0 = full resolution)
};

VaeConfig VaeConfig::detect(const TensorMap& m) {
  auto shape = [&](const std::string& k) -> at::IntArrayRef {
    auto it = m.find(k);
    if (it == m.end()) throw Error("execution_error", "cannot read the VAE config: missing key '" + k + "'");
    return it->second.sizes();
  };
  auto has = [&](const std::string& k) { return m.count(k) != 0; };
  VaeConfig c;
  c.ch = shape("encoder.conv_in.weight")[0];
  c.in_channels = shape("encoder.conv_in.weight")[1];
  c.out_ch = shape("decoder.conv_out.weight")[0];
  c.z_channels = shape("decoder.conv_in.weight")[1];
  c.embed_dim = shape("post_quant_conv.weight")[0];
  c.double_z = shape("encoder.conv_out.weight")[0] == 2 * c.z_channels;
  c.ch_mult.clear();
  for (int64_t i = 0; has("encoder.down." + std::to_string(i) + ".block.0.conv1.weight"); ++i) {
    c.ch_mult.push_back(shape("encoder.down." + std::to_string(i) + ".block.0.conv1.weight")[0] / c.ch);
    c.attn_levels.push_back(has("encoder.down." + std::to_string(i) + ".attn.0.q.weight"));
  }
  if (c.ch_mult.empty()) throw Error("execution_error", "cannot read the VAE config: no encoder.down.0 blocks");
  c.num_res_blocks = 0;
  while (has("encoder.down.0.block." + std::to_string(c.num_res_blocks) + ".conv1.weight")) ++c.num_res_blocks;
  return c;
}

AutoencoderKL::~AutoencoderKL() = default;

AutoencoderKL::AutoencoderKL(const VaeConfig& c, WeightSource& w) : cfg_(c), impl_(std::make_unique<Impl>()) {
  auto& I = *impl_;
  const size_t L = c.ch_mult.size();
  auto attn_at = [&](size_t level) { return level < c.attn_levels.size() && c.attn_levels[level]; };
  // Encoder
  I.enc_conv_in = Conv2d(w, "encoder.conv_in.", c.in_channels, c.ch, 3);
  int64_t block_in = c.ch;
  for (size_t i = 0; i < L; ++i) {
    Level lv;
    const int64_t block_out = c.ch * c.ch_mult[i];
    const std::string p = "encoder.down." + std::to_string(i) + ".";
    for (int64_t j = 0; j < c.num_res_blocks; ++j) {
      lv.block.emplace_back(w, p + "block." + std::to_string(j) + ".", block_in, block_out);
      block_in = block_out;
      if (attn_at(i)) lv.attn.emplace_back(w, p + "attn." + std::to_string(j) + ".", block_in);
    }
    if (i + 1 != L) {
      lv.has_resample = true;
      lv.resample = Conv2d(w, p + "downsample.conv.", block_in, block_in, 3, 2, 0);
    }
    I.down.push_back(std::move(lv));
  }
  I.enc_mid_1 = std::make_unique<ResnetBlock>(w, "encoder.mid.block_1.", block_in, block_in);
  I.enc_mid_attn = std::make_unique<AttnBlock>(w, "encoder.mid.attn_1.", block_in);
  I.enc_mid_2 = std::make_unique<ResnetBlock>(w, "encoder.mid.block_2.", block_in, block_in);
  I.enc_norm_out = GroupNorm(w, "encoder.norm_out.", block_in, 1e-6);
  I.enc_conv_out = Conv2d(w, "encoder.conv_out.", block_in, c.double_z ? 2 * c.z_channels : c.z_channels, 3);
  I.quant_conv = Conv2d(w, "quant_conv.", 2 * c.z_channels, 2 * c.embed_dim, 1);
  I.post_quant_conv = Conv2d(w, "post_quant_conv.", c.embed_dim, c.z_channels, 1);
  // Decoder
  block_in = c.ch * c.ch_mult.back();
  I.dec_conv_in = Conv2d(w, "decoder.conv_in.", c.z_channels, block_in, 3);
  I.dec_mid_1 = std::make_unique<ResnetBlock>(w, "decoder.mid.block_1.", block_in, block_in);
  I.dec_mid_attn = std::make_unique<AttnBlock>(w, "decoder.mid.attn_1.", block_in);
  I.dec_mid_2 = std::make_unique<ResnetBlock>(w, "decoder.mid.block_2.", block_in, block_in);
  I.up.resize(L);
  for (size_t i = L; i-- > 0;) {
    Level& lv = I.up[i];
    const int64_t block_out = c.ch * c.ch_mult[i];
    const std::string p = "decoder.up." + std::to_string(i) + ".";
    for (int64_t j = 0; j <= c.num_res_blocks; ++j) {
      lv.block.emplace_back(w, p + "block." + std::to_string(j) + ".", block_in, block_out);
      block_in = block_out;
      if (attn_at(i)) lv.attn.emplace_back(w, p + "attn." + std::to_string(j) + ".", block_in);
    }
    if (i != 0) {
      lv.has_resample = true;
      lv.resample = Conv2d(w, p + "upsample.conv.", block_in, block_in, 3);
    }
  }
  I.dec_norm_out = GroupNorm(w, "decoder.norm_out.", block_in, 1e-6);
  I.dec_conv_out = Conv2d(w, "decoder.conv_out.", block_in, c.out_ch, 3);

  weights_ = w.taken();
  if (!weights_.empty()) {
    device_ = weights_.begin()->second.device();
    dtype_ = weights_.begin()->second.scalar_type();
  }
}

at::Tensor AutoencoderKL::encode_moments(const at::Tensor& x) const {
  const auto& I = *impl_;
  auto h = I.enc_conv_in(x);  // [B, ch, H, W]
  for (const auto& lv : I.down) {
    for (size_t j = 0; j < lv.block.size(); ++j) {
      h = lv.block[j].forward(h);
      if (!lv.attn.empty()) h = lv.attn[j].forward(h);
    }
    if (lv.has_resample) h = lv.resample(at::constant_pad_nd(h, {0, 1, 0, 1}, 0));  // [B, C, H/2, W/2]
  }
  h = I.enc_mid_2->forward(I.enc_mid_attn->forward(I.enc_mid_1->forward(h)));
  h = I.enc_conv_out(at::silu(I.enc_norm_out(h)));  // [B, 2z, h, w]
  return I.quant_conv(h);                           // [B, 2*embed, h, w]
}

at::Tensor AutoencoderKL::decode_raw(const at::Tensor& z) const {
  const auto& I = *impl_;
  auto h = I.dec_conv_in(I.post_quant_conv(z));  // [B, C, h, w]
  h = I.dec_mid_2->forward(I.dec_mid_attn->forward(I.dec_mid_1->forward(h)));
  for (size_t i = I.up.size(); i-- > 0;) {
    const auto& lv = I.up[i];
    for (size_t j = 0; j < lv.block.size(); ++j) {
      h = lv.block[j].forward(h);
      if (!lv.attn.empty()) h = lv.attn[j].forward(h);
    }
    if (lv.has_resample) h = lv.resample(at::upsample_nearest2d(h, {h.size(2) * 2, h.size(3) * 2}));  // x2
  }
  return I.dec_conv_out(at::silu(I.dec_norm_out(h)));  // [B, 3, H, W]
}

namespace {
bool is_oom(const c10::Error& e) {
  if (dynamic_cast<const c10::OutOfMemoryError*>(&e)) return true;
  return std::string(e.what()).find("out of memory") != std::string::npos;
}
at::Tensor to_image(const at::Tensor& raw) {  // [B,3,H,W] -> IMAGE [B,H,W,3] 0..1 f32 CPU
  return at::clamp((raw.to(at::kFloat).to(at::kCPU) + 1.0) / 2.0, 0.0, 1.0).movedim(1, -1).contiguous();
}
}  // namespace

at::Tensor AutoencoderKL::decode(const at::Tensor& latent) {
  try {
    if (simulate_oom) throw c10::OutOfMemoryError({__func__, __FILE__, uint32_t(__LINE__)}, "CUDA out of memory (simulated)");
    return to_image(decode_raw(latent.to(device_).to(dtype_)));
  } catch (const c10::Error& e) {
    if (!is_oom(e)) throw;
    spdlog::warn("Ran out of memory when regular VAE decoding, retrying with tiled VAE decoding.");
    return decode_tiled(latent, 64, 64, 16);
  }
}

at::Tensor AutoencoderKL::decode_tiled(const at::Tensor& latent, int64_t tile_x, int64_t tile_y, int64_t overlap) {
  // ComfyUI decode_tiled_: the average of three tilings (wide, tall, square), then the output scaling.
  auto fn = [&](const at::Tensor& z) { return decode_raw(z.to(device_).to(dtype_)).to(at::kFloat); };
  const int64_t f = cfg_.factor();
  auto a = tiled_scale(latent, fn, tile_x / 2, tile_y * 2, overlap, f, cfg_.out_ch);
  auto b = tiled_scale(latent, fn, tile_x * 2, tile_y / 2, overlap, f, cfg_.out_ch);
  auto c = tiled_scale(latent, fn, tile_x, tile_y, overlap, f, cfg_.out_ch);
  return to_image((a + b + c) / 3.0);
}

at::Tensor AutoencoderKL::encode(const at::Tensor& image) {
  // comfy.sd.VAE.encode: centre-crop to multiples of the downscale ratio, keep 3 channels, 2x-1.
  auto px = image;
  const int64_t r = downscale();
  const int64_t H = (px.size(1) / r) * r, W = (px.size(2) / r) * r;
  if (H != px.size(1) || W != px.size(2)) {
    const int64_t oy = (px.size(1) % r) / 2, ox = (px.size(2) % r) / 2;
    px = px.slice(1, oy, oy + H).slice(2, ox, ox + W);
  }
  px = px.slice(3, 0, 3).movedim(-1, 1).to(device_).to(dtype_);  // [B, 3, H, W]
  auto moments = encode_moments(px * 2.0 - 1.0);                  // [B, 2*embed, h, w]
  return moments.slice(1, 0, cfg_.embed_dim).to(at::kFloat).to(at::kCPU).contiguous();  // the posterior mean
}

at::Tensor tiled_scale(const at::Tensor& samples, const std::function<at::Tensor(const at::Tensor&)>& fn,
                       int64_t tile_x, int64_t tile_y, int64_t overlap, int64_t upscale, int64_t out_channels) {
  const int64_t B = samples.size(0), h = samples.size(2), w = samples.size(3);
  const int64_t tile[2] = {tile_y, tile_x};
  auto output = at::empty({B, out_channels, h * upscale, w * upscale}, at::kFloat);
  for (int64_t b = 0; b < B; ++b) {
    auto s = samples.slice(0, b, b + 1);
    if (h <= tile[0] && w <= tile[1]) {
      output.slice(0, b, b + 1).copy_(fn(s).to(at::kCPU));
      continue;
    }
    auto out = at::zeros({1, out_channels, h * upscale, w * upscale}, at::kFloat);
    auto out_div = at::zeros_like(out);
    std::vector<int64_t> positions[2];
    for (int d = 0; d < 2; ++d) {
      const int64_t size = s.size(d + 2);
      if (size > tile[d]) {
        const int64_t step = std::max<int64_t>(1, tile[d] - overlap);
        for (int64_t p = 0; p < size - overlap; p += step) positions[d].push_back(p);
      }
      if (positions[d].empty()) positions[d].push_back(0);
    }
    for (int64_t py : positions[0]) {
      for (int64_t px : positions[1]) {
        int64_t pos[2] = {py, px}, up[2], len[2];
        auto s_in = s;
        for (int d = 0; d < 2; ++d) {
          const int64_t size = s.size(d + 2);
          pos[d] = std::max<int64_t>(0, std::min(size - overlap, pos[d]));
          len[d] = std::min(tile[d], size - pos[d]);
          s_in = s_in.narrow(d + 2, pos[d], len[d]);
          up[d] = pos[d] * upscale;
        }
        auto ps = fn(s_in).to(at::kCPU);  // [1, out, len_y*f, len_x*f]
        auto mask = at::ones_like(ps);
        const int64_t feather = overlap * upscale;
        for (int d = 2; d < 4; ++d) {
          if (feather >= mask.size(d)) continue;
          for (int64_t t = 0; t < feather; ++t) {
            const double a = double(t + 1) / double(feather);
            mask.narrow(d, t, 1).mul_(a);
            mask.narrow(d, mask.size(d) - 1 - t, 1).mul_(a);
          }
        }
        auto o = out.narrow(2, up[0], mask.size(2)).narrow(3, up[1], mask.size(3));
        auto od = out_div.narrow(2, up[0], mask.size(2)).narrow(3, up[1], mask.size(3));
        o.add_(ps * mask);
        od.add_(mask);
      }
    }
    output.slice(0, b, b + 1).copy_(out / out_div);
  }
  return output;
}

std::shared_ptr<Vae> load_vae(std::shared_ptr<io::SafeTensors> st, const std::string& prefix, const RuntimeConfig& cfg) {
  return load_vae(tensors_under(*st, prefix), st->path().filename().string(), cfg);
}

std::shared_ptr<Vae> load_vae(const TensorMap& tensors, const std::string& file, const RuntimeConfig& cfg) {
  const std::string what = "VAE in " + file;
  if (tensors.count("encoder.down_blocks.0.resnets.0.conv1.weight"))
    throw Error("execution_error", what + " uses the diffusers key layout, which is not supported yet");
  auto vcfg = VaeConfig::detect(tensors);
  // ComfyUI keeps the VAE in fp32 on the CPU and in bf16 on CUDA; an explicit --dtype float32 wins.
  c10::ScalarType dt = at::kFloat;
  if (cfg.device.is_cuda() && !(cfg.dtype && *cfg.dtype == at::kFloat)) dt = at::kBFloat16;
  MapWeights w(tensors, cfg.device, dt, what);
  auto net = std::make_shared<AutoencoderKL>(vcfg, w);
  auto unused = w.unused();
  if (!unused.empty()) spdlog::warn("{}: {} unexpected key(s) ignored, first '{}'", what, unused.size(), unused.front());
  auto vae = std::make_shared<Vae>();
  vae->net = net;
  return vae;
}

}  // namespace comfy
