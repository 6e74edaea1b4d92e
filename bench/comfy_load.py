"""Baseline: ComfyUI's real checkpoint load (comfy.sd.load_checkpoint_guess_config) timed on one file.

Usage: /usr/bin/python3 bench/comfy_load.py CHECKPOINT [--baseline ../shared/baseline] [--clip] [--warm]
                                            [--threads N] [--json]
Boots the baseline kit (boot.py: ComfyUI v0.8.0 as `main.py --cpu`). The kit stubs the `safetensors`
package, so a .safetensors file is read through bench/py/safetensors, a small reader that maps the file
the way the real package does on PyTorch >= 1.11 (a copy-on-write `ByteStorage.from_file` and zero-copy
tensor views; see its docstring). A .ckpt/.pt file goes through ComfyUI's own torch.load path instead.
The text encoders are left out by default (output_clip=False): the kit stubs `transformers`, whose
tokenizers ComfyUI's CLIP objects build; compare with `bench_unet --no-clip`.
Prints load time with a cold page cache (posix_fadvise DONTNEED on the file first), optionally a
second warm-cache load, the peak RSS over the process's RSS before the load (/proc/self/status VmHWM
after resetting it through /proc/self/clear_refs, the same measure bench_unet uses) and
resource.getrusage's lifetime maxrss, and the bytes of the weights ComfyUI holds after loading.
"""
import argparse
import gc
import json
import os
import resource
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True


def _early_args():
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--baseline", default=os.path.join(HERE, "..", "..", "shared", "baseline"))
    return p.parse_known_args()[0]


# Our reader must be the `safetensors` module before boot imports comfy.utils (which imports it).
sys.path.insert(0, os.path.join(HERE, "py"))
import safetensors  # noqa: E402

assert getattr(safetensors, "IS_COMFY_NATIVE_BENCH_READER", False), safetensors.__file__
sys.path.insert(0, os.path.abspath(_early_args().baseline))
import boot  # noqa: E402  (extracts and boots ComfyUI; reads --device, default cpu)
import torch  # noqa: E402
from proc_status import reset_peak_rss, status_bytes  # noqa: E402
import comfy.sd  # noqa: E402
import comfy.utils  # noqa: E402

assert comfy.utils.safetensors is safetensors


def drop_page_cache(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def held_bytes(module):
    return sum(t.numel() * t.element_size() for t in module.state_dict().values())


def load_once(path, clip):
    rss_before = status_bytes("VmRSS")
    reset_peak_rss()
    t0 = time.perf_counter()
    model, clip_obj, vae, _ = comfy.sd.load_checkpoint_guess_config(path, output_vae=True, output_clip=clip)
    ms = (time.perf_counter() - t0) * 1e3
    peak = status_bytes("VmHWM") - rss_before
    unet = model.model.diffusion_model
    weights = held_bytes(unet) + held_bytes(vae.first_stage_model)
    info = {"ms": ms, "peak_rss_over_before_bytes": peak, "loaded_weights_bytes": weights,
            "unet_dtype": str(next(unet.parameters()).dtype).replace("torch.", ""),
            "model_class": type(model.model).__name__}
    if clip and clip_obj is not None:
        info["clip_bytes"] = held_bytes(clip_obj.cond_stage_model)
    del model, clip_obj, vae, unet
    gc.collect()
    return info


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--baseline", help="the baseline kit folder (boot.py)")
    ap.add_argument("--device", choices=["cpu"], default="cpu")
    ap.add_argument("--clip", action="store_true", help="also build the text encoders (needs real tokenizers)")
    ap.add_argument("--warm", action="store_true", help="a second load with the file in the page cache")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    boot.set_threads(a.threads)
    path = os.path.abspath(a.checkpoint)
    reader = "bench/py/safetensors (mmap, zero-copy)" if path.lower().endswith((".safetensors", ".sft")) \
        else "torch.load (ComfyUI's own path)"
    dropped = drop_page_cache(path)
    cold = load_once(path, a.clip)
    res = {"baseline": "comfy_load", "what": "comfy.sd.load_checkpoint_guess_config wall time",
           "file": path, "file_bytes": os.path.getsize(path), "reader": reader, "output_clip": a.clip,
           "cold_cache_dropped": dropped, "cold": cold,
           "peak_over_weights": cold["peak_rss_over_before_bytes"] / cold["loaded_weights_bytes"]}
    if a.warm:
        res["warm"] = load_once(path, a.clip)
    res["ru_maxrss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    res["env"] = boot.describe()
    if a.json:
        print(json.dumps(res))
        return
    mb = 1 << 20
    print("ComfyUI load_checkpoint_guess_config (%s, reader %s): cold %.0f ms%s%s" % (
        os.path.basename(path), reader, cold["ms"], "" if dropped else " (page cache NOT dropped)",
        ", warm %.0f ms" % res["warm"]["ms"] if a.warm else ""))
    print("  peak RSS %.0f MB over %.0f MB of loaded UNet+VAE weights (%s, %.2fx); lifetime maxrss %.0f MB" % (
        cold["peak_rss_over_before_bytes"] / mb, cold["loaded_weights_bytes"] / mb, cold["unet_dtype"],
        res["peak_over_weights"], res["ru_maxrss_bytes"] / mb))


if __name__ == "__main__":
    main()
