// Text chunks of a PNG (ComfyUI's `prompt` / `workflow` metadata), read with libpng.
#include <png.h>

#include <csetjmp>
#include <cstring>
#include <string>
#include <vector>

#include "comfy/core/error.hpp"
#include "comfy/graph/workflow.hpp"

namespace comfy {

namespace {

struct MemReader {
  const unsigned char* data;
  size_t size;
  size_t pos;
};

void read_fn(png_structp png, png_bytep out, png_size_t n) {
  auto* r = static_cast<MemReader*>(png_get_io_ptr(png));
  if (n > r->size - r->pos) png_error(png, "unexpected end of PNG data");
  std::memcpy(out, r->data + r->pos, n);
  r->pos += n;
}

struct RawText {
  std::string key, text;
  bool is_itxt = false;
};

struct PngResult {
  std::vector<RawText> texts;
  char error[256] = {0};
};

void error_fn(png_structp png, png_const_charp msg) {
  auto* res = static_cast<PngResult*>(png_get_error_ptr(png));
  std::strncpy(res->error, msg ? msg : "libpng error", sizeof(res->error) - 1);
  png_longjmp(png, 1);
}
void warning_fn(png_structp, png_const_charp) {}

void collect(png_structp png, png_infop info, PngResult& res) {
  png_textp text = nullptr;
  int n = 0;
  png_get_text(png, info, &text, &n);
  for (int i = 0; i < n; ++i) {
    RawText t;
    t.key = text[i].key ? text[i].key : "";
    size_t len = text[i].compression >= PNG_ITXT_COMPRESSION_NONE ? text[i].itxt_length : text[i].text_length;
    if (text[i].text) t.text.assign(text[i].text, len);
    t.is_itxt = text[i].compression >= PNG_ITXT_COMPRESSION_NONE;
    res.texts.push_back(std::move(t));
  }
}

// Everything libpng touches lives in `res` / `rows` (constructed before setjmp), so a longjmp from an
// error skips no destructor.
bool read_png(const std::string_view bytes, PngResult& res, std::vector<std::vector<unsigned char>>& rows) {
  MemReader reader{reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), 0};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &res, error_fn, warning_fn);
  if (!png) return false;
  png_infop info = png_create_info_struct(png);
  png_infop end_info = png_create_info_struct(png);
  if (!info || !end_info) {
    png_destroy_read_struct(&png, &info, &end_info);
    return false;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, &end_info);
    return false;
  }
  png_set_read_fn(png, &reader, read_fn);
  png_set_chunk_malloc_max(png, 256u << 20);  // a zTXt bomb stops here
  png_set_user_limits(png, 1u << 15, 1u << 15);
  png_read_info(png, info);
  collect(png, info, res);
  bool have = false;
  for (auto& t : res.texts) have |= (t.key == "prompt" || t.key == "workflow");
  if (!have) {
    // Text after the image data: decode the rows (needed to reach the trailing chunks).
    png_uint_32 h = png_get_image_height(png, info);
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    rows.assign(1, std::vector<unsigned char>(rowbytes));
    for (int p = 0; p < passes; ++p)
      for (png_uint_32 y = 0; y < h; ++y) png_read_row(png, rows[0].data(), nullptr);
    png_read_end(png, end_info);
    collect(png, end_info, res);
  }
  png_destroy_read_struct(&png, &info, &end_info);
  return true;
}

bool valid_utf8(const std::string& s) {
  size_t i = 0, n = s.size();
  while (i < n) {
    unsigned char c = s[i];
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (!len || i + len > n) return false;
    for (int k = 1; k < len; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += len;
  }
  return true;
}

std::string latin1_to_utf8(const std::string& s) {
  std::string o;
  for (unsigned char c : s) {
    if (c < 0x80) o += char(c);
    else {
      o += char(0xC0 | (c >> 6));
      o += char(0x80 | (c & 0x3F));
    }
  }
  return o;
}

}  // namespace

bool looks_like_png(std::string_view bytes) {
  return bytes.size() >= 8 && std::memcmp(bytes.data(), "\x89PNG\r\n\x1a\n", 8) == 0;
}

std::map<std::string, std::string> read_png_text_chunks(std::string_view bytes) {
  if (!looks_like_png(bytes)) throw Error("invalid_prompt", "not a PNG file (bad signature)");
  PngResult res;
  std::vector<std::vector<unsigned char>> rows;
  if (!read_png(bytes, res, rows))
    throw Error("invalid_prompt", std::string("unreadable PNG: ") + (res.error[0] ? res.error : "libpng failed"));
  std::map<std::string, std::string> out;
  for (auto& t : res.texts) {
    // tEXt is Latin-1 by the standard, but browser exporters write UTF-8 bytes.
    std::string v = (t.is_itxt || valid_utf8(t.text)) ? t.text : latin1_to_utf8(t.text);
    out.emplace(t.key, std::move(v));  // first chunk of a keyword wins
  }
  return out;
}

}  // namespace comfy
