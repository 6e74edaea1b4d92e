#!/usr/bin/env python3
"""`comfy-native serve` against ComfyUI's recorded exchanges (../shared/server-traces): message types,
order, fields and HTTP status codes / bodies must match what the real ComfyUI v0.8.0 server did
(ids, timestamps, versions, model-specific values aside). The traces ran the tiny SD1.5 checkpoint;
here the same graphs run on the embedded `builtin:shapes` model.

usage: test_protocol.py COMFY_NATIVE_BINARY SERVER_TRACES_DIR"""
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid

import harness
from harness import Failure, Server, check, eq, load_trace, shapes_prompt, trace_messages
import pngutil

CLI = None
S = None  # the shared server of the sequential protocol tests


def summary(msg):
    """What must match between a trace message and ours (ids, timestamps and file names aside)."""
    t, d = msg["type"], msg["data"]
    if t == "status":
        return (t, d["status"]["exec_info"]["queue_remaining"], "sid" in d)
    if t == "execution_cached":
        return (t, tuple(d["nodes"]))
    if t == "executing":
        return (t, d["node"])
    if t == "progress":
        return (t, d["value"], d["max"], d["node"])
    if t == "progress_state":
        return (t, tuple((k, v["state"], float(v["value"]), float(v["max"])) for k, v in d["nodes"].items()))
    if t == "executed":
        return (t, d["node"], tuple(sorted(d["output"].keys())))
    if t in ("execution_interrupted", "execution_error"):
        return (t, d["node_id"], d["node_type"], tuple(d["executed"]))
    return (t,)


def keys_of(msg):
    return (msg["type"], tuple(sorted(msg["data"].keys())))


def compare_sequences(ours, trace, what):
    a, b = [summary(m) for m in ours], [summary(m) for m in trace]
    if a != b:
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                raise Failure(f"{what}: message {i} differs: ours {x} vs ComfyUI {y}\nours:  {a}\ntrace: {b}")
        raise Failure(f"{what}: {len(a)} messages vs ComfyUI's {len(b)}\nours:  {a}\ntrace: {b}")
    for m, t in zip(ours, trace):  # same fields in every message
        eq(keys_of(m), keys_of(t), f"{what}: fields of {m['type']}")


def post_prompt(prompt, **extra):
    body = {"prompt": prompt}
    body.update(extra)
    r = S.post("/prompt", body)
    eq(r.status, 200, f"POST /prompt status ({r.body[:300]!r})")
    return r.json()


def since(sock, start):
    return sock.texts()[start:]


# ---------------------------------------------------------------- 01 / 02: txt2img, then cached
STATE = {}


def test_txt2img_messages():
    tr = load_trace("01_txt2img.json")
    a = S.ws(client_id=str(uuid.uuid4()))
    b = S.ws()
    a.wait_for(lambda m: m["type"] == "status", what="A's first status")
    b.wait_for(lambda m: m["type"] == "status", what="B's first status")
    sid_b = b.texts()[0]["data"]["sid"]
    check(re.fullmatch(r"[0-9a-f]{32}", sid_b), f"server-made sid {sid_b!r} is not uuid4().hex")
    eq(a.texts()[0]["data"]["sid"], a_id(a), "A's sid is its clientId")

    prompt = shapes_prompt(tr["prompt_request"]["request"]["json"]["prompt"])
    resp = post_prompt(prompt, client_id=a_id(a))
    eq(sorted(resp.keys()), sorted(tr["prompt_request"]["response"]["json"].keys()), "POST /prompt response keys")
    check(isinstance(resp["number"], int), "number is an int when the client gave none")
    eq(resp["node_errors"], {}, "node_errors")
    pid = resp["prompt_id"]
    a.wait_done(pid)
    b.wait_for(lambda m: m["type"] == "status" and m["data"]["status"]["exec_info"]["queue_remaining"] == 0
               and "sid" not in m["data"], what="B's final status")
    time.sleep(0.2)
    compare_sequences(a.texts(), trace_messages(tr["messages"], "A("), "socket A (client)")
    compare_sequences(b.texts(), trace_messages(tr["messages"], "B("), "socket B (other client)")
    for m in a.texts():
        if m["type"] in ("execution_start", "execution_cached", "execution_success"):
            check(isinstance(m["data"]["timestamp"], int), "timestamp is integer ms")
        if "prompt_id" in m["data"]:
            eq(m["data"]["prompt_id"], pid, f"{m['type']}.prompt_id")
    executed = [m for m in a.texts() if m["type"] == "executed"][0]["data"]["output"]["images"][0]
    eq(sorted(executed.keys()), ["filename", "subfolder", "type"], "executed image entry")
    eq(executed["type"], "output", "image type")

    # history entry shape (trace "after")
    h = S.get(f"/history/{pid}")
    eq(h.status, 200, "GET /history/{id}")
    entry = h.json()[pid]
    ref_hist = [x for x in tr["after"] if x["request"]["path"].startswith("/history/")][0]["response"]["json"]
    ref = list(ref_hist.values())[0]
    eq(list(entry.keys()), list(ref.keys()), "history entry keys (in order)")
    eq(len(entry["prompt"]), 5, "queue item has 5 elements")
    eq(entry["prompt"][1], pid, "item prompt_id")
    eq(entry["prompt"][2], prompt, "item prompt is the prompt as submitted")
    eq(sorted(entry["prompt"][3].keys()), sorted(ref["prompt"][3].keys()), "extra_data keys")
    eq(entry["prompt"][4], ref["prompt"][4], "outputs_to_execute")
    eq(entry["outputs"]["9"]["images"][0], executed, "history outputs = the executed UI")
    eq({k: v for k, v in entry["status"].items() if k != "messages"},
       {k: v for k, v in ref["status"].items() if k != "messages"}, "history status")
    eq([m[0] for m in entry["status"]["messages"]], [m[0] for m in ref["status"]["messages"]], "history status messages")
    eq(entry["meta"], ref["meta"], "history meta")

    # the image through /view
    v = S.get(f"/view?filename={executed['filename']}&type=output&subfolder=")
    eq(v.status, 200, "GET /view")
    eq(v.headers.get("content-type"), "image/png", "/view Content-Type")
    eq(v.headers.get("content-disposition"), f'filename="{executed["filename"]}"', "/view Content-Disposition")
    w, hgt, _, _, _ = pngutil.read_png(v.body)
    check(w > 0 and hgt > 0, "a decodable PNG")
    with open(os.path.join(S.dir("output"), executed["filename"]), "rb") as f:
        eq(f.read(), v.body, "/view returns the file's bytes")
    STATE.update(prompt=prompt, a=a, b=b, pid=pid, filename=executed["filename"])


