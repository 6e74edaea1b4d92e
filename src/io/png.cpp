#include "comfy/io/png.hpp"

#include <ATen/ATen.h>
#include <png.h>
#include <zlib.h>

#include <csetjmp>
#include <cstring>

#include "comfy/core/error.hpp"

namespace comfy::io {

namespace {

constexpr unsigned char kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
constexpr uint32_t kMaxDim = 1u << 16;        // PIL / ComfyUI never go near this
constexpr size_t kMaxInflated = 256u << 20;   // a text chunk larger than this is refused

Error png_error(const std::string& name, const std::string& what) {
  return Error("invalid_image", "cannot read PNG " + name + ": " + what);
}

// libpng reports errors through longjmp; the message is kept here so we can throw after the jump.
struct ErrorState {
  char message[256] = {0};
};
void on_error(png_structp png, png_const_charp msg) {
  auto* st = static_cast<ErrorState*>(png_get_error_ptr(png));
  std::snprintf(st->message, sizeof st->message, "%s", msg ? msg : "libpng error");
  png_longjmp(png, 1);
}
void on_warning(png_structp, png_const_charp) {}

struct ReadSource {
  const unsigned char* data;
  size_t size, pos;
};
void read_fn(png_structp png, png_bytep out, png_size_t n) {
  auto* src = static_cast<ReadSource*>(png_get_io_ptr(png));
  if (n > src->size - src->pos) png_error(png, "truncated file");
  std::memcpy(out, src->data + src->pos, n);
  src->pos += n;
}
void write_fn(png_structp png, png_bytep data, png_size_t n) {
  static_cast<std::string*>(png_get_io_ptr(png))->append(reinterpret_cast<const char*>(data), n);
}
void flush_fn(png_structp) {}

bool is_ascii(const std::string& s) {
  for (unsigned char c : s)
    if (c >= 0x80) return false;
  return true;
}

// Inflates a zlib stream (zTXt / compressed iTXt), bounded by kMaxInflated.
std::string inflate_all(const unsigned char* data, size_t n, const std::string& name) {
  z_stream zs{};
  if (inflateInit(&zs) != Z_OK) throw png_error(name, "zlib init failed");
  std::string out;
  zs.next_in = const_cast<unsigned char*>(data);
  zs.avail_in = static_cast<uInt>(n);
  int rc = Z_OK;
  char buf[16384];
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<unsigned char*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&zs);
      throw png_error(name, "damaged compressed text chunk");
    }
    out.append(buf, sizeof buf - zs.avail_out);
    if (out.size() > kMaxInflated) {
      inflateEnd(&zs);
      throw png_error(name, "compressed text chunk too large");
    }
    if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) {
      inflateEnd(&zs);
      throw png_error(name, "truncated compressed text chunk");
    }
  }
  inflateEnd(&zs);
  return out;
}

