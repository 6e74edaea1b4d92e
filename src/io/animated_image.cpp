// Animated GIF through giflib and animated WebP through libwebp's animation encoder (see header).
#include "comfy/io/animated_image.hpp"

#include <ATen/ATen.h>
#include <gif_lib.h>
#include <webp/encode.h>
#include <webp/mux.h>

#include <memory>
#include <vector>

#include "comfy/core/error.hpp"

namespace comfy::io {

namespace {

void check_frames(const at::Tensor& frames) {
  if (frames.dim() != 4 || frames.size(3) != 3 || frames.scalar_type() != at::kByte || frames.size(0) < 1)
    throw Error("execution_error", "animated image: expected uint8 frames [N, H, W, 3]");
  if (frames.size(1) > 65535 || frames.size(2) > 65535)
    throw Error("execution_error", "animated image: frames larger than 65535 pixels");
}

// ---- GIF

int gif_write(GifFileType* gif, const GifByteType* data, int len) {
  static_cast<std::string*>(gif->UserData)->append(reinterpret_cast<const char*>(data), size_t(len));
  return len;
}

void gif_check(int rc, GifFileType* gif, const char* what) {
  if (rc != GIF_ERROR) return;
  const char* msg = GifErrorString(gif ? gif->Error : 0);
  throw Error("execution_error", std::string("GIF encoder: ") + what + " failed: " + (msg ? msg : "unknown error"));
}

struct GifCloser {
  void operator()(GifFileType* g) const {
    int err = 0;
    if (g) EGifCloseFile(g, &err);
  }
};

// Netscape 2.0 application extension: how many times to play (0 = forever).
void put_loop_extension(GifFileType* gif, int64_t loop) {
  gif_check(EGifPutExtensionLeader(gif, APPLICATION_EXT_FUNC_CODE), gif, "loop extension");
  gif_check(EGifPutExtensionBlock(gif, 11, "NETSCAPE2.0"), gif, "loop extension");
  const unsigned char sub[3] = {1, static_cast<unsigned char>(loop & 0xff), static_cast<unsigned char>((loop >> 8) & 0xff)};
  gif_check(EGifPutExtensionBlock(gif, 3, sub), gif, "loop extension");
  gif_check(EGifPutExtensionTrailer(gif), gif, "loop extension");
}

void put_gif_frame(GifFileType* gif, const uint8_t* rgb, int w, int h, int delay_cs) {
  const size_t n = size_t(w) * size_t(h);
  std::vector<GifByteType> r(n), g(n), b(n), index(n);
  for (size_t i = 0; i < n; ++i) {
    r[i] = rgb[3 * i];
    g[i] = rgb[3 * i + 1];
    b[i] = rgb[3 * i + 2];
  }
  int colors = 256;
  std::vector<GifColorType> palette(256);
  if (GifQuantizeBuffer(unsigned(w), unsigned(h), &colors, r.data(), g.data(), b.data(), index.data(),
                        palette.data()) == GIF_ERROR)
    throw Error("execution_error", "GIF encoder: colour quantization failed");
  GraphicsControlBlock gcb{};
  gcb.DisposalMode = DISPOSE_BACKGROUND;  // Pillow's disposal=2 as VHS asks
  gcb.DelayTime = delay_cs;
  gcb.TransparentColor = NO_TRANSPARENT_COLOR;
  GifByteType ext[4];
  EGifGCBToExtension(&gcb, ext);
  gif_check(EGifPutExtension(gif, GRAPHICS_EXT_FUNC_CODE, 4, ext), gif, "frame control");
  std::unique_ptr<ColorMapObject, void (*)(ColorMapObject*)> map(GifMakeMapObject(256, palette.data()), GifFreeMapObject);
  if (!map) throw Error("execution_error", "GIF encoder: out of memory");
  gif_check(EGifPutImageDesc(gif, 0, 0, w, h, false, map.get()), gif, "frame header");
  for (int y = 0; y < h; ++y) gif_check(EGifPutLine(gif, index.data() + size_t(y) * size_t(w), w), gif, "frame data");
}

// ---- WebP

struct WebPEncoderFree {
  void operator()(WebPAnimEncoder* e) const { WebPAnimEncoderDelete(e); }
};
struct WebPMuxFree {
  void operator()(WebPMux* m) const { WebPMuxDelete(m); }
};

std::string webp_with_exif(const WebPData& anim, const std::string& exif) {
  std::unique_ptr<WebPMux, WebPMuxFree> mux(WebPMuxCreate(&anim, 1));
  if (!mux) throw Error("execution_error", "WebP encoder: cannot re-open the animation to add EXIF");
  WebPData chunk{reinterpret_cast<const uint8_t*>(exif.data()), exif.size()};
  if (WebPMuxSetChunk(mux.get(), "EXIF", &chunk, 1) != WEBP_MUX_OK)
    throw Error("execution_error", "WebP encoder: cannot add the EXIF chunk");
  WebPData out;
  WebPDataInit(&out);
  if (WebPMuxAssemble(mux.get(), &out) != WEBP_MUX_OK) throw Error("execution_error", "WebP encoder: assembly failed");
  std::string bytes(reinterpret_cast<const char*>(out.bytes), out.size);
  WebPDataClear(&out);
  return bytes;
}

void put_u16(std::string& s, uint16_t v) { s += char(v & 0xff), s += char(v >> 8); }
void put_u32(std::string& s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s += char((v >> (8 * i)) & 0xff);
}

}  // namespace

std::string encode_gif(const at::Tensor& frames_in, int64_t duration_ms, int64_t loop) {
  check_frames(frames_in);
  auto frames = frames_in.contiguous();
  const int h = int(frames.size(1)), w = int(frames.size(2));
  std::string out;
  int err = 0;
  std::unique_ptr<GifFileType, GifCloser> gif(EGifOpen(&out, gif_write, &err));
  if (!gif) throw Error("execution_error", std::string("GIF encoder: ") + GifErrorString(err));
  EGifSetGifVersion(gif.get(), true);
  gif_check(EGifPutScreenDesc(gif.get(), w, h, 8, 0, nullptr), gif.get(), "screen header");
  put_loop_extension(gif.get(), loop);
  const int delay_cs = int(duration_ms / 10);  // Pillow: int(duration / 10)
  const uint8_t* base = frames.data_ptr<uint8_t>();
  for (int64_t i = 0; i < frames.size(0); ++i) put_gif_frame(gif.get(), base + i * int64_t(w) * h * 3, w, h, delay_cs);
  int close_err = 0;
  int rc = EGifCloseFile(gif.release(), &close_err);
  if (rc == GIF_ERROR) throw Error("execution_error", std::string("GIF encoder: ") + GifErrorString(close_err));
  return out;
}

std::string encode_webp(const at::Tensor& frames_in, int64_t duration_ms, int64_t loop, bool lossless,
                        const std::string& exif_tiff) {
  check_frames(frames_in);
  auto frames = frames_in.contiguous();
  const int h = int(frames.size(1)), w = int(frames.size(2));
  WebPAnimEncoderOptions opt;
  if (!WebPAnimEncoderOptionsInit(&opt)) throw Error("execution_error", "WebP encoder: library version mismatch");
  opt.anim_params.loop_count = int(loop);
  opt.anim_params.bgcolor = 0;  // Pillow's default background (0, 0, 0, 0)
  std::unique_ptr<WebPAnimEncoder, WebPEncoderFree> enc(WebPAnimEncoderNew(w, h, &opt));
  if (!enc) throw Error("execution_error", "WebP encoder: cannot create the animation encoder");
  WebPConfig cfg;
  if (!WebPConfigInit(&cfg)) throw Error("execution_error", "WebP encoder: library version mismatch");
  cfg.lossless = lossless ? 1 : 0;
  cfg.quality = 80;  // Pillow's defaults
  cfg.method = 4;
  const uint8_t* base = frames.data_ptr<uint8_t>();
  int timestamp = 0;
  for (int64_t i = 0; i < frames.size(0); ++i) {
    WebPPicture pic;
    WebPPictureInit(&pic);
    pic.width = w;
    pic.height = h;
    pic.use_argb = 1;
    if (!WebPPictureImportRGB(&pic, base + i * int64_t(w) * h * 3, w * 3))
      throw Error("execution_error", "WebP encoder: out of memory");
    int ok = WebPAnimEncoderAdd(enc.get(), &pic, timestamp, &cfg);
    WebPPictureFree(&pic);
    if (!ok) throw Error("execution_error", std::string("WebP encoder: ") + WebPAnimEncoderGetError(enc.get()));
    timestamp += int(duration_ms);
  }
  WebPAnimEncoderAdd(enc.get(), nullptr, timestamp, nullptr);
  WebPData data;
  WebPDataInit(&data);
  if (!WebPAnimEncoderAssemble(enc.get(), &data))
    throw Error("execution_error", std::string("WebP encoder: ") + WebPAnimEncoderGetError(enc.get()));
  std::string bytes = exif_tiff.empty() ? std::string(reinterpret_cast<const char*>(data.bytes), data.size)
                                        : webp_with_exif(data, exif_tiff);
  WebPDataClear(&data);
  return bytes;
}

std::string exif_datetime_original(const std::string& datetime) {
  // Little-endian TIFF: IFD0 {ExifIFD pointer} -> Exif IFD {DateTimeOriginal (ASCII)} -> the text.
  std::string s = "II";
  put_u16(s, 42);
  put_u32(s, 8);
  put_u16(s, 1);             // IFD0: one entry
  put_u16(s, 0x8769);        // ExifIFD
  put_u16(s, 4);             // LONG
  put_u32(s, 1);
  put_u32(s, 8 + 2 + 12 + 4);  // right after IFD0
  put_u32(s, 0);             // no next IFD
  const std::string text = datetime + '\0';
  put_u16(s, 1);             // Exif IFD: one entry
  put_u16(s, 0x9003);        // DateTimeOriginal
  put_u16(s, 2);             // ASCII
  put_u32(s, uint32_t(text.size()));
  const uint32_t text_at = uint32_t(s.size()) + 4 + 4;
  if (text.size() <= 4) {
    std::string v = text;
    v.resize(4, '\0');
    s += v;
  } else {
    put_u32(s, text_at);
  }
  put_u32(s, 0);
  if (text.size() > 4) s += text;
  return s;
}

}  // namespace comfy::io
