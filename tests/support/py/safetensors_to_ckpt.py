"""Writes a .safetensors checkpoint as a torch zip pickle, the way single-file .ckpt releases are stored.

  safetensors_to_ckpt.py SRC.safetensors DST.ckpt

DST holds {"state_dict": {name: tensor}} saved with torch.save (zip format), floating tensors as float32
(as the SD releases ship them), integer tensors as they are. The safetensors file is read here from its
format (8-byte little-endian header length, JSON header, raw data), so the `safetensors` package is not
needed and nothing of comfy-native takes part.
"""
import json, struct, sys

import torch

DTYPES = {"F16": torch.float16, "BF16": torch.bfloat16, "F32": torch.float32, "F64": torch.float64,
          "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
          "BOOL": torch.bool}


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    body = memoryview(raw)[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = DTYPES[info["dtype"]]
        begin, end = info["data_offsets"]
        if end > begin:
            t = torch.frombuffer(bytearray(body[begin:end]), dtype=dtype)
        else:
            t = torch.empty(0, dtype=dtype)
        out[name] = t.reshape(info["shape"])
    return out


def main():
    src, dst = sys.argv[1], sys.argv[2]
    sd = {k: (t.float() if t.is_floating_point() else t) for k, t in read_safetensors(src).items()}
    torch.save({"state_dict": sd}, dst)
    print(len(sd), "tensors")


if __name__ == "__main__":
    main()
