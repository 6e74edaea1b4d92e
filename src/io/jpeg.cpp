#include "comfy/io/jpeg.hpp"

#include <ATen/ATen.h>
#include <jpeglib.h>

#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "comfy/core/error.hpp"

namespace comfy::io {

namespace {

struct JpegErr {
  jpeg_error_mgr mgr;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};
void on_error(j_common_ptr cinfo) {
  auto* e = reinterpret_cast<JpegErr*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, e->message);
  std::longjmp(e->jump, 1);
}
void on_message(j_common_ptr) {}

// EXIF orientation (tag 0x0112) from an APP1 "Exif\0\0" payload; 1 when absent or unreadable.
int exif_orientation(const unsigned char* d, size_t n) {
  if (n < 14 || std::memcmp(d, "Exif\0\0", 6) != 0) return 1;
  const unsigned char* t = d + 6;
  const size_t tn = n - 6;
  const bool le = t[0] == 'I' && t[1] == 'I';
  if (!le && !(t[0] == 'M' && t[1] == 'M')) return 1;
  auto u16 = [&](size_t o) -> uint32_t { return le ? t[o] | (t[o + 1] << 8) : (t[o] << 8) | t[o + 1]; };
  auto u32 = [&](size_t o) -> uint32_t {
    return le ? uint32_t(t[o]) | (uint32_t(t[o + 1]) << 8) | (uint32_t(t[o + 2]) << 16) | (uint32_t(t[o + 3]) << 24)
              : (uint32_t(t[o]) << 24) | (uint32_t(t[o + 1]) << 16) | (uint32_t(t[o + 2]) << 8) | uint32_t(t[o + 3]);
  };
  const size_t ifd = u32(4);
  if (ifd + 2 > tn) return 1;
  const uint32_t count = u16(ifd);
  for (uint32_t i = 0; i < count; ++i) {
    const size_t e = ifd + 2 + size_t(i) * 12;
    if (e + 12 > tn) return 1;
    if (u16(e) == 0x0112) {
      const uint32_t v = u16(e + 8);
      return v >= 1 && v <= 8 ? int(v) : 1;
    }
  }
  return 1;
}

// PIL's ImageOps.exif_transpose on [H, W, C].
at::Tensor apply_orientation(const at::Tensor& x, int o) {
  switch (o) {
    case 2: return x.flip({1});
    case 3: return x.flip({0, 1});
    case 4: return x.flip({0});
    case 5: return x.permute({1, 0, 2});
    case 6: return at::rot90(x, -1, {0, 1});
    case 7: return x.permute({1, 0, 2}).flip({0, 1});
    case 8: return at::rot90(x, 1, {0, 1});
    default: return x;
  }
}

// Runs libjpeg under setjmp; only trivially destructible locals. False with err.message on failure.
bool decode_raw(const std::string& bytes, JpegErr& err, std::vector<unsigned char>& pixels, int& w, int& h,
                int& orientation, uint64_t max_pixels) {
  jpeg_decompress_struct cinfo;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = on_error;
  err.mgr.output_message = on_message;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<unsigned long>(bytes.size()));
  jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xFFFF);
  jpeg_read_header(&cinfo, TRUE);
  if (const uint64_t n = uint64_t(cinfo.image_width) * cinfo.image_height; n > max_pixels) {
    std::snprintf(err.message, sizeof err.message, "%s", decompression_bomb_message(n, max_pixels).c_str());
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  orientation = 1;
  for (auto* m = cinfo.marker_list; m; m = m->next)
    if (m->marker == JPEG_APP0 + 1) orientation = exif_orientation(m->data, m->data_length);
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
    std::snprintf(err.message, sizeof err.message, "CMYK JPEGs are not supported");
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  cinfo.out_color_space = JCS_RGB;
  jpeg_start_decompress(&cinfo);
  w = int(cinfo.output_width);
  h = int(cinfo.output_height);
  if (cinfo.output_components != 3 || w <= 0 || h <= 0 || w > 65535 || h > 65535) {
    std::snprintf(err.message, sizeof err.message, "unexpected JPEG layout");
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  pixels.resize(size_t(w) * size_t(h) * 3);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = pixels.data() + size_t(cinfo.output_scanline) * size_t(w) * 3;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return true;
}

}  // namespace

DecodedImage decode_jpeg(const std::string& bytes, const std::string& name, uint64_t max_pixels) {
  JpegErr err{};
  std::vector<unsigned char> pixels;
  int w = 0, h = 0, orientation = 1;
  if (!decode_raw(bytes, err, pixels, w, h, orientation, max_pixels))
    throw Error("invalid_image", "cannot read JPEG " + name + ": " + err.message);
  auto u8 = at::from_blob(pixels.data(), {h, w, 3}, at::kByte);
  DecodedImage out;
  out.rgb = apply_orientation(u8.to(at::kFloat).div_(255.0f), orientation).contiguous();
  return out;
}

std::string encode_jpeg(const at::Tensor& rgb_u8, int quality) {
  at::Tensor img = rgb_u8.to(at::kByte).contiguous();
  if (img.dim() != 3 || img.size(2) != 3) throw Error("execution_error", "encode_jpeg: expected an [H, W, 3] image");
  jpeg_compress_struct cinfo;
  JpegErr err;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = on_error;
  err.mgr.output_message = on_message;
  unsigned char* out = nullptr;
  unsigned long out_size = 0;
  if (setjmp(err.jump)) {
    jpeg_destroy_compress(&cinfo);
    std::free(out);
    throw Error("execution_error", std::string("JPEG encoding failed: ") + err.message);
  }
  jpeg_create_compress(&cinfo);
  jpeg_mem_dest(&cinfo, &out, &out_size);
  cinfo.image_width = JDIMENSION(img.size(1));
  cinfo.image_height = JDIMENSION(img.size(0));
  cinfo.input_components = 3;
  cinfo.in_color_space = JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  const uint8_t* base = img.data_ptr<uint8_t>();
  const size_t stride = size_t(img.size(1)) * 3;
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(base + size_t(cinfo.next_scanline) * stride);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  std::string bytes(reinterpret_cast<const char*>(out), out_size);
  std::free(out);
  return bytes;
}

}  // namespace comfy::io
