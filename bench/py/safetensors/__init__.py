"""A small safetensors reader for the ComfyUI load baseline (bench/comfy_load.py).

The baseline kit stubs the real `safetensors` package (a Rust extension that is not installable here), so
ComfyUI's `comfy.utils.load_torch_file` cannot read a .safetensors file. This package stands in for it
with the same loading strategy the real package uses for PyTorch >= 1.11 on CPU: the whole file is mapped
copy-on-write through `torch.ByteStorage.from_file(path, shared=False, size=...)`, and `get_tensor` is a
zero-copy view of that storage (`torch.asarray(storage[a:b], dtype=uint8).view(dtype).reshape(shape)`).
So ComfyUI's load sees the same lazily paged-in, mmap-backed tensors it gets with the real package, and
its timing and peak RSS are those of ComfyUI's own code. Only what `load_torch_file` calls is provided:
`safe_open(path, framework="pt", device="cpu")` with keys(), get_tensor(), metadata().
"""
import json
import os
import struct
import sys

import torch as _torch  # not `torch`: the submodule safetensors.torch takes that name here

_DTYPES = {
    "F64": _torch.float64, "F32": _torch.float32, "F16": _torch.float16, "BF16": _torch.bfloat16,
    "I64": _torch.int64, "I32": _torch.int32, "I16": _torch.int16, "I8": _torch.int8, "U8": _torch.uint8,
    "BOOL": _torch.bool,
}
_MAX_HEADER = 100 << 20  # the real package's bound

IS_COMFY_NATIVE_BENCH_READER = True


class SafetensorError(Exception):
    pass


class safe_open:  # noqa: N801  (the real package's name)
    def __init__(self, filename, framework="pt", device="cpu"):
        if framework not in ("pt", "torch"):
            raise SafetensorError("bench reader: only framework='pt' is provided, not %r" % (framework,))
        if str(device) != "cpu":
            raise SafetensorError("bench reader: only device='cpu' is provided, not %r" % (device,))
        if sys.byteorder != "little":
            raise SafetensorError("bench reader: big-endian hosts are not handled")
        filename = os.fspath(filename)
        size = os.path.getsize(filename)
        with open(filename, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise SafetensorError("HeaderTooSmall")
            (n,) = struct.unpack("<Q", head)
            if n > _MAX_HEADER:
                raise SafetensorError("HeaderTooLarge")
            if 8 + n > size:
                raise SafetensorError("MetadataIncompleteBuffer")
            header = json.loads(f.read(n))
        self._metadata = header.pop("__metadata__", None)
        self._offset = 8 + n
        for name, info in header.items():
            begin, end = info["data_offsets"]
            if self._offset + end > size or end < begin:
                raise SafetensorError("MetadataIncompleteBuffer: tensor %s" % name)
        self._infos = header
        self._storage = _torch.ByteStorage.from_file(filename, shared=False, size=size)
        self._storage = self._storage.untyped() if hasattr(self._storage, "untyped") else self._storage._untyped()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._storage = None  # the tensors handed out keep the mapping alive, as with the real package

    def keys(self):
        # the real package lists tensors in file order
        return sorted(self._infos, key=lambda k: self._infos[k]["data_offsets"][0])

    def metadata(self):
        return self._metadata

    def get_tensor(self, name):
        info = self._infos[name]
        begin, end = info["data_offsets"]
        raw = self._storage[self._offset + begin:self._offset + end]
        return _torch.asarray(raw, dtype=_torch.uint8).view(_DTYPES[info["dtype"]]).reshape(info["shape"])
