#!/usr/bin/python3
"""Baseline for bench_unet: the SD1.5 UNet (openaimodel layout, 320 channels, [1,2,4,4], 2 res blocks,
8 heads, context 768) re-implemented in plain PyTorch with random weights, timed on the CPU in float32.
Attention is plain softmax(q k^T / sqrt(d)) v, as comfy-native uses without SDPA.

  /usr/bin/python3 bench/unet_sd15_torch.py --batch 2 --size 64 --steps 3 --threads 16
prints one JSON line: {"torch_step_ms": [...], "median_ms": ..., "params": ...}
"""
import argparse, json, math, statistics, time

import torch
import torch.nn as nn
import torch.nn.functional as F

USE_SDPA = False  # --sdpa: F.scaled_dot_product_attention (PyTorch >= 2.0), as comfy-native uses there


def gn(c, eps=1e-5):
    return nn.GroupNorm(32, c, eps=eps)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, emb):
        super().__init__()
        self.n1, self.c1 = gn(cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.e = nn.Linear(emb, cout)
        self.n2, self.c2 = gn(cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, emb):
        h = self.c1(F.silu(self.n1(x)))
        h = h + self.e(F.silu(emb))[:, :, None, None]
        h = self.c2(F.silu(self.n2(h)))
        return self.skip(x) + h


class Attn(nn.Module):
    def __init__(self, dim, ctx, heads):
        super().__init__()
        self.h = heads
        self.q, self.k, self.v = nn.Linear(dim, dim, bias=False), nn.Linear(ctx, dim, bias=False), nn.Linear(ctx, dim, bias=False)
        self.o = nn.Linear(dim, dim)

    def forward(self, x, c):
        b, n, d = x.shape
        h = self.h
        q = self.q(x).view(b, n, h, d // h).transpose(1, 2).reshape(b * h, n, d // h)
        k = self.k(c).view(b, -1, h, d // h).transpose(1, 2).reshape(b * h, -1, d // h)
        v = self.v(c).view(b, -1, h, d // h).transpose(1, 2).reshape(b * h, -1, d // h)
        if USE_SDPA:
            o = F.scaled_dot_product_attention(q, k, v)
        else:
            s = torch.bmm(q, k.transpose(1, 2)) * (1.0 / math.sqrt(d // h))
            o = torch.bmm(s.softmax(-1), v)
        o = o.view(b, h, n, d // h).transpose(1, 2).reshape(b, n, d)
        return self.o(o)


class Block(nn.Module):
    def __init__(self, dim, ctx, heads):
        super().__init__()
        self.n1, self.n2, self.n3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.a1, self.a2 = Attn(dim, dim, heads), Attn(dim, ctx, heads)
        self.p, self.out = nn.Linear(dim, dim * 8), nn.Linear(dim * 4, dim)

    def forward(self, x, c):
        n = self.n1(x)
        x = x + self.a1(n, n)
        x = x + self.a2(self.n2(x), c)
        v, g = self.p(self.n3(x)).chunk(2, -1)
        return x + self.out(v * F.gelu(g))


class ST(nn.Module):
    def __init__(self, ch, ctx, heads):
        super().__init__()
        self.norm = gn(ch, 1e-6)
        self.pi, self.po = nn.Conv2d(ch, ch, 1), nn.Conv2d(ch, ch, 1)
        self.b = Block(ch, ctx, heads)

    def forward(self, x, c):
        B, C, H, W = x.shape
        h = self.pi(self.norm(x)).movedim(1, 3).flatten(1, 2).contiguous()
        h = self.b(h, c)
        h = h.reshape(B, H, W, C).movedim(3, 1).contiguous()
        return self.po(h) + x


class Up(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.c = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x, size):
        return self.c(F.interpolate(x, size=size, mode="nearest"))


class UNet(nn.Module):
    def __init__(self, mc=320, mult=(1, 2, 4, 4), nres=2, attn_levels=(0, 1, 2), ctx=768, heads=8):
        super().__init__()
        ted = mc * 4
        self.mc = mc
        self.te = nn.Sequential(nn.Linear(mc, ted), nn.SiLU(), nn.Linear(ted, ted))
        self.inp = nn.ModuleList([nn.ModuleList([nn.Conv2d(4, mc, 3, padding=1)])])
        chans, ch = [mc], mc
        for lv, m in enumerate(mult):
            for _ in range(nres):
                layers = [ResBlock(ch, m * mc, ted)]
                ch = m * mc
                if lv in attn_levels:
                    layers.append(ST(ch, ctx, heads))
                self.inp.append(nn.ModuleList(layers))
                chans.append(ch)
            if lv != len(mult) - 1:
                self.inp.append(nn.ModuleList([nn.Conv2d(ch, ch, 3, stride=2, padding=1)]))
                chans.append(ch)
        self.mid = nn.ModuleList([ResBlock(ch, ch, ted), ST(ch, ctx, heads), ResBlock(ch, ch, ted)])
        self.outb = nn.ModuleList()
        for lv, m in list(enumerate(mult))[::-1]:
            for i in range(nres + 1):
                layers = [ResBlock(ch + chans.pop(), m * mc, ted)]
                ch = m * mc
                if lv in attn_levels:
                    layers.append(ST(ch, ctx, heads))
                if lv and i == nres:
                    layers.append(Up(ch))
                self.outb.append(nn.ModuleList(layers))
        self.out = nn.Sequential(gn(ch), nn.SiLU(), nn.Conv2d(mc, 4, 3, padding=1))

    def run(self, layers, h, emb, c, size=None):
        for l in layers:
            if isinstance(l, ResBlock):
                h = l(h, emb)
            elif isinstance(l, ST):
                h = l(h, c)
            elif isinstance(l, Up):
                h = l(h, size if size is not None else (h.shape[2] * 2, h.shape[3] * 2))
            else:
                h = l(h)
        return h

    def forward(self, x, t, c):
        half = self.mc // 2
        freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32) / half)
        a = t[:, None].float() * freqs[None]
        emb = self.te(torch.cat([torch.cos(a), torch.sin(a)], -1))
        hs, h = [], x
        for blk in self.inp:
            h = self.run(blk, h, emb, c)
            hs.append(h)
        h = self.run(self.mid, h, emb, c)
        for blk in self.outb:
            h = torch.cat([h, hs.pop()], 1)
            h = self.run(blk, h, emb, c, tuple(hs[-1].shape[2:]) if hs else None)
        return self.out(h)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--sdpa", action="store_true")
    a = ap.parse_args()
    global USE_SDPA
    USE_SDPA = a.sdpa
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = UNet().eval()
    params = sum(p.numel() for p in net.parameters())
    x = torch.randn(a.batch, 4, a.size, a.size)
    c = torch.randn(a.batch, 77, 768)
    t = torch.full((a.batch,), 500.0)
    times = []
    with torch.no_grad():
        for i in range(a.warmup + a.steps):
            t0 = time.perf_counter()
            net(x, t, c)
            if i >= a.warmup:
                times.append((time.perf_counter() - t0) * 1000)
    print(json.dumps({"torch_step_ms": times, "median_ms": statistics.median(times), "params": params,
                      "threads": torch.get_num_threads(), "torch": torch.__version__, "sdpa": USE_SDPA}))


if __name__ == "__main__":
    main()
