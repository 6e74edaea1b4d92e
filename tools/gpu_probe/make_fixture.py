# Turns the probe's safetensors files (small/big/huge) into tests/unit/data/cuda_randn_h100.json: the
# values at a sample of flat indices (all of them for <= 64 elements; else the ends, the grid-stride
# boundaries of an H100 launch, and 24 random ones). Usage: python3 make_fixture.py PROBE_OUTDIR OUT.json
import sys as _sys
if _sys.argv[1:] in (["-h"], ["--help"]) or len(_sys.argv) != 3 or any(a.startswith("-") for a in _sys.argv[1:]):
    _ok = _sys.argv[1:] in (["-h"], ["--help"])
    if not _ok:
        print("error: unexpected arguments " + " ".join(_sys.argv[1:]), file=_sys.stderr)
    print("usage: python3 make_fixture.py PROBE_OUTDIR OUT.json\n  Turns the probe's safetensors files into tests/unit/data/cuda_randn_h100.json.", file=_sys.stdout if _ok else _sys.stderr)
    _sys.exit(0 if _ok else 2)
import json, struct, sys
import numpy as np

def load(f):
    b = open(f, 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8 + n]); d = b[8 + n:]
    return {k: np.frombuffer(d[v['data_offsets'][0]:v['data_offsets'][1]], dtype=np.float32).reshape(v['shape'])
            for k, v in h.items() if k != '__metadata__'}

src, dst = sys.argv[1], sys.argv[2]
T = {}
for f in ['small', 'big', 'huge']:
    T.update(load(f'{src}/{f}.safetensors'))
rng = np.random.default_rng(0)
stride = 270336  # 132 SMs * 2048 threads

def samples(a):
    n = a.size; f = a.ravel()
    if n <= 64:
        idx = list(range(n))
    else:
        idx = set(range(8)) | set(range(n - 8, n))
        for b in [stride * m for m in range(1, 6)]:
            idx |= {k for k in (b - 2, b - 1, b, b + 1) if 0 <= k < n}
        idx |= set(int(x) for x in rng.integers(0, n, 24))
        idx = sorted(idx)
    return idx, [float(f[i]) for i in idx]

cases = []
for k in sorted(T):
    if k.startswith('seq7') or k.startswith('default'):
        continue
    shp, rest = k.split('.seed'); seed, d = rest.split('.d')
    idx, vals = samples(T[k])
    cases.append({"shape": list(T[k].shape), "seed": int(seed), "draw": int(d), "index": idx, "value": vals})
seq = []
for i in range(3):
    idx, vals = samples(T[f'seq7.{i}'])
    seq.append({"shape": list(T[f'seq7.{i}'].shape), "index": idx, "value": vals})
out = {"source": "torch.randn(shape, device='cuda', generator=torch.Generator('cuda').manual_seed(seed)); 'draw' = how many earlier draws of the same shape that generator made; 'sequence_seed7' = successive draws of different shapes from one generator seeded 7. Recorded on an NVIDIA H100 80GB HBM3 (132 SMs, 2048 threads/SM), torch 2.11.0+cu130, CUDA 13.0, with tools/gpu_probe/cuda_randn_probe.py; values at the listed flat indices.",
       "device": {"name": "NVIDIA H100 80GB HBM3", "multi_processor_count": 132, "max_threads_per_multi_processor": 2048},
       "cases": cases, "sequence_seed7": seq}
open(dst, 'w').write(json.dumps(out))
