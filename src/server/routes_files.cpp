// /view, /upload/image, /upload/mask (server spec 3.8). Every path goes through io::safe_join, so
// "..", absolute names, NUL bytes and symlinks never lead outside the input / output / temp folders.
#include <ATen/ATen.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <variant>

#include "comfy/core/error.hpp"
#include "comfy/io/files.hpp"
#include "comfy/io/hash.hpp"
#include "comfy/io/jpeg.hpp"
#include "comfy/io/png.hpp"
#include "server/app.hpp"
#include "server/file_paths.hpp"
#include "server/multipart.hpp"

namespace fs = std::filesystem;

namespace comfy::server {

namespace {

using json = nlohmann::json;

std::string lower_ext(const fs::path& p) {
  std::string e = p.extension().string();
  for (auto& c : e) c = char(std::tolower((unsigned char)c));
  return e;
}

std::string content_type_for(const fs::path& p) {
  static const std::map<std::string, std::string> types = {
      {".png", "image/png"},   {".jpg", "image/jpeg"}, {".jpeg", "image/jpeg"}, {".webp", "image/webp"},
      {".gif", "image/gif"},   {".bmp", "image/bmp"},  {".tif", "image/tiff"},  {".tiff", "image/tiff"},
      {".mp4", "video/mp4"},   {".webm", "video/webm"}, {".json", "application/json"}, {".txt", "text/plain"},
      {".wav", "audio/x-wav"}, {".mp3", "audio/mpeg"}, {".flac", "audio/flac"}};
  auto it = types.find(lower_ext(p));
  return it == types.end() ? "application/octet-stream" : it->second;  // html / js / css never as such
}

at::Tensor to_u8(const at::Tensor& x) { return (x * 255.0f).round().clamp(0, 255).to(at::kByte); }

// A folder by type plus an optional subfolder; nullopt (and `status`) when either is refused.
std::optional<fs::path> folder_for(const RuntimeConfig& cfg, const std::string& type, const std::string* subfolder,
                                   int& status, int escape_status) {
  auto dir = dir_by_type(cfg, type);
  if (!dir) {
    status = 400;
    return std::nullopt;
  }
  if (!subfolder || subfolder->empty()) return *dir;
  try {
    return io::safe_join(*dir, *subfolder, "subfolder");
  } catch (const std::exception&) {
    status = escape_status;
    return std::nullopt;
  }
}

// The existing file a /view-style reference names, or an HTTP status (400 / 403 / 404).
std::variant<fs::path, int> resolve_reference(const RuntimeConfig& cfg, const std::string& filename_in, std::string type,
                                              const std::string* subfolder) {
  auto [filename, annotated] = split_annotation(filename_in);
  if (filename.empty() || filename[0] == '/' || filename.find("..") != std::string::npos ||
      filename.find('\0') != std::string::npos)
    return 400;
  if (!annotated.empty()) type = annotated;
  int status = 0;
  auto dir = folder_for(cfg, type, subfolder, status, 403);
  if (!dir) return status;
  std::string base = fs::path(filename).filename().string();
  if (base.empty()) return 404;
  try {
    fs::path file = io::safe_join(*dir, base, "filename");
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) return 404;
    return file;
  } catch (const std::exception&) {
    return 403;
  }
}

HttpResponse view_converted(const fs::path& file, const std::string& bytes, const std::string& preview, const std::string& channel) {
  io::DecodedImage img = io::decode_image(bytes, file.filename().string());
  at::Tensor rgb = to_u8(img.rgb);
  at::Tensor alpha = img.alpha ? to_u8(*img.alpha) : at::full({rgb.size(0), rgb.size(1)}, 255, at::kByte);
  HttpResponse r;
  if (!preview.empty()) {
    // preview=<fmt>[;<quality>]: comfy-native encodes JPEG only (no WebP encoder), whatever fmt says.
    int quality = 90;
    auto semi = preview.find(';');
    if (semi != std::string::npos) {
      try {
        quality = std::clamp(std::stoi(preview.substr(semi + 1)), 1, 100);
      } catch (const std::exception&) {
      }
    }
    r.body = io::encode_jpeg(rgb, quality);
    r.content_type = "image/jpeg";
  } else if (channel == "rgb") {
    r.body = io::encode_png(rgb);
    r.content_type = "image/png";
  } else {  // "a": black RGB carrying the alpha
    r.body = io::encode_png(at::cat({at::zeros_like(rgb), alpha.unsqueeze(-1)}, -1));
    r.content_type = "image/png";
  }
  return r;
}

HttpResponse view(App& app, HttpRequest& req) {
  if (!req.has_query("filename")) return HttpResponse::empty(404);
  std::string subfolder = req.query_value("subfolder");
  auto res = resolve_reference(app.cfg(), req.query_value("filename"), req.query_value("type", "output"),
                               req.has_query("subfolder") ? &subfolder : nullptr);
  if (std::holds_alternative<int>(res)) return HttpResponse::empty(std::get<int>(res));
  const fs::path file = std::get<fs::path>(res);
  std::string bytes = io::read_file(file);
  std::string preview = req.query_value("preview"), channel = req.query_value("channel", "rgba");
  HttpResponse r;
  if (!preview.empty() || channel == "rgb" || channel == "a") {
    try {
      r = view_converted(file, bytes, preview, channel);
    } catch (const Error&) {
      return HttpResponse::empty(400);  // not an image we can decode
    }
  } else {
    r.body = std::move(bytes);
    r.content_type = content_type_for(file);
  }
  r.headers.emplace_back("Content-Disposition", "filename=\"" + file.filename().string() + "\"");
  return r;
}

// The upload's target name: ComfyUI's "<name> (i).<ext>" until a free or byte-identical file.
struct UploadTarget {
  fs::path path;
  std::string name;
  bool duplicate = false;
};

UploadTarget choose_name(const fs::path& folder, const std::string& filename, const std::string& bytes, bool overwrite) {
  UploadTarget t{folder / filename, filename, false};
  if (overwrite) return t;
  const std::string stem = fs::path(filename).stem().string(), ext = fs::path(filename).extension().string();
  const std::string digest = io::sha256_hex(bytes);
  std::error_code ec;
  for (int i = 1; fs::exists(t.path, ec); ++i) {
    if (fs::is_regular_file(t.path, ec) && io::sha256_file_hex(t.path) == digest) {
      t.duplicate = true;
      break;
    }
    t.name = stem + " (" + std::to_string(i) + ")" + ext;
    t.path = folder / t.name;
  }
  return t;
}

// The mask upload's file: the referenced original as RGBA (text chunks kept), alpha from the upload.
std::variant<std::string, int> compose_mask(const RuntimeConfig& cfg, const std::string& original_ref, const std::string& mask_bytes) {
  json ref = json::parse(original_ref, nullptr, false);
  if (!ref.is_object() || !ref.contains("filename") || !ref["filename"].is_string()) return 400;
  std::string sub = ref.contains("subfolder") && ref["subfolder"].is_string() ? ref["subfolder"].get<std::string>() : "";
  std::string type = ref.contains("type") && ref["type"].is_string() ? ref["type"].get<std::string>() : "output";
  auto res = resolve_reference(cfg, ref["filename"], type, sub.empty() ? nullptr : &sub);
  if (std::holds_alternative<int>(res)) return std::get<int>(res);
  std::string orig = io::read_file(std::get<fs::path>(res));
  try {
    io::DecodedImage o = io::decode_image(orig), m = io::decode_image(mask_bytes);
    if (o.rgb.size(0) != m.rgb.size(0) || o.rgb.size(1) != m.rgb.size(1)) return 400;
    at::Tensor alpha = m.alpha ? to_u8(*m.alpha) : at::full({m.rgb.size(0), m.rgb.size(1)}, 255, at::kByte);
    io::PngTextChunks text;
    if (io::sniff_image_format(orig) == io::ImageFormat::Png) text = io::read_png_text(orig);
    return io::encode_png(at::cat({to_u8(o.rgb), alpha.unsqueeze(-1)}, -1), text, 4);
  } catch (const Error&) {
    return 400;
  }
}

HttpResponse upload(App& app, HttpRequest& req, bool mask) {
  auto form = parse_multipart(req.header("content-type"), req.body);
  if (!form) return HttpResponse::empty(400);
  auto field = [&](const char* name, const std::string& fallback) {
    auto it = form->find(name);
    return it == form->end() ? fallback : it->second.data;
  };
  auto image = form->find("image");
  if (image == form->end() || !image->second.filename || image->second.filename->empty()) return HttpResponse::empty(400);
  const std::string filename = *image->second.filename;
  if (filename.find('/') != std::string::npos || filename.find('\\') != std::string::npos ||
      filename.find('\0') != std::string::npos || filename == "." || filename == "..")
    return HttpResponse::empty(400);
  const std::string type = field("type", "input"), subfolder = field("subfolder", "");
  int status = 0;
  auto folder = folder_for(app.cfg(), type, &subfolder, status, 400);
  if (!folder) return HttpResponse::empty(status);

  std::string bytes = image->second.data;
  if (mask) {
    auto composed = compose_mask(app.cfg(), field("original_ref", ""), bytes);
    if (std::holds_alternative<int>(composed)) return HttpResponse::empty(std::get<int>(composed));
    bytes = std::get<std::string>(composed);
  }
  std::error_code ec;
  fs::create_directories(*folder, ec);
  const std::string ow = field("overwrite", "");
  const bool overwrite = ow == "true" || ow == "1";
  UploadTarget t = choose_name(*folder, filename, bytes, overwrite);
  for (int attempt = 0; !t.duplicate; ++attempt) {
    try {
      io::write_file_atomic(t.path, bytes, overwrite);
      break;
    } catch (const Error&) {  // another upload took the name meanwhile: choose again
      if (attempt >= 100) return HttpResponse::empty(500);
      t = choose_name(*folder, filename, bytes, overwrite);
    }
  }
  nlohmann::ordered_json out;
  out["name"] = t.name;
  out["subfolder"] = subfolder;
  out["type"] = type;
  return HttpResponse::json(out);
}

}  // namespace

void add_file_routes(App& app, Router& r) {
  r.add("GET", "/view", [&app](HttpRequest& req) { return view(app, req); });
  r.add("POST", "/upload/image", [&app](HttpRequest& req) { return upload(app, req, false); });
  r.add("POST", "/upload/mask", [&app](HttpRequest& req) { return upload(app, req, true); });
}

}  // namespace comfy::server
