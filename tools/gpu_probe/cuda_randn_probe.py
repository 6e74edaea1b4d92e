import os,sys,json,glob,torch
from safetensors.torch import save_file
out=sys.argv[1];p=torch.cuda.get_device_properties(0)
info={"torch":torch.__version__,"cuda":torch.version.cuda,"name":p.name,"sm":p.multi_processor_count,"tpsm":getattr(p,"max_threads_per_multi_processor",None)}
print(json.dumps(info))
def draw(s,seed,n):
    g=torch.Generator(device="cuda");g.manual_seed(seed)
    return [torch.randn(s,device="cuda",generator=g).cpu().contiguous() for _ in range(n)]
nm=lambda s,seed:"x".join(map(str,s))+f".seed{seed}"
A={}
for s in [(3,4),(1,),(7,),(1,4,8,8),(2,4,13,7),(1,4,64,64),(1,4,128,128),(4,4,128,128)]:
    for seed in [0,42,2**32+5,2**64-1]:
        for i,t in enumerate(draw(s,seed,2)):A[nm(s,seed)+f".d{i}"]=t
g=torch.Generator(device="cuda");g.manual_seed(7)
for i,s in enumerate([(1,4,8,8),(4,4,128,128),(3,4)]):A[f"seq7.{i}"]=torch.randn(s,device="cuda",generator=g).cpu().contiguous()
torch.cuda.manual_seed(1234)
for i in range(2):A[f"default1234.{i}"]=torch.randn((2,4,13,7),device="cuda").cpu().contiguous()
save_file(A,out+"/small.safetensors",metadata={"info":json.dumps(info)})
B={}
for s,ss in [((5,4,128,128),[0,2**64-1]),((1,4,300,300),[3,99]),((2,4,200,300),[11])]:
    for seed in ss:B[nm(s,seed)+".d0"]=draw(s,seed,1)[0]
save_file(B,out+"/big.safetensors")
C={}
for i,t in enumerate(draw((1,4,600,600),5,2)):C[nm((1,4,600,600),5)+f".d{i}"]=t
save_file(C,out+"/huge.safetensors")
import torch.utils.cpp_extension as ce
c=[]
for d in ce.include_paths()+["/usr/local/cuda/include","/usr/local/cuda/targets/x86_64-linux/include"]+glob.glob("/opt/torch/.venv/lib/python3*/site-packages/nvidia/*/include")+glob.glob("/opt/torch/.venv/lib/python3*/site-packages/nvidia/*/*/include"):
    for f in ["ATen/native/cuda/DistributionTemplates.h","curand_normal.h","curand_kernel.h"]:c+=glob.glob(os.path.join(d,f))
print(c)
seen=set()
for f in c:
    b=os.path.basename(f)
    if b in seen:continue
    seen.add(b);open(out+"/"+b,"w").write(open(f).read())
