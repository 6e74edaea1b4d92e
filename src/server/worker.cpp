// The queue worker: takes one item at a time, runs it through the shared Executor and turns the
// executor's events into ComfyUI's websocket messages (server spec 4.2 / 4.3) and a history entry.
#include <algorithm>
#include <chrono>
#include <iostream>

#include "comfy/core/error.hpp"
#include "comfy/exec/preview.hpp"
#include "server/app.hpp"
#include "server/previews.hpp"

namespace comfy::server {

namespace {

using json = nlohmann::json;

int64_t worker_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

bool is_status_message(const std::string& t) {
  return t == "execution_start" || t == "execution_cached" || t == "execution_success" || t == "execution_error" ||
         t == "execution_interrupted";
}

// One prompt's messages: routing to its client, the deferred "done" signal, the history record.
struct PromptRecorder {
  WsHub& hub;
  std::string sid;                      // the prompt's client_id, "" = none
  ojson messages = ojson::array();      // [event, data] of the execution_* messages
  ojson outputs = ojson::object();      // node id -> ui
  ojson meta = ojson::object();
  json done;                            // the final executing {node: null}, sent after the status
  std::vector<std::string> started;     // progress_state node ids in the order they started
  bool failed = false, interrupted = false;
  // latent previews: the step's JPEG waits for its progress_state (event 4) or progress (event 1)
  std::string prompt_id;
  bool with_metadata = false;  // the client sent feature_flags {supports_preview_metadata: true}
  std::string preview_jpeg, preview_node;

  void on_preview(const std::string& node, const at::Tensor& x0) {
    preview_jpeg = latent2rgb_jpeg(x0);
    preview_node = node;
  }

  void flush_preview(bool metadata) {
    if (preview_jpeg.empty()) return;
    if (metadata) {
      ojson meta;
      meta["node_id"] = preview_node;
      meta["prompt_id"] = prompt_id;
      meta["display_node_id"] = preview_node;
      meta["parent_node_id"] = nullptr;
      meta["real_node_id"] = preview_node;
      meta["image_type"] = "image/jpeg";
      hub.send_binary(preview_frame_with_metadata(preview_jpeg, meta), sid);
    } else {
      hub.send_binary(preview_frame(preview_jpeg), sid);
    }
    preview_jpeg.clear();
  }

  void on_event(const Event& e) {
    const std::string& t = e.type;
    json data = e.data;
    if (t == "execution_error") data.erase("input_name");
    if (t == "progress") data.erase("display_node");  // ComfyUI's progress has node, not display_node
    if (is_status_message(t)) messages.push_back(ojson::array({t, ojson(data)}));
    if (t == "execution_error") failed = true;
    if (t == "execution_interrupted") interrupted = true;
    if (t == "executing" && data.contains("node") && data["node"].is_null()) {
      done = data;
      return;
    }
    if (t == "executed" && data.contains("node") && data["node"].is_string()) {
      std::string id = data["node"];
      outputs[id] = ojson(data["output"]);
      meta[id] = {{"node_id", id}, {"display_node", data.value("display_node", id)}, {"parent_node", nullptr}, {"real_node_id", id}};
    }
    if (t != "execution_start" && t != "execution_cached" && t != "executing" && t != "executed" && t != "progress" &&
        t != "progress_state" && !is_status_message(t))
      return;  // engine-internal events (output_written, ...)
    if (!sid.empty() || t == "progress" || t == "progress_state" || t == "execution_interrupted") {
      // (ComfyUI quirk: without a client_id, progress / interrupt messages go to every socket)
      if (t == "progress_state") hub.send_json(t, ordered_progress_state(data), sid);
      else hub.send_json(t, data, sid);
    }
    // ComfyUI's order: progress_state, [event 4], progress, [event 1]
    if (t == "progress_state" && with_metadata) flush_preview(true);
    if (t == "progress") flush_preview(false);
  }

  // The executor's "nodes" object (keys sorted) in the order the nodes started, as ComfyUI sends it.
  ojson ordered_progress_state(const json& data) {
    const json& nodes = data["nodes"];
    for (auto it = nodes.begin(); it != nodes.end(); ++it)
      if (std::find(started.begin(), started.end(), it.key()) == started.end()) started.push_back(it.key());
    ojson out;
    out["prompt_id"] = data["prompt_id"];
    ojson ordered = ojson::object();
    for (auto& id : started)
      if (nodes.contains(id)) ordered[id] = nodes[id];
    out["nodes"] = std::move(ordered);
    return out;
  }

