// `comfy-native preview FILE.pt|FILE.latent -o sheet.png [--vae builtin:shapes|FILE] [--batch N]`:
// a contact sheet of a progress latent — one row per batch item, one column per captured step, each
// picture labelled with its step and sigma. Latents are decoded with the given VAE, or else with
// ComfyUI's linear latent-to-RGB preview for SD1.x.
#include <ATen/ATen.h>
#include <cxxopts.hpp>

#include <cstdio>
#include <iostream>

#include "cli/commands.hpp"
#include "comfy/core/error.hpp"
#include "comfy/io/contact_sheet.hpp"
#include "comfy/io/files.hpp"
#include "comfy/io/png.hpp"
#include "comfy/io/safetensors.hpp"
#include "comfy/models/builtin_shapes.hpp"
#include "comfy/models/vae.hpp"

namespace comfy::cli {

namespace {

struct PreviewOptions {
  std::string input;
  std::string output = "preview.png";
  std::string vae;          // "" = linear SD1.x preview
  int64_t batch = 0;        // 0 = from the file (frames = len(steps)), else 1
  int64_t max_cell = 256;   // pictures larger than this are scaled down to fit
  bool overwrite = false;
};

std::shared_ptr<Vae> open_vae(const std::string& spec) {
  if (spec == kBuiltinShapesName) return builtin_shapes_vae();
  auto st = io::SafeTensors::open(spec);
  // a full checkpoint keeps its VAE under first_stage_model.; a VAE file has it at the top level
  for (const auto& n : st->names())
    if (n.rfind("first_stage_model.", 0) == 0) return load_vae(st, "first_stage_model.", RuntimeConfig{});
  return load_vae(st, "", RuntimeConfig{});
}

std::string format_sigma(double s) {
  if (s == 0) return "0";
  char b[32];
  std::snprintf(b, sizeof b, s >= 10 ? "%.2f" : s >= 0.01 ? "%.3f" : "%.2e", s);
  return b;
}

}  // namespace

int cmd_preview(int argc, char** argv) {
  PreviewOptions o;
  cxxopts::Options opts("comfy-native preview", "Contact sheet of a progress latent (.pt from --dump-progress, or .latent)");
  opts.add_options()
      ("file", "progress dump (.pt) or latent file (.latent)", cxxopts::value(o.input))
      ("o,output", "PNG to write", cxxopts::value(o.output)->default_value(o.output))
      ("vae", "decode with this VAE: builtin:shapes, a VAE file or a checkpoint (default: SD1.x linear preview)",
       cxxopts::value(o.vae))
      ("batch", "batch size of the sampled latent (rows); default: from the dump's steps", cxxopts::value(o.batch))
      ("max-cell", "largest picture side in the sheet, in pixels", cxxopts::value(o.max_cell)->default_value("256"))
      ("overwrite", "replace an existing output file", cxxopts::value(o.overwrite))
      ("h,help", "show this help");
  opts.parse_positional({"file"});
  opts.positional_help("FILE");
  cxxopts::ParseResult args;
  try {
    args = opts.parse(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "preview: " << e.what() << "\n" << opts.help();
    return 2;
  }
  if (args.count("help")) {
    std::cout << opts.help();
    return 0;
  }
  if (!args.unmatched().empty()) {
    std::cerr << "preview: unexpected argument '" << args.unmatched()[0] << "'\n";
    return 2;
  }
  if (o.input.empty()) {
    std::cerr << "preview: no input file\n" << opts.help();
    return 2;
  }

  auto pf = io::load_progress_file(o.input);
  if (pf.samples.dim() != 4) throw Error("invalid_input", o.input + ": samples must be [N, C, h, w]");
  const int64_t n = pf.samples.size(0);
  const int64_t frames_known = int64_t(!pf.steps.empty() ? pf.steps.size() : pf.sigmas.size());
  int64_t batch = o.batch > 0 ? o.batch : (frames_known > 0 && n % frames_known == 0 ? n / frames_known : 1);
  if (n % batch != 0) throw Error("invalid_input", "--batch " + std::to_string(batch) + " does not divide " +
                                                        std::to_string(n) + " latents");
  const int64_t frames = n / batch;
  // `sigmas` may be the whole schedule rather than one per frame: pick each frame's step then
  if (!pf.steps.empty() && int64_t(pf.sigmas.size()) != frames) {
    std::vector<double> per_frame;
    for (auto s : pf.steps)
      if (s >= 0 && s < int64_t(pf.sigmas.size())) per_frame.push_back(pf.sigmas[size_t(s)]);
    pf.sigmas = per_frame.size() == pf.steps.size() ? per_frame : std::vector<double>{};
  }

  at::Tensor images;
  if (o.vae.empty()) {
    if (pf.samples.size(1) != 4) throw Error("invalid_input", "the linear preview needs 4-channel latents; pass --vae");
    images = io::sd15_latent_to_rgb(pf.samples);  // one pixel per latent pixel: blow up 8x
    images = at::upsample_nearest2d(images.permute({0, 3, 1, 2}), {images.size(1) * 8, images.size(2) * 8},
                                    c10::nullopt, c10::nullopt)
                 .permute({0, 2, 3, 1});
  } else {
    auto vae = open_vae(o.vae);
    std::vector<at::Tensor> parts;
    for (int64_t i = 0; i < n; ++i) parts.push_back(vae->net->decode(pf.samples.narrow(0, i, 1)));
    images = at::cat(parts);
  }
  const int64_t side = std::max(images.size(1), images.size(2));
  if (side > o.max_cell) {
    const double f = double(o.max_cell) / double(side);
    const int64_t h = std::max<int64_t>(1, int64_t(images.size(1) * f)), w = std::max<int64_t>(1, int64_t(images.size(2) * f));
    images = at::adaptive_avg_pool2d(images.permute({0, 3, 1, 2}), {h, w}).permute({0, 2, 3, 1});
  }
  images = images.contiguous();

  std::vector<std::vector<std::string>> labels(static_cast<size_t>(n));
  for (int64_t f = 0; f < frames; ++f)
    for (int64_t b = 0; b < batch; ++b) {
      auto& l = labels[size_t(f * batch + b)];
      l.push_back(f < int64_t(pf.steps.size()) ? "step " + std::to_string(pf.steps[size_t(f)])
                                               : "#" + std::to_string(f));
      if (f < int64_t(pf.sigmas.size())) l.push_back("sigma " + format_sigma(pf.sigmas[size_t(f)]));
      if (batch > 1 && f == 0) l.back() += "  b" + std::to_string(b);
    }
  auto sheet = io::contact_sheet(images, batch, labels);
  io::write_file_atomic(o.output, io::encode_png(sheet), o.overwrite);
  std::cout << "wrote " << o.output << " (" << batch << " row" << (batch == 1 ? "" : "s") << " x " << frames
            << " step" << (frames == 1 ? "" : "s") << ", " << sheet.size(1) << "x" << sheet.size(0) << ")\n";
  return 0;
}

}  // namespace comfy::cli
