#!/usr/bin/env python3
"""Writes the seed corpora of the image and .latent fuzzers (tests/fuzz/corpus/image, corpus/latent):
small files of every layout the decoders handle, made by PIL and by hand. Run with Debian's python3
(python3-pil); the output is committed, so this only needs re-running to add layouts."""
import argparse
import io
import json
import os
import struct
import zlib


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def images(out):
    from PIL import Image  # imported here so --help works without PIL

    def save(name, img, fmt, **kw):
        b = io.BytesIO()
        img.save(b, fmt, **kw)
        with open(os.path.join(out, name), "wb") as f:
            f.write(b.getvalue())
        return b.getvalue()

    rgb = Image.new("RGB", (7, 5))
    rgb.putdata([(x * 30 % 256, y * 50 % 256, (x * y * 17) % 256) for y in range(5) for x in range(7)])
    save("rgb.png", rgb, "PNG")
    save("rgba.png", rgb.convert("RGBA"), "PNG")
    save("gray.png", rgb.convert("L"), "PNG")
    save("gray_alpha.png", rgb.convert("LA"), "PNG")
    save("gray16.png", rgb.convert("I").point(lambda v: v * 200), "PNG")
    save("palette_trns.png", rgb.convert("P"), "PNG", transparency=3)
    save("bilevel.png", rgb.convert("1"), "PNG")
    save("text_chunk.png", rgb, "PNG", pnginfo=_pnginfo(Image))
    save("rgb.jpg", rgb, "JPEG", quality=90)
    save("gray.jpg", rgb.convert("L"), "JPEG")
    save("progressive.jpg", rgb.resize((24, 16)), "JPEG", progressive=True)
    save("lossy.webp", rgb, "WEBP", quality=80)
    rgba = rgb.convert("RGBA")
    alpha = Image.new("L", (7, 5))
    alpha.putdata([(x + y) * 20 + 10 for y in range(5) for x in range(7)])
    rgba.putalpha(alpha)
    save("lossless_alpha.webp", rgba, "WEBP", lossless=True, exact=True)
    save("animated.webp", rgb, "WEBP", save_all=True, append_images=[rgb.convert("L").convert("RGB")], duration=50)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90
    small = save("orient6.jpg", rgb, "JPEG", exif=exif.tobytes())
    # Decompression bombs: headers claiming 30000 x 30000 pixels, no real data.
    ihdr = struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0)
    bomb = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(b"\0" * 64)) + png_chunk(b"IEND", b"")
    with open(os.path.join(out, "bomb.png"), "wb") as f:
        f.write(bomb)
    sof = small.find(b"\xff\xc0")
    if sof >= 0:
        j = bytearray(small)
        j[sof + 5:sof + 9] = struct.pack(">HH", 30000, 30000)
        with open(os.path.join(out, "bomb.jpg"), "wb") as f:
            f.write(bytes(j))


def _pnginfo(Image):
    from PIL import PngImagePlugin
    info = PngImagePlugin.PngInfo()
    info.add_text("prompt", json.dumps({"1": {"class_type": "X", "inputs": {}}}))
    info.add_text("workflow", "{}", zip=True)
    return info


def safetensors(tensors, metadata=None):
    header, data = {}, b""
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def latents(out):
    f32 = struct.pack("<16f", *[i / 8 - 1 for i in range(16)])
    f16 = struct.pack("<16e", *[i / 8 - 1 for i in range(16)])
    files = {
        "current.latent": safetensors({"latent_tensor": ("F32", [1, 4, 2, 2], f32), "latent_format_version_0": ("F32", [0], b"")},
                                      {"prompt": "{}"}),
        "old_scaled.latent": safetensors({"latent_tensor": ("F32", [1, 4, 2, 2], f32)}),
        "half.latent": safetensors({"latent_tensor": ("F16", [1, 4, 2, 2], f16), "latent_format_version_0": ("F32", [0], b"")}),
        "bf16_batch.latent": safetensors({"latent_tensor": ("BF16", [2, 4, 1, 1], f16), "latent_format_version_0": ("F32", [0], b"")}),
        "int.latent": safetensors({"latent_tensor": ("I64", [2], struct.pack("<2q", 1, -3))}),
        "no_tensor.latent": safetensors({"other": ("F32", [1], struct.pack("<f", 1.0))}),
    }
    for name, b in files.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(b)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--corpus", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus"),
                    help="corpus root (default: tests/fuzz/corpus next to this script)")
    a = ap.parse_args()
    for sub, fn in (("image", images), ("latent", latents)):
        d = os.path.join(a.corpus, sub)
        os.makedirs(d, exist_ok=True)
        fn(d)


if __name__ == "__main__":
    main()