uint32_t be32(const unsigned char* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

// The part of decoding that runs under setjmp: only trivially destructible locals live here.
// Returns false with `st.message` set on a libpng error.
bool decode_raw(ReadSource& src, ErrorState& st, std::vector<unsigned char>& pixels, uint32_t& w, uint32_t& h,
                int& channels, bool& gray16, uint64_t max_pixels) {
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &st, on_error, on_warning);
  if (!png) {
    std::snprintf(st.message, sizeof st.message, "out of memory");
    return false;
  }
  png_infop info = png_create_info_struct(png);
  png_bytep* volatile rows = nullptr;  // volatile: set after setjmp, freed after a longjmp
  if (!info || setjmp(png_jmpbuf(png))) {
    std::free(rows);
    png_destroy_read_struct(&png, info ? &info : nullptr, nullptr);
    if (!st.message[0]) std::snprintf(st.message, sizeof st.message, "libpng error");
    return false;
  }
  png_set_user_limits(png, kMaxDim, kMaxDim);
  png_set_read_fn(png, &src, read_fn);
  png_read_info(png, info);
  if (const uint64_t n = uint64_t(png_get_image_width(png, info)) * png_get_image_height(png, info); n > max_pixels) {
    std::snprintf(st.message, sizeof st.message, "%s", decompression_bomb_message(n, max_pixels).c_str());
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  const int color = png_get_color_type(png, info);
  // PIL opens 16-bit gray as mode "I"; that one keeps its 16-bit samples (see decode_png).
  gray16 = color == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(png, info) == 16 && !png_get_valid(png, info, PNG_INFO_tRNS);
  if (!gray16) {
    png_set_expand(png);  // palette -> RGB, gray < 8 bit -> 8 bit, tRNS -> alpha
    png_set_strip_16(png);
    if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
  }
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  w = png_get_image_width(png, info);
  h = png_get_image_height(png, info);
  channels = png_get_channels(png, info);
  const size_t rowbytes = png_get_rowbytes(png, info);
  if (rowbytes != size_t(w) * size_t(channels) * (gray16 ? 2 : 1)) png_error(png, "unexpected row layout");
  pixels.resize(rowbytes * h);
  rows = static_cast<png_bytep*>(std::malloc(sizeof(png_bytep) * h));
  if (!rows) png_error(png, "out of memory");
  for (uint32_t y = 0; y < h; ++y) rows[y] = pixels.data() + y * rowbytes;
  png_read_image(png, rows);
  png_read_end(png, nullptr);
  std::free(rows);
  png_destroy_read_struct(&png, &info, nullptr);
  return true;
}

bool encode_raw(std::string& out, ErrorState& st, const unsigned char* pixels, uint32_t w, uint32_t h, int channels,
                const PngTextChunks& text, int level) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &st, on_error, on_warning);
  if (!png) return false;
  png_infop info = png_create_info_struct(png);
  png_textp chunks = nullptr;
  if (!info || setjmp(png_jmpbuf(png))) {
    std::free(chunks);
    png_destroy_write_struct(&png, info ? &info : nullptr);
    return false;
  }
  png_set_write_fn(png, &out, write_fn, flush_fn);
  png_set_compression_level(png, level);
  png_set_IHDR(png, info, w, h, 8, channels == 4 ? PNG_COLOR_TYPE_RGBA : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (!text.empty()) {
    chunks = static_cast<png_textp>(std::calloc(text.size(), sizeof(png_text)));
    if (!chunks) png_error(png, "out of memory");
    for (size_t i = 0; i < text.size(); ++i) {
      chunks[i].key = const_cast<char*>(text[i].first.c_str());
      chunks[i].text = const_cast<char*>(text[i].second.c_str());
      if (is_ascii(text[i].second)) {
        chunks[i].compression = PNG_TEXT_COMPRESSION_NONE;
        chunks[i].text_length = text[i].second.size();
      } else {
        chunks[i].compression = PNG_ITXT_COMPRESSION_NONE;
        chunks[i].itxt_length = text[i].second.size();
      }
    }
    png_set_text(png, info, chunks, static_cast<int>(text.size()));
  }
  png_write_info(png, info);
  const size_t rowbytes = size_t(w) * size_t(channels);
  for (uint32_t y = 0; y < h; ++y) png_write_row(png, const_cast<png_bytep>(pixels + y * rowbytes));
  png_write_end(png, info);
  std::free(chunks);
  png_destroy_write_struct(&png, &info);
  return true;
}

}  // namespace

std::string encode_png(const at::Tensor& image, const PngTextChunks& text, int compression_level) {
  if (image.dim() != 3 || (image.size(2) != 3 && image.size(2) != 4))
    throw Error("execution_error", "PNG writer expects an image [H, W, 3|4], got " + std::to_string(image.dim()) +
                                       " dimensions");
  if (image.size(0) < 1 || image.size(1) < 1 || image.size(0) > kMaxDim || image.size(1) > kMaxDim)
    throw Error("execution_error", "PNG writer: image size out of range");
  for (auto& [k, v] : text) {
    if (k.empty() || k.size() > 79 || !is_ascii(k) || k.find('\0') != std::string::npos)
      throw Error("execution_error", "PNG text keyword must be 1-79 ASCII characters: '" + k + "'");
    if (v.find('\0') != std::string::npos) throw Error("execution_error", "PNG text '" + k + "' contains a NUL byte");
  }
  at::Tensor u8 = image.scalar_type() == at::kByte ? image.cpu().contiguous() : image_to_u8(image);
  std::string out;
  ErrorState st;
  if (!encode_raw(out, st, u8.data_ptr<uint8_t>(), uint32_t(u8.size(1)), uint32_t(u8.size(0)), int(u8.size(2)), text,
                  std::max(0, std::min(9, compression_level))))
    throw Error("execution_error", std::string("PNG writer failed: ") + st.message);
  return out;
}

