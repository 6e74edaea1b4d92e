#!/usr/bin/env python3
"""`comfy-native serve` benchmarks (server spec; issue #12):
  1. per-prompt overhead of serve over run for a fully cached re-run: serve's POST /prompt -> completion
     signal on the websocket, minus `run`'s per-run time for the same cached prompt in one process
     (`--seeds S,S,...`: (T(1+N runs) - T(1 run)) / N);
  2. requests per second for GET /object_info and GET /queue (one keep-alive connection);
  3. websocket latency from the engine's event to the client, on the execution_start messages (they
     carry the server's millisecond timestamp; progress frames take the same path).

usage: bench_server.py [COMFY_NATIVE_BINARY] [N]   (default build/comfy-native, N = 50)"""
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "server"))
import harness  # noqa: E402

CLI = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "build", "comfy-native")
N = int(sys.argv[2]) if len(sys.argv) > 2 else 50


def prompt():
    wf = json.load(open(os.path.join(HERE, "..", "workflows", "shapes", "txt2img.api.json")))
    for n in wf.values():
        if n["class_type"] == "EmptyLatentImage":
            n["inputs"].update(width=64, height=64)
        if "steps" in n["inputs"]:
            n["inputs"]["steps"] = 2
    return wf


def bench_run_per_prompt(wf):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "wf.json")
        json.dump(wf, open(path, "w"))

        def timed(k):
            t0 = time.perf_counter()
            subprocess.run([CLI, "run", path, "--quiet", "--output-dir", os.path.join(d, "out"),
                            "--seeds", ",".join(["7"] * k)], check=True)
            return time.perf_counter() - t0

        runs = 20 * N  # enough re-runs that process start-up noise averages out
        one = min(timed(1) for _ in range(3))
        many = min(timed(1 + runs) for _ in range(3))
        return (many - one) / runs


def bench_serve(wf):
    srv = harness.Server(CLI)
    try:
        cid = str(uuid.uuid4())
        sock = srv.ws(client_id=cid)
        sock.wait_for(lambda m: m["type"] == "status")
        for n in wf.values():
            if "seed" in n["inputs"]:
                n["inputs"]["seed"] = 7
        conn = http.client.HTTPConnection("127.0.0.1", srv.port)
        body = json.dumps({"prompt": wf, "client_id": cid})

        def post():
            conn.request("POST", "/prompt", body, {"Content-Type": "application/json"})
            return json.loads(conn.getresponse().read())["prompt_id"]

        sock.wait_done(post())  # warm: everything cached from here on
        lat, ws_lat = [], []
        for _ in range(N):
            t0 = time.perf_counter()
            pid = post()
            i = sock.wait_done(pid)
            lat.append(time.perf_counter() - t0)
            texts = sock.texts()
            k = [j for j in range(i) if texts[j]["type"] == "execution_start" and texts[j]["data"]["prompt_id"] == pid][0]
            ws_lat.append(sock.text_times[k] * 1000 - texts[k]["data"]["timestamp"])
        rps = {}
        for path in ("/object_info", "/queue"):
            count, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < 2.0:
                conn.request("GET", path)
                conn.getresponse().read()
                count += 1
            rps[path] = count / (time.perf_counter() - t0)
        return lat, ws_lat, rps
    finally:
        srv.cleanup()


def main():
    wf = prompt()
    lat, ws_lat, rps = bench_serve(wf)
    run_ms = bench_run_per_prompt(wf) * 1000
    serve_ms = statistics.median(lat) * 1000
    print(f"cached re-run, serve (POST -> executing null): median {serve_ms:.2f} ms, "
          f"p90 {sorted(lat)[int(0.9 * len(lat))] * 1000:.2f} ms over {N}")
    print(f"cached re-run, run (per seed in one process): {run_ms:.2f} ms")
    print(f"serve overhead per prompt: {serve_ms - run_ms:.2f} ms (goal < 5 ms)")
    for path, r in rps.items():
        print(f"GET {path}: {r:.0f} requests/s")
    print(f"websocket latency (execution_start timestamp -> client, ms resolution): median "
          f"{statistics.median(ws_lat):.2f} ms, max {max(ws_lat):.2f} ms")


if __name__ == "__main__":
    main()
