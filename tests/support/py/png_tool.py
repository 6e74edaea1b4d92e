"""Independent PNG reader/writer (Python standard library only) for the image tests.

  png_tool.py dump FILE            -> JSON {"width","height","channels","pixels":[...], "text": [[k, v], ...],
                                          "chunks": [types...]}  (8-bit non-interlaced RGB/RGBA only)
  png_tool.py make KIND FILE       -> writes a test PNG of KIND (see MAKERS) and prints its expected
                                      RGB(A) values as JSON {"width","height","rgb":[...],"alpha":[...]|null}
"""
import json, struct, sys, zlib


def chunks(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos = 8
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        typ = data[pos + 4:pos + 8].decode("ascii")
        body = data[pos + 8:pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        assert zlib.crc32(data[pos + 4:pos + 8 + n]) & 0xFFFFFFFF == crc, "bad CRC in " + typ
        yield typ, body
        pos += 12 + n


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def dump(path):
    data = open(path, "rb").read()
    idat, text, types = b"", [], []
    for typ, body in chunks(data):
        types.append(typ)
        if typ == "IHDR":
            w, h, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and color in (2, 6) and interlace == 0
            ch = 3 if color == 2 else 4
        elif typ == "IDAT":
            idat += body
        elif typ == "tEXt":
            k, v = body.split(b"\0", 1)
            text.append([k.decode("latin-1"), v.decode("latin-1")])
        elif typ == "iTXt":
            k, rest = body.split(b"\0", 1)
            assert rest[0] == 0
            rest = rest[2:]
            _, rest = rest.split(b"\0", 1)
            _, rest = rest.split(b"\0", 1)
            text.append([k.decode("latin-1"), rest.decode("utf-8")])
    raw = zlib.decompress(idat)
    stride = w * ch
    prev = bytearray(stride)
    out = []
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - ch] if i >= ch else 0
            b = prev[i]
            c = prev[i - ch] if i >= ch else 0
            line[i] = (line[i] + [0, a, b, (a + b) // 2, paeth(a, b, c)][f]) & 0xFF
        out.extend(line)
        prev = line
    json.dump({"width": w, "height": h, "channels": ch, "pixels": out, "text": text, "chunks": types}, sys.stdout)


def write_png(path, w, h, depth, color, rows, extra=()):
    def chunk(t, b):
        return struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b) & 0xFFFFFFFF)
    raw = b"".join(b"\0" + r for r in rows)
    body = chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, 0))
    for t, b in extra:
        body += chunk(t, b)
    body += chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + body)


def make(kind, path):
    w, h = 5, 3
    rgb, alpha, rows, extra = [], None, [], []
    if kind == "gray16":
        for y in range(h):
            r = b""
            for x in range(w):
                v = (x * 13000 + y * 7001) % 65536
                r += struct.pack(">H", v)
                rgb += [min(255, int(v * (1 / 255)))] * 3  # ComfyUI: mode I scaled by 1/255, clipped
            rows.append(r)
        write_png(path, w, h, 16, 0, rows)
    elif kind == "rgb16":
        for y in range(h):
            r = b""
            for x in range(w):
                px = [(x * 9000 + c * 20000 + y * 333) % 65536 for c in range(3)]
                r += struct.pack(">HHH", *px)
                rgb += [v >> 8 for v in px]
            rows.append(r)
        write_png(path, w, h, 16, 2, rows)
    elif kind == "palette_trns":
        pal = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (10, 20, 30)]
        trns = [0, 128, 255]  # entry 3 has no tRNS value -> opaque
        alpha = []
        for y in range(h):
            idx = [(x + y) % 4 for x in range(w)]
            rows.append(bytes(idx))
            for i in idx:
                rgb += list(pal[i])
                alpha.append(trns[i] if i < len(trns) else 255)
        extra = [(b"PLTE", bytes(sum(pal, ()))), (b"tRNS", bytes(trns))]
        write_png(path, w, h, 8, 3, rows, extra)
    elif kind == "gray_alpha":
        alpha = []
        for y in range(h):
            r = b""
            for x in range(w):
                g, a = (x * 50 + y) % 256, (y * 100 + x * 7) % 256
                r += bytes([g, a])
                rgb += [g] * 3
                alpha.append(a)
            rows.append(r)
        write_png(path, w, h, 8, 4, rows, [(b"zTXt", b"zkey\0\0" + zlib.compress(b"compressed text")),
                                           (b"iTXt", b"ikey\0\0\0en\0\0" + "caf\u00e9".encode("utf-8"))])
    else:
        raise SystemExit("unknown kind " + kind)
    json.dump({"width": w, "height": h, "rgb": rgb, "alpha": alpha}, sys.stdout)


if __name__ == "__main__":
    if sys.argv[1] == "dump":
        dump(sys.argv[2])
    else:
        make(sys.argv[2], sys.argv[3])
