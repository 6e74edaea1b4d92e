// @saintno/comfyui-sdk (npm) against `comfy-native serve`: txt2img on builtin:shapes with progress
// over the websocket, the image through /view, upload + img2img, interrupting a long run, queue and
// history operations, /free. Exits non-zero on the first failure.
import { ComfyApi, CallWrapper, PromptBuilder } from "@saintno/comfyui-sdk";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";

const [cli, src] = process.argv.slice(2);
const root = fs.mkdtempSync(path.join(os.tmpdir(), "cn-npm-"));
for (const d of ["input", "output", "temp", "user", "models"]) fs.mkdirSync(path.join(root, d));
const server = spawn(cli, ["serve", "--port", "0", "--quiet", "--output-dir", path.join(root, "output"),
  "--input-dir", path.join(root, "input"), "--temp-dir", path.join(root, "temp"),
  "--user-directory", path.join(root, "user"), "--models-dir", path.join(root, "models")], { stdio: ["ignore", "pipe", "inherit"] });
const port = await new Promise((resolve, reject) => {
  const rl = readline.createInterface({ input: server.stdout });
  rl.once("line", (l) => { const m = /127\.0\.0\.1:(\d+)/.exec(l); m ? resolve(m[1]) : reject(new Error("no port: " + l)); });
  server.once("exit", (c) => reject(new Error("server exited " + c)));
});
const watchdog = setTimeout(() => fail("timed out"), 240000);
let failures = 0;
function fail(msg) { console.error("[FAILED] " + msg); failures++; finish(1); }
function check(cond, msg) { if (!cond) throw new Error(msg); }
async function step(name, fn) {
  const t0 = Date.now();
  try { await fn(); console.log(`[  OK  ] ${name} (${((Date.now() - t0) / 1000).toFixed(1)}s)`); }
  catch (e) { console.error(`[FAILED] ${name}: ${e && e.stack || e}`); failures++; }
}
function finish(code) {
  clearTimeout(watchdog);
  try { api.destroy(); } catch {}
  server.kill("SIGTERM");
  fs.rmSync(root, { recursive: true, force: true });
  process.exit(code);
}

const txt2img = JSON.parse(fs.readFileSync(path.join(src, "workflows/shapes/txt2img.api.json"), "utf8"));
const img2img = JSON.parse(fs.readFileSync(path.join(src, "workflows/shapes/img2img.api.json"), "utf8"));
function small(wf, steps) {
  const w = structuredClone(wf);
  for (const n of Object.values(w)) {
    if ("steps" in n.inputs) n.inputs.steps = steps;
    if (n.class_type === "EmptyLatentImage") { n.inputs.width = 64; n.inputs.height = 64; }
  }
  return w;
}
const samplerId = (wf) => Object.keys(wf).find((k) => "steps" in wf[k].inputs);
const saveId = (wf) => Object.keys(wf).find((k) => wf[k].class_type === "SaveImage");

const api = new ComfyApi(`http://127.0.0.1:${port}`);
await api.init(20, 100).waitForReady();

await step("SystemStatsAndNodeDefs", async () => {
  const stats = await api.getSystemStats();
  check(stats.system.comfyui_version === "0.8.0", "comfyui_version " + stats.system.comfyui_version);
  check((await api.getCheckpoints()).includes("builtin:shapes"), "builtin:shapes among the checkpoints");
  const s = await api.getSamplerInfo();
  check(s.sampler[0].includes("euler"), "sampler list");
});

let firstImage;
await step("Txt2imgWithProgressAndView", async () => {
  const wf = small(txt2img, 4);
  const sid = samplerId(wf), save = saveId(wf);
  const builder = new PromptBuilder(wf, ["seed"], ["images"]).setInputNode("seed", `${sid}.inputs.seed`).setOutputNode("images", save);
  const progress = [];
  const out = await new Promise((resolve, reject) => {
    new CallWrapper(api, builder.input("seed", 1234))
      .onProgress((p) => progress.push([p.value, p.max]))
      .onFinished(resolve).onFailed((e) => reject(e)).run();
  });
  check(JSON.stringify(progress) === JSON.stringify([[1, 4], [2, 4], [3, 4], [4, 4]]), "progress " + JSON.stringify(progress));
  const img = out.images.images[0];
  firstImage = img;
  const blob = await api.getImage(img);
  const bytes = Buffer.from(await blob.arrayBuffer());
  check(bytes.subarray(1, 4).toString() === "PNG", "a PNG through /view");
  check(bytes.equals(fs.readFileSync(path.join(root, "output", img.subfolder, img.filename))), "same bytes as on disk");
});

await step("UploadAndImg2img", async () => {
  const png = fs.readFileSync(path.join(root, "output", firstImage.subfolder, firstImage.filename));
  const up = await api.uploadImage(png, "from-npm.png");
  check(up && up.info.filename === "from-npm.png" && up.info.type === "input", "upload " + JSON.stringify(up));
  const wf = small(img2img, 3);
  for (const n of Object.values(wf)) if (n.class_type === "LoadImage") n.inputs.image = up.info.filename;
  const builder = new PromptBuilder(wf, [], ["images"]).setOutputNode("images", saveId(wf));
  const out = await new Promise((resolve, reject) => {
    new CallWrapper(api, builder).onFinished(resolve).onFailed(reject).run();
  });
  const img = out.images.images[0];
  check(fs.existsSync(path.join(root, "output", img.subfolder, img.filename)), "img2img output written");
});

// Interrupting through the SDK is covered by QueueAndHistoryOperations (api.interrupt() on a running
// prompt, checked in /history). A CallWrapper-driven variant was flaky under load (the wrapper's
// progress/queue callbacks race) and is left out; tests/server/test_protocol.py checks the messages.
await step("QueueAndHistoryOperations", async () => {
  const long = small(txt2img, 10000);
  long[samplerId(long)].inputs.seed = 5;
  const a = await api.queuePrompt(null, long);
  const waiting = small(txt2img, 2);
  waiting[samplerId(waiting)].inputs.seed = 6;
  const b = await api.queuePrompt(null, waiting);
  const q = await api.getQueue();
  const ids = [...q.queue_running, ...q.queue_pending].map((i) => i[1]);
  check(ids.includes(a.prompt_id) && ids.includes(b.prompt_id), "both queued: " + JSON.stringify(ids));
  await api.manageQueue({ delete: [b.prompt_id] });
  const q2 = await api.getQueue();
  check(!q2.queue_pending.some((i) => i[1] === b.prompt_id), "deleted from the queue");
  await api.interrupt();
  for (let i = 0; i < 200 && !(await api.getHistory(a.prompt_id)); i++) await new Promise((r) => setTimeout(r, 50));
  const h = await api.getHistory(a.prompt_id);
  check(h && h.status.status_str === "error", "interrupted prompt in history");
  check((await api.getHistory(b.prompt_id)) === undefined, "deleted prompt never ran");
  const hist = await api.getHistories(100);
  check(Object.keys(hist).length >= 3, "history lists the runs");
  check(await api.freeMemory(true, true), "POST /free");
});

finish(failures ? 1 : 0);
