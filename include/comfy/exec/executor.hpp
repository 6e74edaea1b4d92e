#pragma once
// Runs a validated prompt (workflow-execution.md section 8): only nodes feeding the outputs, in
// dependency order, each once; results cached by their input signature across runs.
#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "comfy/core/node.hpp"
#include "comfy/graph/workflow.hpp"

namespace comfy {

struct ExecutionStats {
  int64_t executed = 0;  // node functions actually called
  int64_t cached = 0;    // nodes whose result came from the cache
  int64_t schedule_steps = 0;  // ordering work counted by the scheduler: bounded by nodes + links
};

struct ExecutionResult {
  bool ok = false;
  nlohmann::json ui_outputs = nlohmann::json::object();  // {node_id: ui payload}
  std::map<std::string, std::vector<Value>> outputs;    // every executed node's outputs (by id)
  ExecutionStats stats;
};

// Per-call options of execute(); `run` uses the defaults, `serve` sets all of them.
struct ExecuteOptions {
  std::string prompt_id;                     // "" = a new UUID4-shaped id
  nlohmann::json extra_pnginfo = nullptr;    // hidden EXTRA_PNGINFO ({"workflow": ...}) or null
  bool progress_state = false;               // also emit ComfyUI's "progress_state" messages
};

class Executor {
 public:
  Executor(const Registry& reg, RuntimeConfig cfg, EventSink events = {});
  ~Executor();
  // Throws comfy::Error (type "execution_error", node id / class / input filled) when a node fails;
  // everything executed before stays in the cache.
  ExecutionResult execute(const Prompt& prompt, const std::vector<std::string>& outputs,
                          const nlohmann::json& extra_pnginfo = nullptr);
  ExecutionResult execute(const Prompt& prompt, const std::vector<std::string>& outputs, const ExecuteOptions& opt);
  // Drops every cached node result (and with it the models the loader nodes produced).
  void clear_cache();
  size_t cache_size() const;
  const ExecutionStats& lifetime_stats() const;
  const RuntimeConfig& config() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace comfy
