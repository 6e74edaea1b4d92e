#pragma once
// The server application: options, the route table, the prompt queue, the websocket hub and the one
// queue worker that runs prompts through the shared Executor. The transport (http_server.cpp) only
// turns bytes into HttpRequests and websocket frames; everything ComfyUI-specific lives behind App.
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "comfy/core/node.hpp"
#include "comfy/core/runtime.hpp"
#include "comfy/exec/executor.hpp"
#include "server/prompt_queue.hpp"
#include "server/router.hpp"
#include "server/ws_hub.hpp"

namespace comfy::server {

struct ServeOptions {
  std::string listen = "127.0.0.1";
  int port = 8188;
  RuntimeConfig cfg;                                 // folders, device, dtype (as `run`)
  int64_t max_upload_size = 100 * 1024 * 1024;       // bytes; larger request bodies get 413
  std::string preview_method = "none";               // none | latent2rgb
  std::string front_end_root;                        // static files served at / when set
  std::string api_token;                             // when set, every route and /ws require it
  std::string user_dir;                              // settings / userdata ("" = output_dir/../user)
  size_t max_history = 10000;
  std::vector<std::string> argv;                     // for /system_stats
  bool quiet = false;
};

class App {
 public:
  explicit App(ServeOptions opt, const Registry& reg = Registry::global());
  ~App();

  const ServeOptions& options() const { return opt_; }
  const RuntimeConfig& cfg() const { return opt_.cfg; }
  const Registry& registry() const { return reg_; }
  Router& router() { return router_; }
  PromptQueue& queue() { return queue_; }
  WsHub& hub() { return hub_; }

  // Handles one HTTP request (auth, origin check, routing, error mapping).
  HttpResponse handle(HttpRequest& req);
  // True when the request carries the API token (or none is configured).
  bool authorized(const HttpRequest& req) const;

  // Websocket lifecycle (called by the transport).
  std::string ws_open(const std::string& client_id, std::shared_ptr<WsClient> client);
  void ws_text(const std::string& sid, const std::string& text);
  void ws_close(const std::string& sid, const WsClient* client);

  void start_worker();
  // Stops taking prompts; `abort_running` interrupts the running one (otherwise it finishes).
  void stop(bool abort_running);
  void interrupt(const std::string& prompt_id = "");
  void request_free(bool unload_models, bool free_memory);
  void broadcast_status();
  void broadcast_status(size_t queue_remaining);
  nlohmann::json status_data(bool with_sid = false, const std::string& sid = "") const;
  nlohmann::json features() const;

  std::atomic<int64_t> prompts_done{0};

 private:
  void register_routes();
  HttpResponse static_file(const HttpRequest& req, HttpResponse not_found) const;
  void worker_loop();
  void run_item(const QueueItem& item);
  void apply_free_requests();

  ServeOptions opt_;
  const Registry& reg_;
  Router router_;
  PromptQueue queue_;
  WsHub hub_;
  std::atomic<bool> interrupt_flag_{false};
  std::unique_ptr<Executor> executor_;
  EventSink current_sink_;  // worker thread only: where the executor's events go for the running prompt
  std::thread worker_;
  std::mutex exec_mu_;  // held by the worker while the executor runs
  std::mutex free_mu_;
  bool free_models_ = false, free_memory_ = false;
};

// Route groups (one file each).
void add_prompt_routes(App& app, Router& r);   // /prompt, /queue, /history, /interrupt, /free
void add_file_routes(App& app, Router& r);     // /view, /upload/image, /upload/mask
void add_info_routes(App& app, Router& r);     // /object_info, /system_stats, /models, /features, settings, ...

}  // namespace comfy::server
