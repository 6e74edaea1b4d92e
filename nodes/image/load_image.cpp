// LoadImage — "Load Image" (workflow-nodes-files.md 9.19, 11.6)
#include <ATen/ATen.h>

#include <algorithm>
#include <filesystem>

#include "comfy/core/node.hpp"
#include "comfy/io/files.hpp"
#include "comfy/io/image.hpp"
#include "comfy/io/hash.hpp"

namespace fs = std::filesystem;

namespace comfy {

namespace {

bool has_image_extension(const fs::path& p) {
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  static const char* exts[] = {".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".webp", ".gif", ".bmp", ".tif", ".tiff"};
  return std::any_of(std::begin(exts), std::end(exts), [&](const char* x) { return e == x; });
}

// "name [output]" -> output dir / name (§11.6); the plain name lives in the input dir. Never leaves the dir.
std::optional<fs::path> resolve_annotated(const std::string& name, const RuntimeConfig& cfg) {
  std::string n = name;
  fs::path root = cfg.input_dir;
  auto strip = [&](const std::string& tag, const fs::path& dir) {
    if (n.size() > tag.size() && n.compare(n.size() - tag.size(), tag.size(), tag) == 0) {
      n.resize(n.size() - tag.size());
      root = dir;
      return true;
    }
    return false;
  };
  const fs::path temp = cfg.temp_dir.empty() ? (cfg.output_dir.parent_path().empty() ? fs::path("temp")
                                                                                     : cfg.output_dir.parent_path() / "temp")
                                             : cfg.temp_dir;
  strip(" [input]", cfg.input_dir) || strip(" [output]", cfg.output_dir) || strip(" [temp]", temp);
  try {
    auto p = io::safe_join(root, n, "image");
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) return p;
  } catch (const Error&) {
  }
  return std::nullopt;
}

std::vector<std::string> list_input_images(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file(ec) && has_image_extension(e.path())) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

void register_load_image(Registry& r) {
  NodeSchema s("LoadImage");
  s.display("Load Image").cat("image")
      .combo_fn("image", ComboListFn([](const RuntimeConfig& cfg) { return list_input_images(cfg.input_dir); }));
  s.last().image_upload = true;
  s.output("IMAGE").output("MASK");
  NodeDef def{s, [](const NodeInputs& in, ExecContext& ctx) {
                const std::string& name = in.str("image");
                auto path = resolve_annotated(name, ctx.cfg());
                if (!path) fail("image", "Invalid image file: " + name);
                io::DecodedImage img;
                try {
                  img = io::decode_image(io::read_file(*path), name);
                } catch (Error& e) {
                  e.at_input("image");
                  throw;
                }
                auto image = img.rgb.unsqueeze(0);  // [1, H, W, 3]
                at::Tensor mask = img.alpha ? (1.0f - *img.alpha).unsqueeze(0) : at::zeros({1, 64, 64});
                return NodeOutput{{Value(image), Value(mask)}};
              }};
  def.validate = [](const std::string&, const Value& v, const RuntimeConfig& cfg) -> std::string {
    if (!v.is_string() || !resolve_annotated(v.as_string(), cfg)) return "Invalid image file: " + (v.is_string() ? v.as_string() : v.kind());
    return "";
  };
  def.validate_inputs = {"image"};
  def.is_changed = [](const NodeInputs& in, const RuntimeConfig& cfg) -> std::string {
    auto path = resolve_annotated(in.str("image"), cfg);
    return path ? io::sha256_hex(io::read_file(*path)) : std::string();
  };
  r.add(std::move(def));
}

}  // namespace comfy
