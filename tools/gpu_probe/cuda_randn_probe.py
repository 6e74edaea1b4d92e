# Records torch.randn on CUDA (float32) for the shapes/seeds in tests/unit/data/cuda_randn_h100.json and copies
# the PyTorch/curand headers that define the kernel. Usage on a CUDA machine: python3 cuda_randn_probe.py OUTDIR
import sys as _sys
if _sys.argv[1:] in (["-h"], ["--help"]) or len(_sys.argv) != 2 or any(a.startswith("-") for a in _sys.argv[1:]):
    _ok = _sys.argv[1:] in (["-h"], ["--help"])
    if not _ok:
        print("error: unexpected arguments " + " ".join(_sys.argv[1:]), file=_sys.stderr)
    print('usage: python3 cuda_randn_probe.py OUTDIR\n  Records torch.randn on CUDA for the shapes/seeds of tests/unit/data/cuda_randn_h100.json into OUTDIR.', file=_sys.stdout if _ok else _sys.stderr)
    _sys.exit(0 if _ok else 2)
import os,sys,json,glob,torch
from safetensors.torch import save_file as sv
o=sys.argv[1];p=torch.cuda.get_device_properties(0)
print(torch.__version__,torch.version.cuda,p.name,p.multi_processor_count,getattr(p,"max_threads_per_multi_processor",None))
def dr(s,sd,n):
 g=torch.Generator(device="cuda");g.manual_seed(sd)
 return [torch.randn(s,device="cuda",generator=g).cpu() for _ in range(n)]
nm=lambda s,sd:"x".join(map(str,s))+f".seed{sd}"
A={}
for s in [(3,4),(1,),(7,),(1,4,8,8),(2,4,13,7),(1,4,64,64),(1,4,128,128),(4,4,128,128)]:
 for sd in [0,42,2**32+5,2**64-1]:
  for i,t in enumerate(dr(s,sd,2)):A[nm(s,sd)+f".d{i}"]=t
g=torch.Generator(device="cuda");g.manual_seed(7)
for i,s in enumerate([(1,4,8,8),(4,4,128,128),(3,4)]):A[f"seq7.{i}"]=torch.randn(s,device="cuda",generator=g).cpu()
torch.cuda.manual_seed(1234)
for i in range(2):A[f"default1234.{i}"]=torch.randn((2,4,13,7),device="cuda").cpu()
sv(A,o+"/small.safetensors")
B={}
for s,ss in [((5,4,128,128),[0,2**64-1]),((1,4,300,300),[3,99]),((2,4,200,300),[11])]:
 for sd in ss:B[nm(s,sd)+".d0"]=dr(s,sd,1)[0]
sv(B,o+"/big.safetensors")
C={}
for i,t in enumerate(dr((1,4,600,600),5,2)):C[nm((1,4,600,600),5)+f".d{i}"]=t
sv(C,o+"/huge.safetensors")
import torch.utils.cpp_extension as ce
c=[]
for d in ce.include_paths()+["/usr/local/cuda/include"]+glob.glob("/opt/torch/.venv/lib/python3*/site-packages/nvidia/*/include")+glob.glob("/opt/torch/.venv/lib/python3*/site-packages/nvidia/*/*/include"):
 for f in ["ATen/native/cuda/DistributionTemplates.h","curand_normal.h","curand_kernel.h"]:c+=glob.glob(os.path.join(d,f))
print(c)
for f in c:
 b=os.path.basename(f)
 if not os.path.exists(o+"/"+b):open(o+"/"+b,"w").write(open(f).read())