def a_id(sock):
    return sock.client_id


def test_cached_rerun():
    tr = load_trace("02_txt2img_cached.json")
    a, b = STATE["a"], STATE["b"]
    start_a, start_b = len(a.texts()), len(b.texts())
    resp = post_prompt(STATE["prompt"], client_id=a_id(a))
    a.wait_done(resp["prompt_id"])
    time.sleep(0.2)
    compare_sequences(since(a, start_a), trace_messages(tr["messages"], "A("), "cached re-run, socket A")
    compare_sequences(since(b, start_b), trace_messages(tr["messages"], "B("), "cached re-run, socket B")
    ex = [m for m in since(a, start_a) if m["type"] == "executed"][0]
    eq(ex["data"]["output"]["images"][0]["filename"], STATE["filename"], "cached executed replays the old file name")
    files = [f for f in os.listdir(S.dir("output")) if f.endswith(".png")]
    eq(len(files), 1, "a fully cached re-run writes no new file")


def test_new_seed_reruns_only_the_sampler_path():
    a = STATE["a"]
    start = len(a.texts())
    p = json.loads(json.dumps(STATE["prompt"]))
    p["3"]["inputs"]["seed"] = 4242
    resp = post_prompt(p, client_id=a_id(a))
    a.wait_done(resp["prompt_id"])
    msgs = since(a, start)
    cached = [m for m in msgs if m["type"] == "execution_cached"][0]["data"]["nodes"]
    eq(cached, ["4", "5", "6", "7"], "execution_cached names the reused nodes (prompt order)")
    ran = [m["data"]["node"] for m in msgs if m["type"] == "executing" and m["data"]["node"] is not None]
    eq(ran, ["3", "8", "9"], "only the sampler path runs")


# ---------------------------------------------------------------- 03: invalid prompts
def test_invalid_prompts():
    tr = load_trace("03_invalid_prompts.json")
    a = STATE["a"]
    start = len(a.texts())
    for ex in tr["exchanges"]:
        body = json.loads(json.dumps(ex["request"]["json"]))
        if "prompt" in body:
            for n in body["prompt"].values():
                if n.get("class_type") == "CheckpointLoaderSimple" and n["inputs"].get("ckpt_name") == "tiny-sd15.safetensors":
                    n["inputs"]["ckpt_name"] = "builtin:shapes"
        r = S.post("/prompt", body)
        want = ex["response"]
        what = ex.get("label", "invalid prompt")
        eq(r.status, want["status"], f"{what}: status")
        got, ref = r.json(), want["json"]
        eq(list(got.keys()), list(ref.keys()), f"{what}: body keys")
        for k in ("type", "message"):
            eq(got["error"][k], ref["error"][k], f"{what}: error.{k}")
        eq(got["error"]["details"], ref["error"]["details"], f"{what}: error.details")
        eq(got["error"]["extra_info"], {}, f"{what}: error.extra_info")
        eq(sorted(got["node_errors"].keys()), sorted(ref["node_errors"].keys()), f"{what}: node_errors ids")
        for nid, ne in ref["node_errors"].items():
            g = got["node_errors"][nid]
            eq(g["class_type"], ne["class_type"], f"{what}: class_type")
            eq(g["dependent_outputs"], ne["dependent_outputs"], f"{what}: dependent_outputs")
            eq([e["type"] for e in g["errors"]], [e["type"] for e in ne["errors"]], f"{what}: error types")
            for ge, re_ in zip(g["errors"], ne["errors"]):
                eq(ge["message"], re_["message"], f"{what}: message")
                if re_["type"] == "value_not_in_list":  # the choice list is the model's
                    eq(ge["details"].split(" not in ")[0], re_["details"].split(" not in ")[0], f"{what}: details")
                elif re_["type"] != "exception_during_inner_validation":
                    eq(ge["details"], re_["details"], f"{what}: details")
                must = set(re_["extra_info"].keys()) - {"traceback", "exception_type", "exception_message", "linked_node"}
                check(must <= set(ge["extra_info"].keys()), f"{what}: extra_info keys {sorted(ge['extra_info'])} lack {sorted(must)}")
                if "input_name" in re_["extra_info"] and re_["type"] != "exception_during_inner_validation":
                    eq(ge["extra_info"]["input_name"], re_["extra_info"]["input_name"], f"{what}: input_name")
    time.sleep(0.2)
    eq(since(a, start), [], "no websocket message for rejected prompts")


