"""Records torch.randn on CUDA for a set of shapes and seeds (run on a GPU machine).

Writes OUT/cuda_randn_reference.safetensors with tensors named `randn.<seed>.<shape>` (shape as AxBxC)
plus the device's properties in the metadata, so the CPU emulation of PyTorch's CUDA normal
generator (src/sampling/noise) can be checked bit for bit on machines without a GPU.
Usage: python3 scripts/cuda_randn_reference.py OUT_DIR
"""
import json
import sys

import torch
from safetensors.torch import save_file

out = sys.argv[1]
small = [(3, 4), (5,), (1, 4, 8, 8), (2, 4, 8, 8), (3, 4, 8, 8), (2, 4, 13, 7), (1, 4, 64, 64)]
big = [(2, 4, 64, 64), (1, 4, 96, 96), (1, 4, 128, 128), (4, 4, 64, 64), (1, 16, 128, 128), (1000003,)]
seeds = [0, 1, 7, 42, 1234, 4294967301, 18446744073709551615]
tensors = {}
for seed in seeds:
    for shape in small + (big if seed in (0, 42, 18446744073709551615) else []):
        g = torch.Generator(device="cuda").manual_seed(seed)
        t = torch.randn(shape, generator=g, device="cuda", dtype=torch.float32)
        t = t.cpu().contiguous()
        if t.numel() > 300000:  # keep the file small: head, a middle window and the tail
            f = t.flatten()
            m = f.numel() // 2
            t = torch.cat([f[:4096], f[m:m + 4096], f[-4096:]])
        tensors["randn.%d.%s" % (seed, "x".join(map(str, shape)))] = t
    # the global-generator path used by Inspire's GPU mode: torch.cuda.manual_seed + randn
    torch.cuda.manual_seed(seed)
    t = torch.randn((2, 4, 8, 8), device="cuda")
    tensors["global_randn.%d.2x4x8x8" % seed] = t.cpu().contiguous()
p = torch.cuda.get_device_properties(0)
meta = {"device": p.name, "multi_processor_count": str(p.multi_processor_count),
        "max_threads_per_multi_processor": str(getattr(p, "max_threads_per_multi_processor", "")),
        "torch": torch.__version__, "cuda": str(torch.version.cuda)}
save_file(tensors, out + "/cuda_randn_reference.safetensors", metadata=meta)
print(json.dumps(meta))