  ojson history_entry(const QueueItem& item) const {
    bool ok = !failed && !interrupted;
    ojson status;
    status["status_str"] = ok ? "success" : "error";
    status["completed"] = ok;
    status["messages"] = messages;
    ojson entry;
    entry["prompt"] = item.to_json();
    entry["outputs"] = outputs;
    entry["status"] = status;
    entry["meta"] = meta;
    return entry;
  }
};

}  // namespace

void App::request_free(bool unload_models, bool free_memory) {
  {
    std::lock_guard<std::mutex> lk(free_mu_);
    free_models_ = free_models_ || unload_models;
    free_memory_ = free_memory_ || free_memory;
  }
  // Idle: apply now; otherwise the worker applies it before its next prompt.
  std::unique_lock<std::mutex> ex(exec_mu_, std::try_to_lock);
  if (ex.owns_lock()) apply_free_requests();
}

// Caller holds exec_mu_.
void App::apply_free_requests() {
  std::lock_guard<std::mutex> lk(free_mu_);
  // Loaded models live in the loader nodes' cached results, so both requests drop the node cache.
  if (free_models_ || free_memory_) executor_->clear_cache();
  free_models_ = free_memory_ = false;
}

void App::worker_loop() {
  while (auto item = queue_.get()) {
    {
      std::lock_guard<std::mutex> ex(exec_mu_);
      apply_free_requests();
    }
    broadcast_status();  // moved from pending to running: same count, a second status (spec 6)
    run_item(*item);
    prompts_done++;
  }
}

void App::run_item(const QueueItem& item) {
  PromptRecorder rec{hub_, item.client_id};
  rec.prompt_id = item.prompt_id;
  interrupt_flag_ = false;
  current_sink_ = [&rec](const Event& e) { rec.on_event(e); };
  // Previews: the prompt's extra_data.preview_method, or the server's --preview-method.
  std::string method = opt_.preview_method;
  if (item.extra_data.is_object() && item.extra_data.contains("preview_method") && item.extra_data["preview_method"].is_string() &&
      item.extra_data["preview_method"] != "default")
    method = item.extra_data["preview_method"].get<std::string>();
  if (method == "latent2rgb" || method == "auto" || method == "taesd") {  // taesd: latent2rgb stands in
    rec.with_metadata = !item.client_id.empty() &&
                        hub_.feature_flags(item.client_id).value("supports_preview_metadata", false) == true;
    set_preview_sink([&rec](const std::string& node, const at::Tensor& x0) { rec.on_preview(node, x0); });
  }
  ExecuteOptions eo;
  eo.prompt_id = item.prompt_id;
  eo.progress_state = true;
  if (item.extra_data.is_object() && item.extra_data.contains("extra_pnginfo") && item.extra_data["extra_pnginfo"].is_object())
    eo.extra_pnginfo = json(item.extra_data["extra_pnginfo"]);
  try {
    std::lock_guard<std::mutex> ex(exec_mu_);
    executor_->execute(item.validated_prompt, item.outputs, eo);
  } catch (const Error& e) {
    if (!rec.failed && !rec.interrupted) {  // failed before the executor could report it (e.g. a cycle)
      json data = {{"prompt_id", item.prompt_id}, {"node_id", e.node_id}, {"node_type", e.class_type},
                   {"executed", json::array()}, {"exception_message", e.what()}, {"exception_type", e.type},
                   {"traceback", json::array()}, {"current_inputs", json::object()}, {"current_outputs", json::array()},
                   {"timestamp", worker_now_ms()}};
      rec.on_event(Event{"execution_error", data});
      rec.done = {{"node", nullptr}, {"prompt_id", item.prompt_id}};
    }
    if (!opt_.quiet) std::cerr << "prompt " << item.prompt_id << ": " << e.describe() << "\n";
  } catch (const std::exception& e) {
    json data = {{"prompt_id", item.prompt_id}, {"node_id", ""}, {"node_type", ""}, {"executed", json::array()},
                 {"exception_message", e.what()}, {"exception_type", "RuntimeError"}, {"traceback", json::array()},
                 {"current_inputs", json::object()}, {"current_outputs", json::array()}, {"timestamp", worker_now_ms()}};
    rec.on_event(Event{"execution_error", data});
    rec.done = {{"node", nullptr}, {"prompt_id", item.prompt_id}};
  }
  current_sink_ = nullptr;
  set_preview_sink({});
  queue_.task_done(item.prompt_id, rec.history_entry(item));
  broadcast_status();
  if (!item.client_id.empty() && !rec.done.is_null()) hub_.send_json("executing", rec.done, item.client_id);
}

}  // namespace comfy::server
