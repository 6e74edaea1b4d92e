"""Test harness for `comfy-native serve`: starts the server on a free loopback port with scratch
folders, and offers raw HTTP and websocket helpers (Python's urllib / http.client and Debian's
python3-websocket). Every test is bounded in time; nothing talks to anything but 127.0.0.1."""
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

import websocket  # python3-websocket

TRACES = None  # set by main(): ../shared/server-traces


class Failure(AssertionError):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def eq(actual, expected, what):
    if actual != expected:
        raise Failure(f"{what}: expected {expected!r}, got {actual!r}")


class Server:
    """One `comfy-native serve` process with its own input/output/temp/user folders."""

    def __init__(self, cli, extra_args=(), root=None):
        self.root = root or tempfile.mkdtemp(prefix="cn-serve-")
        for d in ("input", "output", "temp", "user", "models/checkpoints"):
            os.makedirs(os.path.join(self.root, d), exist_ok=True)
        args = [cli, "serve", "--port", "0", "--output-dir", self.dir("output"), "--input-dir", self.dir("input"),
                "--temp-dir", self.dir("temp"), "--user-directory", self.dir("user"),
                "--models-dir", self.dir("models"), "--quiet", *extra_args]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)", line or "")
        if not m:
            err = self.proc.stderr.read() if self.proc.poll() is not None else ""
            self.proc.kill()
            raise Failure(f"server did not start: {line!r} {err}")
        self.port = int(m.group(1))
        self.host = f"127.0.0.1:{self.port}"

    def dir(self, name):
        return os.path.join(self.root, name)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise Failure("server did not stop after SIGTERM")
        return self.proc.returncode

    def cleanup(self):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def rss_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    # ---- HTTP
    def request(self, method, path, body=None, headers=None, timeout=60):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        hdrs = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        data = r.read()
        resp = Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
        conn.close()
        return resp

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body if body is not None else {}, **kw)

    def upload(self, path, fields, file_field=None, filename=None, data=b"", **kw):
        boundary = "----cn" + uuid.uuid4().hex
        parts = []
        for k, v in fields.items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode())
        if file_field:
            parts.append((f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; filename="{filename}"\r\n'
                          f"Content-Type: image/png\r\n\r\n").encode() + data + b"\r\n")
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return self.request("POST", path, body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}, **kw)

    # ---- websocket
    def ws(self, client_id=None, query=""):
        url = f"ws://127.0.0.1:{self.port}/ws"
        q = []
        if client_id:
            q.append("clientId=" + urllib.parse.quote(client_id))
        if query:
            q.append(query)
        if q:
            url += "?" + "&".join(q)
        return Socket(url)


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)


class Socket:
    """A websocket that collects every frame in a background thread."""

    def __init__(self, url, timeout=30):
        self.url = url
        self.client_id = urllib.parse.parse_qs(urllib.parse.urlparse(url).query).get("clientId", [None])[0]
        self.ws = websocket.create_connection(url, timeout=timeout)
        self.frames = []  # ("text", dict) | ("binary", bytes)
        self.text_times = []  # arrival time (time.time()) of each text frame
        self.cv = threading.Condition()
        self.closed = False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        self.ws.settimeout(None)
        try:
            while True:
                op, data = self.ws.recv_data()
                with self.cv:
                    if op == websocket.ABNF.OPCODE_TEXT:
                        self.frames.append(("text", json.loads(data.decode())))
                        self.text_times.append(time.time())
                    elif op == websocket.ABNF.OPCODE_BINARY:
                        self.frames.append(("binary", data))
                    elif op == websocket.ABNF.OPCODE_CLOSE:
                        break
                    self.cv.notify_all()
        except Exception:
            pass
        with self.cv:
            self.closed = True
            self.cv.notify_all()

    def send(self, obj):
        self.ws.send(json.dumps(obj))

    def texts(self):
        with self.cv:
            return [f[1] for f in self.frames if f[0] == "text"]

    def wait_for(self, pred, timeout=60, what="message"):
        """Waits until some text message satisfies pred; returns the index of it in texts()."""
        deadline = time.time() + timeout
        with self.cv:
            while True:
                msgs = [f[1] for f in self.frames if f[0] == "text"]
                for i, m in enumerate(msgs):
                    if pred(m):
                        return i
                left = deadline - time.time()
                if left <= 0 or self.closed:
                    raise Failure(f"timed out waiting for {what}; got {[m['type'] for m in msgs]}")
                self.cv.wait(left)

    def wait_done(self, prompt_id, timeout=120):
        return self.wait_for(lambda m: m["type"] == "executing" and m["data"].get("node") is None
                             and m["data"].get("prompt_id") == prompt_id, timeout, f"completion of {prompt_id}")

    def close(self):
        try:
            self.ws.close()
        except Exception:
            pass


def load_trace(name):
    with open(os.path.join(TRACES, name)) as f:
        return json.load(f)


def shapes_prompt(trace_prompt):
    """A trace's prompt with the tiny checkpoint swapped for the embedded model."""
    p = json.loads(json.dumps(trace_prompt))
    for node in p.values():
        if node.get("class_type") == "CheckpointLoaderSimple":
            node["inputs"]["ckpt_name"] = "builtin:shapes"
    return p


def trace_messages(trace_msgs, ws_prefix):
    return [m["text"] for m in trace_msgs if "text" in m and m["ws"].startswith(ws_prefix)]


def run_tests(tests):
    failed = 0
    for name, fn in tests:
        t0 = time.time()
        try:
            fn()
            print(f"[  OK  ] {name} ({time.time() - t0:.1f}s)", flush=True)
        except Exception as e:  # noqa: BLE001 - report and go on
            failed += 1
            print(f"[FAILED] {name}: {type(e).__name__}: {e}", flush=True)
    print(f"{len(tests) - failed}/{len(tests)} passed", flush=True)
    return 1 if failed else 0
