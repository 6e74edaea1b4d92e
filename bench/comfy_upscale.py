"""Baseline: ComfyUI's ImageUpscaleWithModel (its tiling, comfy.utils.tiled_scale) on an ESRGAN x4 RRDBNet.

Usage: /usr/bin/python3 bench/comfy_upscale.py [--size 512 --tiles 512 --nf 64 --nb 23 --reps 1 --threads N --json]
The kit stubs `spandrel`, the package ComfyUI's UpscaleModelLoader builds the network with, so the network
here is our own plain-PyTorch RRDBNet (ESRGAN's old architecture: conv_first, nb RRDBs of three 5-conv
dense blocks with growth 32 and residual scale 0.2, trunk conv, two nearest x2 upsampling convs, HR conv,
last conv, LeakyReLU 0.2), random weights, wrapped in a minimal stand-in for spandrel's descriptor
(.model, .scale, .to(), __call__). What runs from ComfyUI is the node's own code: for the node's default
tile (512, overlap 32) ImageUpscaleWithModel.execute itself; for other tiles comfy.utils.tiled_scale
called exactly as the node calls it. So the figure is ComfyUI's node path with a network of the same
shape and cost as spandrel's, not spandrel itself.
Peak memory per tile: /proc/self/status VmHWM after resetting it (clear_refs 5) minus VmRSS before.
"""
import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
_p = argparse.ArgumentParser(add_help=False)
_p.add_argument("--baseline", default=os.path.join(HERE, "..", "..", "shared", "baseline"))
sys.path.insert(0, os.path.abspath(_p.parse_known_args()[0].baseline))
import boot  # noqa: E402
import torch  # noqa: E402
from proc_status import status_bytes  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import comfy.utils  # noqa: E402
from comfy_extras.nodes_upscale_model import ImageUpscaleWithModel  # noqa: E402


class DenseBlock(nn.Module):
    def __init__(self, nf, gc=32):
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv2d(nf + i * gc, gc if i < 4 else nf, 3, 1, 1) for i in range(5)])

    def forward(self, x):
        feats = [x]
        for i, conv in enumerate(self.convs):
            y = conv(torch.cat(feats, 1))
            if i < 4:
                feats.append(F.leaky_relu(y, 0.2))
        return y * 0.2 + x


class RRDB(nn.Module):
    def __init__(self, nf):
        super().__init__()
        self.blocks = nn.Sequential(DenseBlock(nf), DenseBlock(nf), DenseBlock(nf))

    def forward(self, x):
        return self.blocks(x) * 0.2 + x


class RRDBNetX4(nn.Module):
    def __init__(self, nf=64, nb=23):
        super().__init__()
        self.conv_first = nn.Conv2d(3, nf, 3, 1, 1)
        self.trunk = nn.Sequential(*[RRDB(nf) for _ in range(nb)])
        self.trunk_conv = nn.Conv2d(nf, nf, 3, 1, 1)
        self.up1 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.up2 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.hr_conv = nn.Conv2d(nf, nf, 3, 1, 1)
        self.conv_last = nn.Conv2d(nf, 3, 3, 1, 1)

    def forward(self, x):
        fea = self.conv_first(x)
        fea = fea + self.trunk_conv(self.trunk(fea))
        fea = F.leaky_relu(self.up1(F.interpolate(fea, scale_factor=2, mode="nearest")), 0.2)
        fea = F.leaky_relu(self.up2(F.interpolate(fea, scale_factor=2, mode="nearest")), 0.2)
        return self.conv_last(F.leaky_relu(self.hr_conv(fea), 0.2))


class Descriptor:
    """What ImageUpscaleWithModel uses of spandrel's ImageModelDescriptor."""

    def __init__(self, model, scale):
        self.model, self.scale = model, scale

    def to(self, device):
        self.model.to(device)
        return self

    def __call__(self, image):
        return self.model(image)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline")
    ap.add_argument("--device", choices=["cpu"], default="cpu")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--tiles", default="512", help="comma-separated tile sizes (512 = the node's default)")
    ap.add_argument("--overlap", type=int, default=32)
    ap.add_argument("--nf", type=int, default=64)
    ap.add_argument("--nb", type=int, default=23)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    boot.set_threads(a.threads)
    torch.manual_seed(0)
    net = RRDBNetX4(a.nf, a.nb).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0, 0.02)
    model = Descriptor(net, 4)
    image = torch.rand(1, a.size, a.size, 3, generator=torch.Generator().manual_seed(1))
    res = {"baseline": "comfy_upscale", "what": "ImageUpscaleWithModel tiled upscale, wall time per image",
           "size": a.size, "nf": a.nf, "nb": a.nb, "overlap": a.overlap,
           "weights_bytes": sum(p.numel() * p.element_size() for p in net.parameters()), "tiles": []}
    for tile in [int(t) for t in a.tiles.split(",")]:
        times, peak = [], 0
        for _ in range(a.reps):
            rss0 = status_bytes("VmRSS")
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            t0 = time.perf_counter()
            if tile == 512 and a.overlap == 32:
                out = ImageUpscaleWithModel.execute(model, image).result[0]
            else:  # the node's body with another tile
                in_img = image.movedim(-1, -3)
                out = comfy.utils.tiled_scale(in_img, lambda x: model(x), tile_x=tile, tile_y=tile,
                                              overlap=a.overlap, upscale_amount=model.scale)
                out = torch.clamp(out.movedim(-3, -1), min=0, max=1.0)
            times.append((time.perf_counter() - t0) * 1e3)
            peak = max(peak, status_bytes("VmHWM") - rss0)
        res["tiles"].append({"tile": tile, "median_ms": statistics.median(times), "peak_rss_over_before_bytes": peak,
                             "output_shape": list(out.shape)})
    res["env"] = boot.describe()
    if a.json:
        print(json.dumps(res))
        return
    print("ComfyUI ImageUpscaleWithModel, RRDBNet x4 (%d filters, %d blocks) on %dx%d, CPU fp32, %d threads" % (
        a.nf, a.nb, a.size, a.size, res["env"]["threads"]))
    for t in res["tiles"]:
        print("  tile %4d: %9.1f ms/image  output %s  peak RSS +%.0f MB" % (
            t["tile"], t["median_ms"], "x".join(map(str, t["output_shape"][1:3])), t["peak_rss_over_before_bytes"] / 2**20))


if __name__ == "__main__":
    main()
