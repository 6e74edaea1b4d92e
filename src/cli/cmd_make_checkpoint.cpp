// comfy-native make-checkpoint OUT [--family sd15|sdxl|sd2v|inpaint] [--tiny] [--seed N] [--dtype f16|bf16|f32]
#include <cxxopts.hpp>

#include <chrono>
#include <iostream>

#include "cli/commands.hpp"
#include "comfy/models/random_checkpoint.hpp"

namespace comfy::cli {

int cmd_make_checkpoint(int argc, char** argv) {
  cxxopts::Options o("comfy-native make-checkpoint",
                     "Writes a checkpoint with random weights in a real single-file layout (UNet, text encoders, VAE)\n"
                     "for benchmarks; full size is ~2 GB (SD1.5) to ~7 GB (SDXL) in fp16. Never overwrites OUT.");
  RandomCheckpointOptions opt;
  std::string dtype = "f16";
  o.add_options()("family", "layout: sd15, sdxl, sd2v or inpaint",
                  cxxopts::value<std::string>(opt.family)->default_value("sd15"))("tiny", "the tiny test configuration (model_channels 32) instead of full size",
                  cxxopts::value<bool>(opt.tiny))("seed", "random seed", cxxopts::value<uint64_t>(opt.seed)->default_value("0"))(
      "dtype", "weight dtype: f16, bf16 or f32", cxxopts::value<std::string>(dtype)->default_value("f16"))(
      "out", "output .safetensors file", cxxopts::value<std::string>())("h,help", "this help");
  o.parse_positional({"out"});
  o.positional_help("OUT");
  cxxopts::ParseResult r;
  try {
    r = o.parse(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "make-checkpoint: " << e.what() << " (see comfy-native make-checkpoint --help)\n";
    return 2;
  }
  if (r.count("help")) {
    std::cout << o.help() << "\n";
    return 0;
  }
  if (!r.unmatched().empty()) {
    std::cerr << "make-checkpoint: unexpected argument '" << r.unmatched()[0] << "'\n";
    return 2;
  }
  if (!r.count("out")) {
    std::cerr << "make-checkpoint: missing OUT\n" << o.help() << "\n";
    return 2;
  }
  if (dtype == "f16") opt.dtype = c10::kHalf;
  else if (dtype == "bf16") opt.dtype = c10::kBFloat16;
  else if (dtype == "f32") opt.dtype = c10::kFloat;
  else {
    std::cerr << "error: --dtype must be f16, bf16 or f32\n";
    return 2;
  }
  if (opt.family != "sd15" && opt.family != "sdxl" && opt.family != "sd2v" && opt.family != "inpaint") {
    std::cerr << "error: --family must be sd15, sdxl, sd2v or inpaint\n";
    return 2;
  }
  if (opt.tiny && opt.family != "sd15") {
    std::cerr << "error: --tiny exists for --family sd15 only\n";
    return 2;
  }
  auto t0 = std::chrono::steady_clock::now();
  const auto out = r["out"].as<std::string>();
  size_t n = write_random_checkpoint(out, opt);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "wrote " << out << ": " << n << " tensors in " << s << " s\n";
  return 0;
}

}  // namespace comfy::cli
