#!/usr/bin/env python3
"""Load: 8 concurrent clients x 25 prompts against one `comfy-native serve` (builtin:shapes, tiny
size, 1 step, a distinct seed per prompt). Every prompt completes, every output file appears exactly
once (in its prompt's history and on disk), and the server's memory stays flat once the history cap
(--max-history 40) is reached.

usage: test_load.py COMFY_NATIVE_BINARY"""
import json
import os
import sys
import threading
import time
import uuid

import harness
from harness import Failure, Server, check, eq

CLIENTS, PER_CLIENT = 8, 25


def prompt(seed):
    return {
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "builtin:shapes"}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a red circle", "clip": ["4", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "dark", "clip": ["4", 1]}},
        "3": {"class_type": "KSampler", "inputs": {"seed": seed, "steps": 1, "cfg": 7.0, "sampler_name": "euler",
                                                   "scheduler": "normal", "denoise": 1.0, "model": ["4", 0],
                                                   "positive": ["6", 0], "negative": ["7", 0], "latent_image": ["5", 0]}},
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
        "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "load", "images": ["8", 0]}},
    }


def client(srv, k, results, errors):
    try:
        cid = str(uuid.uuid4())
        sock = srv.ws(client_id=cid)
        sock.wait_for(lambda m: m["type"] == "status")
        ids = []
        for i in range(PER_CLIENT):
            r = srv.post("/prompt", {"prompt": prompt(1000 * k + i), "client_id": cid})
            if r.status != 200:
                raise Failure(f"client {k}: POST /prompt {r.status} {r.body[:200]!r}")
            ids.append(r.json()["prompt_id"])
        for pid in ids:
            sock.wait_done(pid, timeout=300)
        files = {}
        for m in sock.texts():
            if m["type"] == "executed":
                for img in m["data"]["output"]["images"]:
                    files.setdefault(m["data"]["prompt_id"], []).append(img["filename"])
        results[k] = (ids, files)
        sock.close()
    except Exception as e:  # noqa: BLE001
        errors.append(f"client {k}: {type(e).__name__}: {e}")


def run_wave(srv):
    results, errors = {}, []
    threads = [threading.Thread(target=client, args=(srv, k, results, errors)) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    if errors:
        raise Failure("; ".join(errors[:3]))
    return results


def test_load():
    srv = Server(sys.argv[1], ["--max-history", "40"])
    try:
        t0 = time.time()
        first = run_wave(srv)
        t1 = time.time()
        all_files = [f for ids, files in first.values() for pid in ids for f in files.get(pid, [])]
        eq(len(all_files), CLIENTS * PER_CLIENT, "one executed image per prompt")
        eq(len(set(all_files)), len(all_files), "every output file name exactly once")
        on_disk = sorted(f for f in os.listdir(srv.dir("output")) if f.endswith(".png"))
        eq(on_disk, sorted(all_files), "the files on disk are exactly the reported outputs")
        for ids, files in first.values():
            for pid in ids:
                eq(len(files.get(pid, [])), 1, f"prompt {pid}: one image")
        eq(len(srv.get("/history").json()), 40, "history capped at --max-history")
        eq(srv.get("/prompt").json()["exec_info"]["queue_remaining"], 0, "queue drained")
        rss_after_first = srv.rss_kb()
        # A second wave with the cap already reached: memory must stay flat.
        for f in os.listdir(srv.dir("output")):
            os.remove(os.path.join(srv.dir("output"), f))
        run_wave(srv)
        rss_after_second = srv.rss_kb()
        growth_mb = (rss_after_second - rss_after_first) / 1024
        print(f"  {CLIENTS * PER_CLIENT} prompts in {t1 - t0:.1f}s ({CLIENTS * PER_CLIENT / (t1 - t0):.1f}/s); "
              f"RSS {rss_after_first / 1024:.0f} MB -> {rss_after_second / 1024:.0f} MB after another "
              f"{CLIENTS * PER_CLIENT}", flush=True)
        check(growth_mb < 25, f"memory grew by {growth_mb:.1f} MB over a second wave of {CLIENTS * PER_CLIENT} prompts")
        eq(len(srv.get("/history").json()), 40, "history still capped")
    finally:
        srv.cleanup()


if __name__ == "__main__":
    sys.exit(harness.run_tests([("EightClientsTimesTwentyFivePrompts", test_load)]))