def test_malformed_bodies():
    for body in (b"{not json", b"[1, 2]", b'{"prompt": [1, 2]}', b'{"prompt": {}, "number": "x"}'):
        r = S.request("POST", "/prompt", body, headers={"Content-Type": "application/json"})
        eq(r.status, 400, f"POST /prompt {body!r}")
        j = r.json()
        eq(sorted(j.keys()), ["error", "node_errors"], f"{body!r}: ComfyUI's error body")
        eq(sorted(j["error"].keys()), ["details", "extra_info", "message", "type"], f"{body!r}: error object")
    # the examples post JSON as application/x-www-form-urlencoded: still JSON
    r = S.request("POST", "/prompt", json.dumps({"prompt": {}}).encode(),
                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    eq(r.status, 400, "empty prompt")
    eq(r.json()["error"]["type"], "prompt_no_outputs", "form-encoded JSON is read as JSON")
    # optional-body routes read invalid JSON as {}
    eq(S.request("POST", "/interrupt", b"garbage").status, 200, "/interrupt with a broken body")


# ---------------------------------------------------------------- 04: interrupt and queue
def long_prompt(seed, steps=10000):
    p = json.loads(json.dumps(STATE["prompt"]))
    p["3"]["inputs"].update(seed=seed, steps=steps)
    p["5"]["inputs"].update(width=128, height=128)  # like the trace: a new latent size, so node 5 runs
    return p


def test_interrupt_and_queue():
    tr = load_trace("04_interrupt_and_queue.json")
    a = STATE["a"]
    start = len(a.texts())
    first = post_prompt(long_prompt(7), client_id=a_id(a))["prompt_id"]
    second = post_prompt(long_prompt(8), client_id=a_id(a))["prompt_id"]
    a.wait_for(lambda m: m["type"] == "progress" and m["data"]["prompt_id"] == first, what="first sampler step")
    q = S.get("/queue").json()
    eq(list(q.keys()), ["queue_running", "queue_pending"], "GET /queue keys")
    eq([i[1] for i in q["queue_running"]], [first], "running item")
    eq([i[1] for i in q["queue_pending"]], [second], "pending item")
    eq(len(q["queue_running"][0]), 5, "queue item length")
    eq(S.get("/prompt").json(), {"exec_info": {"queue_remaining": 2}}, "GET /prompt")
    r = S.post("/queue", {"delete": [second]})
    eq((r.status, r.body), (200, b""), "POST /queue delete: empty 200")
    eq(S.get("/queue").json()["queue_pending"], [], "deleted item left the queue")
    r = S.post("/interrupt", {})
    eq((r.status, r.body), (200, b""), "POST /interrupt: empty 200")
    a.wait_done(first, timeout=60)
    time.sleep(0.2)
    ours = [m for m in since(a, start) if m["type"] not in ("status", "progress", "progress_state")]
    ref = [m for m in trace_messages(tr["messages"], "A(") if m["type"] not in ("status", "progress", "progress_state")]
    compare_sequences(ours, ref, "interrupted run (without status/progress)")
    hist = S.get(f"/history/{first}").json()[first]
    eq(hist["status"]["status_str"], "error", "interrupted: status_str")
    eq(hist["status"]["completed"], False, "interrupted: completed")
    eq(hist["status"]["messages"][-1][0], "execution_interrupted", "last history message")
    eq(S.get(f"/history/{second}").json(), {}, "deleted prompt has no history")
    # the queue goes on after an interrupt
    again = post_prompt(STATE["prompt"], client_id=a_id(a))["prompt_id"]
    a.wait_done(again)
    eq(S.get(f"/history/{again}").json()[again]["status"]["status_str"], "success", "next prompt runs")


def test_failing_prompt_does_not_stop_the_queue():
    a = STATE["a"]
    with open(os.path.join(S.dir("input"), "broken.latent"), "wb") as f:
        f.write(b"this is not a safetensors file")
    bad = {"1": {"class_type": "LoadLatent", "inputs": {"latent": "broken.latent"}},
           "2": {"class_type": "SaveLatent", "inputs": {"samples": ["1", 0], "filename_prefix": "bad"}}}
    r = S.post("/prompt", {"prompt": bad, "client_id": a_id(a)})
    if r.status != 200:
        raise Failure(f"the broken-latent prompt should pass validation: {r.body[:300]!r}")
    bad_id = r.json()["prompt_id"]
    good = post_prompt(STATE["prompt"], client_id=a_id(a))["prompt_id"]
    a.wait_done(bad_id)
    a.wait_done(good)
    errs = [m for m in a.texts() if m["type"] == "execution_error" and m["data"]["prompt_id"] == bad_id]
    eq(len(errs), 1, "one execution_error")
    eq(sorted(errs[0]["data"].keys()),
       sorted(["prompt_id", "node_id", "node_type", "executed", "exception_message", "exception_type", "traceback",
               "current_inputs", "current_outputs", "timestamp"]), "execution_error fields")
    eq(errs[0]["data"]["node_id"], "1", "failing node")
    eq(S.get(f"/history/{bad_id}").json()[bad_id]["status"]["status_str"], "error", "failed prompt in history")
    eq(S.get(f"/history/{good}").json()[good]["status"]["status_str"], "success", "next prompt succeeded")
    check(not any(n.startswith("bad") for n in os.listdir(S.dir("output"))), "no output from the failed prompt")


# ---------------------------------------------------------------- 06: GET routes
def test_get_routes():
    tr = load_trace("06_get_routes.json")
    for ex in tr["exchanges"]:
        path, want = ex["request"]["path"], ex["response"]
        if path.startswith("/view?filename=trace_"):
            path = path.replace("trace_00001_.png", STATE["filename"])
        if path.startswith("/history"):
            continue  # history content depends on what ran; checked elsewhere
        r = S.get(path)
        eq(r.status, want["status"], f"GET {path}: status")
        if want["status"] != 200:
            eq(r.body, b"", f"GET {path}: empty body")
            continue
        ct = want["headers"].get("Content-Type")
        if ct and not path.startswith("/view"):
            eq(r.headers.get("content-type"), ct, f"GET {path}: Content-Type")
        if "json" not in want:
            continue
        got, ref = r.json(), want["json"]
        if path.startswith("/object_info/"):
            eq(list(got.keys()), list(ref.keys()), f"GET {path}: classes")
            for cls in ref:
                must = set(ref[cls].keys()) - {"output_tooltips", "api_node", "search_aliases", "essentials_category"}
                check(must <= set(got[cls].keys()), f"{cls}: object_info lacks {sorted(must - set(got[cls].keys()))}")
                eq(got[cls]["input_order"], ref[cls]["input_order"], f"{cls}: input_order")
                eq(got[cls]["output"], ref[cls]["output"], f"{cls}: output")
                eq(got[cls]["output_node"], ref[cls]["output_node"], f"{cls}: output_node")
        elif path in ("/system_stats", "/api/system_stats"):
            eq(list(got.keys()), list(ref.keys()), "system_stats keys")
            eq(list(got["system"].keys()), list(ref["system"].keys()), "system_stats.system keys")
            eq(list(got["devices"][0].keys()), list(ref["devices"][0].keys()), "system_stats.devices keys")
            eq(got["system"]["comfyui_version"], "0.8.0", "comfyui_version")
            eq(got["system"]["os"], "linux", "os")
        elif path == "/models/checkpoints":
            eq(got, [], "no checkpoint files in the scratch models folder")
        elif path in ("/users",):
            eq(sorted(got.keys()), sorted(ref.keys()), "/users keys")
        elif path in ("/queue", "/prompt") or path.startswith("/queue"):
            eq(type(got), type(ref), f"GET {path}")
        else:
            eq(got, ref, f"GET {path}")
    for path in ("/view?filename=" + STATE["filename"] + "&channel=a", "/view?filename=" + STATE["filename"] + "&channel=rgb"):
        w, h, ch, rows, _ = pngutil.read_png(S.get(path).body)
        if "channel=a" in path:
            eq(ch, 4, "channel=a is RGBA")
            check(all(rows[y][x * 4:x * 4 + 3] == b"\0\0\0" and rows[y][x * 4 + 3] == 255 for y in range(h) for x in range(w)),
                  "channel=a: black RGB, alpha 255 for an opaque image")
        else:
            eq(ch, 3, "channel=rgb drops alpha")
    prev = S.get("/view?filename=" + STATE["filename"] + "&preview=jpeg;50")
    eq(prev.status, 200, "preview")
    check(prev.body[:2] == b"\xff\xd8", "preview=jpeg is a JPEG")
    for p in ("/api/queue", "/api/prompt", "/api/object_info/KSampler", "/api/features", "/api/history"):
        eq(S.get(p).status, 200, f"GET {p} (the /api form)")
    listed = S.get("/object_info").json()
    names = subprocess.run([CLI, "nodes"], capture_output=True, text=True, check=True).stdout.split("\n")
    eq(sorted(listed.keys()), sorted(line.split("\t")[0] for line in names if line), "/object_info lists every class")


def test_view_never_leaves_its_folders():
    out = S.dir("output")
    os.symlink("/etc", os.path.join(out, "etc_link"))
    os.symlink("/etc/hostname", os.path.join(out, "host.png"))
    cases = {
        "/view?filename=..%2F..%2Fetc%2Fpasswd": 400,
        "/view?filename=%2Fetc%2Fpasswd": 400,
        "/view?filename=passwd&subfolder=%2Fetc": 403,
        "/view?filename=passwd&subfolder=..%2F..%2F..%2F..%2F..%2Fetc": 403,
        "/view?filename=passwd&subfolder=etc_link": 403,
        "/view?filename=host.png": 403,
        "/view?filename=a%00.png": 400,
        "/view?filename=x.png&type=..": 400,
        "/view?filename=hostname%20%5Boutput%5D&subfolder=etc_link": 403,
        "/view": 404,
    }
    for path, status in cases.items():
        r = S.get(path)
        check(r.status == status, f"GET {path}: expected {status}, got {r.status}")
        check(b"root:" not in r.body, f"GET {path} leaked a system file")
    r = S.get("/view/../../etc/passwd")
    check(r.status in (400, 404), f"path traversal in the URL path: {r.status}")
    os.remove(os.path.join(out, "etc_link"))
    os.remove(os.path.join(out, "host.png"))


# ---------------------------------------------------------------- 07: uploads
def test_uploads():
    tr = load_trace("07_upload.json")
    png_a = pngutil.write_png(64, 64, lambda x, y: (x * 4, y * 4, 128, 255))
    png_b = pngutil.write_png(64, 64, lambda x, y: (255 - x * 4, y * 4, 0, 255))
    png_c = pngutil.write_png(64, 64, lambda x, y: (10, 20, 30, 255))
    mask = pngutil.write_png(64, 64, lambda x, y: (0, 0, 0, 255 if x < 32 else 0))
    ex = tr["exchanges"]

    def up(fields, filename, data, expect, path="/upload/image"):
        r = S.upload(path, fields, "image" if filename else None, filename, data)
        eq(r.status, expect["status"], f"upload {fields} {filename}: status ({r.body[:200]!r})")
        if expect["status"] == 200:
            eq(r.json(), expect["json"], f"upload {fields} {filename}: body")
            eq(r.headers.get("content-type"), "application/json; charset=utf-8", "upload Content-Type")
        else:
            eq(r.body, b"", "upload rejection: empty body")
        return r

    up({}, "upload_test.png", png_a, ex[0]["response"])
    up({}, "upload_test.png", png_a, ex[1]["response"])          # same bytes: reused
    up({}, "upload_test.png", png_b, ex[2]["response"])          # other bytes: "(1)"
    up({"overwrite": "true"}, "upload_test.png", png_c, ex[3]["response"])
    with open(os.path.join(S.dir("input"), "upload_test.png"), "rb") as f:
        eq(f.read(), png_c, "overwrite replaced the file")
    up({"subfolder": "sub/dir", "type": "temp"}, "upload_test.png", png_a, ex[4]["response"])
    check(os.path.isfile(os.path.join(S.dir("temp"), "sub", "dir", "upload_test.png")), "temp/sub/dir upload")
    up({"subfolder": "../../x"}, "evil.png", png_a, ex[5]["response"])
    up({}, None, b"", ex[6]["response"])
    for evil in ("../evil.png", "/tmp/evil.png"):
        r = S.upload("/upload/image", {}, "image", evil, png_a)
        eq(r.status, 400, f"upload named {evil!r}")
    for root, _, files in os.walk(S.root):
        check("evil.png" not in files, f"an escaping upload was stored in {root}")
    check(not os.path.exists(os.path.join(os.path.dirname(S.root), "x")), "escaping subfolder created")

    ref = json.dumps({"filename": "upload_test (1).png", "subfolder": "", "type": "input"})
    m = ex[7]
    up({"original_ref": ref, "type": "input", "subfolder": "clipspace"}, "clipspace-mask-1.png", mask, m["response"],
       path="/upload/mask")
    with open(os.path.join(S.dir("input"), "clipspace", "clipspace-mask-1.png"), "rb") as f:
        w, h, ch, rows, _ = pngutil.read_png(f.read())
    _, _, _, brows, _ = pngutil.read_png(png_b)
    eq(ch, 4, "mask upload is RGBA")
    check(all(rows[y][x * 4:x * 4 + 3] == brows[y][x * 4:x * 4 + 3] for y in range(h) for x in range(w)),
          "mask upload keeps the original's RGB")
    check(all(rows[y][x * 4 + 3] == (255 if x < 32 else 0) for y in range(h) for x in range(w)),
          "mask upload takes the uploaded alpha")

    v = S.get("/view?filename=upload_test%20(1).png&type=input")
    eq(v.status, 200, "view of the renamed upload")
    eq(v.body, png_b, "renamed upload's bytes")
    eq(v.headers.get("content-disposition"), 'filename="upload_test (1).png"', "Content-Disposition")
    li = S.get("/object_info/LoadImage").json()["LoadImage"]["input"]["required"]["image"]
    eq(li, ex[9]["response"]["json"]["LoadImage"]["input"]["required"]["image"], "LoadImage's list after uploads")


def test_img2img_on_upload():
    a = STATE["a"]
    wf = json.load(open(os.path.join(SOURCE, "workflows", "shapes", "img2img.api.json")))
    png = pngutil.write_png(64, 64, lambda x, y: (200, 40, 40, 255) if (x - 32) ** 2 + (y - 32) ** 2 < 300 else (230, 230, 230, 255))
    r = S.upload("/upload/image", {}, "image", "img2img_src.png", png)
    eq(r.status, 200, "upload for img2img")
    for n in wf.values():
        if n["class_type"] == "LoadImage":
            n["inputs"]["image"] = r.json()["name"]
        if "steps" in n["inputs"]:
            n["inputs"]["steps"] = 3
    resp = post_prompt(wf, client_id=a_id(a))
    a.wait_done(resp["prompt_id"])
    entry = S.get(f"/history/{resp['prompt_id']}").json()[resp["prompt_id"]]
    eq(entry["status"]["status_str"], "success", f"img2img on the upload: {entry['status']['messages'][-1]}")
    imgs = [i for o in entry["outputs"].values() for i in o.get("images", [])]
    check(imgs, "img2img produced an image")
    eq(S.get(f"/view?filename={imgs[0]['filename']}&subfolder={imgs[0]['subfolder']}&type={imgs[0]['type']}").status, 200,
       "img2img output through /view")


# ---------------------------------------------------------------- 08: history / queue POST
def test_history_and_queue_posts():
    hist = S.get("/history").json()
    ids = list(hist.keys())
    check(len(ids) >= 3, "several prompts in history")
    last2 = S.get("/history?max_items=2").json()
    eq(list(last2.keys()), ids[-2:], "max_items=2 gives the last two, oldest first")
    eq(list(S.get("/history?max_items=1&offset=0").json().keys()), ids[:1], "offset=0&max_items=1")
    eq(S.get("/history?max_items=x").status, 500, "non-integer max_items -> 500, as ComfyUI")
    r = S.post("/history", {"delete": [ids[0]]})
    eq((r.status, r.body), (200, b""), "POST /history delete")
    eq(S.get(f"/history/{ids[0]}").json(), {}, "deleted history entry")
    eq(S.post("/queue", {"clear": True}).status, 200, "POST /queue clear")
    eq(S.post("/free", {"unload_models": True, "free_memory": True}).status, 200, "POST /free")
    a = STATE["a"]
    start = len(a.texts())
    pid = post_prompt(STATE["prompt"], client_id=a_id(a))["prompt_id"]
    a.wait_done(pid)
    cached = [m for m in since(a, start) if m["type"] == "execution_cached"][0]["data"]["nodes"]
    eq(cached, [], "after /free free_memory nothing is cached")
    eq(S.post("/history", {"clear": True}).status, 200, "POST /history clear")
    eq(S.get("/history").json(), {}, "history cleared")


# ---------------------------------------------------------------- 09: prompt options
def test_prompt_options():
    tr = load_trace("09_prompt_options.json")
    a, b = STATE["a"], STATE["b"]
    # (a) no client_id, client-chosen prompt_id: only status / progress / progress_state, to every socket
    sa, sb = len(a.texts()), len(b.texts())
    req = shapes_prompt(tr["a_no_client_id"]["prompt_request"]["request"]["json"]["prompt"])
    pid = "e5e5e5e5-0000-4000-8000-0000000000e5"
    r = post_prompt(req, prompt_id=pid)
    eq(r["prompt_id"], pid, "client-chosen prompt_id")
    deadline = time.time() + 60
    while not S.get(f"/history/{pid}").json() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    ref_types = {m["type"] for m in trace_messages(tr["a_no_client_id"]["messages"], "A(")}
    for sock, start, name in ((a, sa, "A"), (b, sb, "B")):
        types = {m["type"] for m in since(sock, start)}
        eq(types, ref_types, f"(a) message types at socket {name}")
    prog = [m for m in since(b, sb) if m["type"] == "progress"]
    eq([(m["data"]["value"], m["data"]["max"]) for m in prog], [(1, 2), (2, 2)], "(a) progress per step at every socket")

    # (b) partial_execution_targets + explicit number + extra_pnginfo
    body = json.loads(json.dumps(tr["b_partial_targets"]["prompt_request"]["request"]["json"]))
    body["prompt"] = shapes_prompt(body["prompt"])
    body["client_id"] = a_id(a)
    start = len(a.texts())
    r = S.post("/prompt", body)
    eq(r.status, 200, "(b) status")
    check(b'"number": 100.0' in r.body or b'"number":100.0' in r.body, f"(b) number echoes as a float: {r.body!r}")
    pid_b = r.json()["prompt_id"]
    a.wait_done(pid_b)
    ran = [m["data"]["node"] for m in since(a, start) if m["type"] == "executed"]
    eq(ran, ["10"], "(b) only the targeted PreviewImage runs")
    img = [m for m in since(a, start) if m["type"] == "executed"][0]["data"]["output"]["images"][0]
    eq(img["type"], "temp", "(b) PreviewImage writes to temp")
    check(img["filename"].startswith("ComfyUI_temp_"), "(b) PreviewImage name")
    ref_entry = list(tr["b_partial_targets"]["history"]["response"]["json"].values())[0]
    entry = S.get(f"/history/{pid_b}").json()[pid_b]
    eq(entry["prompt"][0], 100.0, "(b) history number")
    eq(entry["prompt"][4], ref_entry["prompt"][4], "(b) outputs_to_execute")
    eq(sorted(entry["prompt"][3].keys()), sorted(ref_entry["prompt"][3].keys()), "(b) extra_data keys")
    eq(entry["prompt"][3]["extra_pnginfo"], body["extra_data"]["extra_pnginfo"], "(b) extra_pnginfo kept")

    # (c) front: negative number; SaveImage runs now, the cached PreviewImage replays
    start = len(a.texts())
    r = post_prompt(body["prompt"], client_id=a_id(a), front=True)
    check(r["number"] < 0, f"(c) front gives a negative number ({r['number']})")
    a.wait_done(r["prompt_id"])
    ours = [m for m in since(a, start) if m["type"] not in ("status",)]
    ref = [m["text"] for m in tr["b_partial_targets"]["messages"] if "text" in m and m["ws"].startswith("A(")]
    ref = ref[[i for i, m in enumerate(ref) if m["type"] == "execution_start"][1]:]
    ref = [m for m in ref if m["type"] != "status"]
    compare_sequences(ours, ref, "(c) front run")


# ---------------------------------------------------------------- feature flags, ws details
def test_feature_flags():
    tr = load_trace("05_previews_binary.json")
    d = S.ws(client_id=str(uuid.uuid4()))
    d.wait_for(lambda m: m["type"] == "status")
    d.send({"type": "feature_flags", "data": {"supports_preview_metadata": True}})
    i = d.wait_for(lambda m: m["type"] == "feature_flags")
    eq(d.texts()[i]["data"], S.get("/features").json(), "feature_flags answer = GET /features")
    eq(S.get("/features").json(), tr["features"]["response"]["json"], "GET /features")
    d.ws.send("not json")  # ignored, the socket stays usable
    d.send({"type": "feature_flags", "data": {}})
    d.wait_for(lambda m: m["type"] == "feature_flags" and m is not d.texts()[i], what="second answer")
    d.close()


def frame_summary(sock, start_text):
    """Text and binary frames after the start_text-th text frame, binary ones decoded (spec 4.4)."""
    out, n = [], 0
    with sock.cv:
        frames = list(sock.frames)
    for kind, f in frames:
        if kind == "text":
            n += 1
            if n > start_text:
                out.append(("text", f["type"]))
        elif n >= start_text:
            event = int.from_bytes(f[:4], "big")
            if event == 1:
                out.append(("bin", 1, int.from_bytes(f[4:8], "big"), f[8:10] == b"\xff\xd8"))
            else:
                ln = int.from_bytes(f[4:8], "big")
                meta = json.loads(f[8:8 + ln])
                out.append(("bin", event, tuple(meta.keys()), f[8 + ln:10 + ln] == b"\xff\xd8"))
    return out


def test_latent_previews():
    tr = load_trace("05_previews_binary.json")
    for run, flags in (("run_C", False), ("run_D", True)):
        ref = []
        for m in tr[run]["messages"]:
            if "text" in m:
                ref.append(("text", m["text"]["type"]))
            else:
                b = m["binary"]
                if b["event_type"] == 1:
                    ref.append(("bin", 1, 1, True))
                else:
                    ref.append(("bin", 4, tuple(b["metadata"].keys()), True))
        sock = S.ws(client_id=str(uuid.uuid4()))
        sock.wait_for(lambda m: m["type"] == "status")
        if flags:
            sock.send({"type": "feature_flags", "data": {"supports_preview_metadata": True}})
            sock.wait_for(lambda m: m["type"] == "feature_flags")
        body = json.loads(json.dumps(tr[run]["prompt_request"]["request"]["json"]))
        body["prompt"] = shapes_prompt(body["prompt"])
        body["client_id"] = a_id(sock)
        r = S.post("/prompt", body)
        eq(r.status, 200, f"{run}: queued")
        sock.wait_done(r.json()["prompt_id"])
        time.sleep(0.2)
        ours = frame_summary(sock, 0)
        # the sampler's steps (which other nodes run depends on what is cached)
        def window(seq):
            idx = [k for k, x in enumerate(seq) if x == ("text", "progress")]
            check(idx, f"{run}: no progress messages")
            return seq[idx[0] - (2 if flags else 1):idx[-1] + (1 if flags else 2)]
        eq(window(ours), window(ref), f"{run}: sampler steps with binary previews in ComfyUI's order")
        sock.close()
    # the server default (--preview-method none) sends no binary frame
    sock = S.ws(client_id=str(uuid.uuid4()))
    sock.wait_for(lambda m: m["type"] == "status")
    p = json.loads(json.dumps(STATE["prompt"]))
    p["3"]["inputs"]["seed"] = 555
    pid = post_prompt(p, client_id=a_id(sock))["prompt_id"]
    sock.wait_done(pid)
    check(not any(k == "binary" for k, _ in sock.frames), "no previews by default")
    sock.close()


def test_sigterm_aborts_and_leaves_no_partial_output():
    srv = Server(CLI)
    try:
        sock = srv.ws(client_id="sig")
        sock.wait_for(lambda m: m["type"] == "status")
        p = long_prompt(99)
        r = srv.post("/prompt", {"prompt": p, "client_id": "sig"})
        eq(r.status, 200, "queue a long prompt")
        sock.wait_for(lambda m: m["type"] == "progress", what="a sampler step")
        t0 = time.time()
        rc = srv.stop(signal.SIGTERM, timeout=30)
        eq(rc, 0, "exit status after SIGTERM")
        check(time.time() - t0 < 20, "SIGTERM stops the running prompt promptly")
        eq([f for f in os.listdir(srv.dir("output"))], [], "no (partial) output file")
    finally:
        srv.cleanup()


def test_api_token():
    srv = Server(CLI, ["--api-token", "s3cret"])
    try:
        eq(srv.get("/prompt").status, 401, "no token")
        eq(srv.get("/prompt", headers={"Authorization": "Bearer wrong"}).status, 401, "wrong token")
        eq(srv.get("/prompt", headers={"Authorization": "Bearer s3cret"}).status, 200, "Bearer token")
        eq(srv.get("/prompt?token=s3cret").status, 200, "?token=")
        eq(srv.get("/api/object_info/KSampler?token=s3cret").status, 200, "?token= on /api routes")
        eq(srv.get("/view?filename=x.png").status, 401, "/view needs the token too")
        try:
            s = srv.ws(client_id="x")
            s.close()
            raise Failure("websocket accepted without the token")
        except websocket.WebSocketException:
            pass
        s = srv.ws(client_id="x", query="token=s3cret")
        s.wait_for(lambda m: m["type"] == "status")
        s.close()
    finally:
        srv.cleanup()


def test_upload_limit():
    srv = Server(CLI, ["--max-upload-size", "0.01"])  # 10 KiB
    try:
        big = pngutil.write_png(200, 200, lambda x, y: ((x * 7919 + y * 104729) % 256, (x * y) % 256, (x ^ y) % 256, 255))
        check(len(big) > 20000, "test image is larger than the limit")
        r = srv.upload("/upload/image", {}, "image", "big.png", big)
        eq(r.status, 413, "upload over --max-upload-size")
        check(not os.listdir(srv.dir("input")), "nothing stored")
        eq(srv.get("/features").json()["max_upload_size"], int(0.01 * 1024 * 1024), "features.max_upload_size")
        small = pngutil.write_png(8, 8, lambda x, y: (1, 2, 3, 255))
        eq(srv.upload("/upload/image", {}, "image", "small.png", small).status, 200, "small upload still works")
    finally:
        srv.cleanup()


def test_origin_check():
    eq(S.get("/prompt", headers={"Origin": "http://evil.example", "Host": f"127.0.0.1:{S.port}"}).status, 403,
       "cross-origin request to a loopback server")
    eq(S.get("/prompt", headers={"Origin": f"http://127.0.0.1:{S.port}", "Host": f"127.0.0.1:{S.port}"}).status, 200,
       "same origin")


def main():
    global CLI, S, SOURCE, websocket
    import websocket as ws_mod
    websocket = ws_mod
    CLI, harness.TRACES = sys.argv[1], sys.argv[2]
    SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    S = Server(CLI)
    try:
        tests = [
            ("Txt2imgMessagesMatchComfyUI", test_txt2img_messages),
            ("CachedRerunMatchesComfyUI", test_cached_rerun),
            ("NewSeedRerunsOnlyTheSamplerPath", test_new_seed_reruns_only_the_sampler_path),
            ("InvalidPromptsGetComfyUIsBodies", test_invalid_prompts),
            ("MalformedBodiesGet400", test_malformed_bodies),
            ("InterruptAndQueueOps", test_interrupt_and_queue),
            ("FailingPromptDoesNotStopTheQueue", test_failing_prompt_does_not_stop_the_queue),
            ("GetRoutesMatchComfyUI", test_get_routes),
            ("ViewNeverLeavesItsFolders", test_view_never_leaves_its_folders),
            ("UploadsFollowComfyUIsNaming", test_uploads),
            ("Img2imgOnAnUploadedImage", test_img2img_on_upload),
            ("HistoryAndQueuePosts", test_history_and_queue_posts),
            ("PromptOptions", test_prompt_options),
            ("FeatureFlags", test_feature_flags),
            ("LatentPreviewFrames", test_latent_previews),
            ("OriginCheck", test_origin_check),
            ("ApiToken", test_api_token),
            ("UploadLimit", test_upload_limit),
            ("SigtermLeavesNoPartialOutput", test_sigterm_aborts_and_leaves_no_partial_output),
        ]
        only = os.environ.get("ONLY")
        if only:
            tests = [t for t in tests if any(o in t[0] for o in only.split(","))]
        return harness.run_tests(tests)
    finally:
        S.cleanup()


if __name__ == "__main__":
    sys.exit(main())
