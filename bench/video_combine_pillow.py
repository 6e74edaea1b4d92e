#!/usr/bin/env python3
"""The Pillow side of bench_video_combine: the same frames saved the way VHS_VideoCombine saves
image/gif and image/webp (Pillow's save_all with VHS's arguments), time per frame.

    /usr/bin/python3 bench/video_combine_pillow.py [--frames 16] [--size 512] [--reps 1]
"""
import argparse, io, time
import numpy as np
from PIL import Image

ap = argparse.ArgumentParser()
ap.add_argument("--frames", type=int, default=32)
ap.add_argument("--size", type=int, default=512)
ap.add_argument("--reps", type=int, default=3)
a = ap.parse_args()
n, s = a.frames, a.size
# the same smooth moving gradients + 5% noise as bench_video_combine.cpp
y = np.linspace(0, 1, s, dtype=np.float32).reshape(1, s, 1, 1)
x = np.linspace(0, 1, s, dtype=np.float32).reshape(1, 1, s, 1)
t = np.linspace(0, 1, n, dtype=np.float32).reshape(n, 1, 1, 1)
img = np.concatenate([np.broadcast_to(v, (n, s, s, 1)) for v in ((x + t) % 1, (y * 0.5 + t * 0.3) % 1, (x * y + t) % 1)], 3)
img = np.clip(img + np.random.rand(*img.shape).astype(np.float32) * 0.05, 0, 1)
frames = [Image.fromarray(np.clip(f * 255 + 0.5, 0, 255).astype(np.uint8)) for f in img]
cases = [("image/gif", "GIF", {"disposal": 2}), ("image/webp lossless", "WEBP", {"lossless": True}),
         ("image/webp lossy", "WEBP", {"lossless": False})]
print(f"{n} frames of {s}x{s}, median of {a.reps} runs (Pillow {Image.__version__ if hasattr(Image, '__version__') else ''})")
for name, fmt, kw in cases:
    ms = []
    for _ in range(a.reps):
        buf = io.BytesIO()
        t0 = time.perf_counter()
        frames[0].save(buf, format=fmt, save_all=True, append_images=frames[1:], duration=125, loop=0,
                       compress_level=4, **kw)
        ms.append((time.perf_counter() - t0) * 1000)
    m = sorted(ms)[len(ms) // 2]
    print(f"  {name}: {m:.1f} ms total, {m / n:.2f} ms/frame")