DecodedImage decode_png(const std::string& bytes, const std::string& name, uint64_t max_pixels) {
  if (bytes.size() < 8 || std::memcmp(bytes.data(), kSignature, 8) != 0) throw png_error(name, "not a PNG file");
  ReadSource src{reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), 0};
  ErrorState st;
  std::vector<unsigned char> pixels;
  uint32_t w = 0, h = 0;
  int channels = 0;
  bool gray16 = false;
  if (!decode_raw(src, st, pixels, w, h, channels, gray16, max_pixels)) throw png_error(name, st.message);
  if (gray16) {
    // ComfyUI LoadImage: mode "I" images are scaled by 1/255 (PIL truncates), then clipped to 8 bits.
    std::vector<unsigned char> g(size_t(w) * h * 3);
    for (size_t i = 0; i < size_t(w) * h; ++i) {
      const int v = (pixels[2 * i] << 8) | pixels[2 * i + 1];
      const auto q = static_cast<unsigned char>(std::min(255, static_cast<int>(v * (1.0 / 255.0))));
      g[3 * i] = g[3 * i + 1] = g[3 * i + 2] = q;
    }
    pixels.swap(g);
    channels = 3;
  }
  if (channels != 3 && channels != 4) throw png_error(name, "unsupported channel count " + std::to_string(channels));
  auto u8 = at::from_blob(pixels.data(), {int64_t(h), int64_t(w), channels}, at::kByte);
  auto f = u8.to(at::kFloat).div_(255.0f);
  DecodedImage out;
  out.rgb = f.narrow(2, 0, 3).contiguous();
  if (channels == 4) out.alpha = f.select(2, 3).contiguous();
  return out;
}

PngTextChunks read_png_text(const std::string& bytes, const std::string& name) {
  if (bytes.size() < 8 || std::memcmp(bytes.data(), kSignature, 8) != 0) throw png_error(name, "not a PNG file");
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  PngTextChunks out;
  size_t pos = 8;
  while (pos + 12 <= bytes.size()) {
    const uint32_t len = be32(p + pos);
    const std::string type(reinterpret_cast<const char*>(p + pos + 4), 4);
    if (len > bytes.size() - pos - 12) throw png_error(name, "chunk " + type + " runs past the end of the file");
    const unsigned char* d = p + pos + 8;
    const auto* end = d + len;
    const auto* nul = static_cast<const unsigned char*>(std::memchr(d, 0, len));
    if (type == "tEXt" || type == "zTXt" || type == "iTXt") {
      if (!nul) throw png_error(name, type + " chunk without keyword terminator");
      std::string key(reinterpret_cast<const char*>(d), nul - d);
      const unsigned char* rest = nul + 1;
      if (type == "tEXt") {
        out.emplace_back(key, std::string(reinterpret_cast<const char*>(rest), end - rest));
      } else if (type == "zTXt") {
        if (rest >= end || *rest != 0) throw png_error(name, "zTXt chunk with unknown compression");
        out.emplace_back(key, inflate_all(rest + 1, end - rest - 1, name));
      } else {
        if (end - rest < 2) throw png_error(name, "short iTXt chunk");
        const bool compressed = rest[0] != 0;
        rest += 2;
        for (int skip = 0; skip < 2; ++skip) {  // language tag, translated keyword
          auto* z = static_cast<const unsigned char*>(std::memchr(rest, 0, end - rest));
          if (!z) throw png_error(name, "iTXt chunk without terminators");
          rest = z + 1;
        }
        out.emplace_back(key, compressed ? inflate_all(rest, end - rest, name)
                                         : std::string(reinterpret_cast<const char*>(rest), end - rest));
      }
    }
    pos += size_t(len) + 12;
    if (type == "IEND") break;
  }
  return out;
}

}  // namespace comfy::io
