"""safetensors.torch for the bench reader (see __init__.py): load_file only; saving is not benchmarked."""
from . import safe_open


def load_file(filename, device="cpu"):
    with safe_open(filename, framework="pt", device=device) as f:
        return {k: f.get_tensor(k) for k in f.keys()}


def _unavailable(*args, **kwargs):
    raise NotImplementedError("bench safetensors reader: saving is not provided")


save_file = save = load = _unavailable
