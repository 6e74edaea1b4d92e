#include "comfy/io/contact_sheet.hpp"

#include <ATen/ATen.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include <array>
#include <cstring>
#include <map>

#include "comfy/core/error.hpp"
#include "comfy/io/files.hpp"
#include "comfy/io/safetensors.hpp"

namespace comfy::io {

namespace {

// 5x7 glyphs, one byte per row, bit 4 = leftmost pixel.
const std::map<char, std::array<uint8_t, 7>>& font() {
  static const std::map<char, std::array<uint8_t, 7>> f = {
      {'0', {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}}, {'1', {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E}},
      {'2', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}}, {'3', {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E}},
      {'4', {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}}, {'5', {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E}},
      {'6', {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}}, {'7', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}},
      {'8', {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}}, {'9', {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C}},
      {'.', {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C}}, {'-', {0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00}},
      {'=', {0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00}}, {':', {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00}},
      {'+', {0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00}}, {'#', {0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A}},
      {' ', {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}}, {'/', {0x01, 0x01, 0x02, 0x04, 0x08, 0x10, 0x10}},
      {'a', {0x00, 0x00, 0x0E, 0x01, 0x0F, 0x11, 0x0F}}, {'b', {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1E}},
      {'c', {0x00, 0x00, 0x0E, 0x10, 0x10, 0x11, 0x0E}}, {'d', {0x01, 0x01, 0x0D, 0x13, 0x11, 0x11, 0x0F}},
      {'e', {0x00, 0x00, 0x0E, 0x11, 0x1F, 0x10, 0x0E}}, {'f', {0x06, 0x09, 0x08, 0x1C, 0x08, 0x08, 0x08}},
      {'g', {0x00, 0x0F, 0x11, 0x11, 0x0F, 0x01, 0x0E}}, {'h', {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11}},
      {'i', {0x04, 0x00, 0x0C, 0x04, 0x04, 0x04, 0x0E}}, {'l', {0x0C, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E}},
      {'m', {0x00, 0x00, 0x1A, 0x15, 0x15, 0x11, 0x11}}, {'n', {0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11}},
      {'o', {0x00, 0x00, 0x0E, 0x11, 0x11, 0x11, 0x0E}}, {'p', {0x00, 0x00, 0x1E, 0x11, 0x1E, 0x10, 0x10}},
      {'r', {0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10}}, {'s', {0x00, 0x00, 0x0E, 0x10, 0x0E, 0x01, 0x1E}},
      {'t', {0x08, 0x08, 0x1C, 0x08, 0x08, 0x09, 0x06}}, {'x', {0x00, 0x00, 0x11, 0x0A, 0x04, 0x0A, 0x11}},
  };
  return f;
}

constexpr int64_t kGlyphW = 5, kGlyphH = 7, kAdvance = 6;

std::vector<int64_t> int_list(const c10::IValue& v) {
  std::vector<int64_t> out;
  if (v.isTensor()) {
    auto t = v.toTensor().to(at::kLong).flatten();
    for (int64_t i = 0; i < t.numel(); ++i) out.push_back(t[i].item<int64_t>());
  } else if (v.isIntList()) {
    for (auto x : v.toIntVector()) out.push_back(x);
  } else if (v.isList()) {
    for (const auto& x : v.toListRef()) out.push_back(x.isInt() ? x.toInt() : int64_t(x.toDouble()));
  }
  return out;
}
std::vector<double> double_list(const c10::IValue& v) {
  std::vector<double> out;
  if (v.isTensor()) {
    auto t = v.toTensor().to(at::kDouble).flatten();
    for (int64_t i = 0; i < t.numel(); ++i) out.push_back(t[i].item<double>());
  } else if (v.isDoubleList()) {
    for (auto x : v.toDoubleVector()) out.push_back(x);
  } else if (v.isList()) {
    for (const auto& x : v.toListRef()) out.push_back(x.isDouble() ? x.toDouble() : double(x.toInt()));
  }
  return out;
}

}  // namespace

ProgressFile load_progress_file(const std::filesystem::path& path) {
  const std::string bytes = read_file(path);
  ProgressFile pf;
  if (bytes.size() >= 8 && bytes.compare(0, 2, "PK") != 0 && static_cast<unsigned char>(bytes[0]) != 0x80) {
    // not a pickle: a safetensors file (.latent)
    auto st = SafeTensors::from_bytes(bytes, path.string());
    if (st->contains("latent_tensor")) {
      pf.samples = st->get("latent_tensor").to(at::kFloat).clone();
      if (!st->contains("latent_format_version_0")) pf.samples = pf.samples * (1.0f / 0.18215f);
    } else if (st->names().size() == 1) {
      pf.samples = st->get(st->names()[0]).to(at::kFloat).clone();
    } else {
      throw Error("invalid_input", path.string() + ": no latent_tensor in this safetensors file");
    }
    return pf;
  }
  c10::IValue v;
  try {
    v = torch::jit::pickle_load(std::vector<char>(bytes.begin(), bytes.end()));
  } catch (const std::exception& e) {
    throw Error("invalid_input", "cannot read " + path.string() + " as a pickled progress dump: " + e.what());
  }
  if (v.isTensor()) {
    pf.samples = v.toTensor().to(at::kFloat);
    return pf;
  }
  if (!v.isGenericDict()) throw Error("invalid_input", path.string() + ": expected a dict with 'samples'");
  for (const auto& kv : v.toGenericDict()) {
    if (!kv.key().isString()) continue;
    const std::string k = kv.key().toStringRef();
    const auto& val = kv.value();
    if (k == "samples" && val.isTensor()) pf.samples = val.toTensor().to(at::kFloat);
    else if (k == "steps") pf.steps = int_list(val);
    else if (k == "sigmas") pf.sigmas = double_list(val);
    else if (k == "node_id" && val.isString()) pf.node_id = val.toStringRef();
  }
  if (!pf.samples.defined()) throw Error("invalid_input", path.string() + ": the dict has no 'samples' tensor");
  return pf;
}

at::Tensor sd15_latent_to_rgb(const at::Tensor& latent) {
  auto factors = at::tensor({0.3512f, 0.2297f, 0.3227f, 0.3250f, 0.4974f, 0.2350f, -0.2829f, 0.1762f, 0.2721f,
                             -0.2120f, -0.2616f, -0.7177f})
                     .view({4, 3});
  auto z = latent.to(at::kCPU, at::kFloat).mul(0.18215f).movedim(1, -1);  // [N, h, w, 4]
  return at::matmul(z, factors).add(1).div(2).clamp(0, 1);
}

int64_t text_width(const std::string& text, int64_t scale) {
  return text.empty() ? 0 : (int64_t(text.size()) * kAdvance - 1) * scale;
}

void draw_text(at::Tensor& image, const std::string& text, int64_t x, int64_t y, int64_t scale, float value) {
  const int64_t H = image.size(0), W = image.size(1);
  auto acc = image.accessor<float, 3>();
  for (size_t i = 0; i < text.size(); ++i) {
    const char ch = char(std::tolower(static_cast<unsigned char>(text[i])));
    auto it = font().find(ch);
    std::array<uint8_t, 7> rows = it != font().end() ? it->second
                                                     : std::array<uint8_t, 7>{0x1F, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1F};
    const int64_t gx = x + int64_t(i) * kAdvance * scale;
    for (int64_t r = 0; r < kGlyphH; ++r)
      for (int64_t c = 0; c < kGlyphW; ++c) {
        if (!(rows[size_t(r)] & (0x10 >> c))) continue;
        for (int64_t dy = 0; dy < scale; ++dy)
          for (int64_t dx = 0; dx < scale; ++dx) {
            const int64_t py = y + r * scale + dy, px = gx + c * scale + dx;
            if (py < 0 || px < 0 || py >= H || px >= W) continue;
            for (int k = 0; k < 3; ++k) acc[py][px][k] = value;
          }
      }
  }
}

at::Tensor contact_sheet(const at::Tensor& images, int64_t rows, const std::vector<std::vector<std::string>>& labels) {
  if (images.dim() != 4 || images.size(3) != 3) throw Error("invalid_input", "contact sheet needs images [N, H, W, 3]");
  const int64_t n = images.size(0), H = images.size(1), W = images.size(2);
  rows = std::max<int64_t>(1, std::min(rows, n));
  const int64_t cols = (n + rows - 1) / rows;
  const int64_t scale = W >= 160 ? 2 : 1, pad = 4;
  size_t lines = 0;
  for (const auto& l : labels) lines = std::max(lines, l.size());
  const int64_t label_h = int64_t(lines) * (kGlyphH + 3) * scale;
  const int64_t cell_w = W + pad, cell_h = H + label_h + pad;
  auto sheet = at::full({rows * cell_h + pad, cols * cell_w + pad, 3}, 0.12f);
  auto imgs = images.to(at::kCPU, at::kFloat).clamp(0, 1);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t r = i % rows, c = i / rows;
    const int64_t y0 = pad + r * cell_h, x0 = pad + c * cell_w;
    sheet.narrow(0, y0 + label_h, H).narrow(1, x0, W).copy_(imgs[i]);
    if (size_t(i) < labels.size())
      for (size_t k = 0; k < labels[size_t(i)].size(); ++k)
        draw_text(sheet, labels[size_t(i)][k], x0, y0 + int64_t(k) * (kGlyphH + 3) * scale, scale, 0.92f);
  }
  return sheet;
}

}  // namespace comfy::io
