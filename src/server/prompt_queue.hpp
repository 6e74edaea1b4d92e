#pragma once
// ComfyUI's PromptQueue (server spec section 2): pending items in a min-heap by (number, prompt_id),
// at most one running item, and the history of finished prompts (insertion-ordered, capped).
#include <nlohmann/json.hpp>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace comfy::server {

using ojson = nlohmann::ordered_json;

struct QueueItem {
  ojson number;                      // int (server counter) or float (client's explicit number)
  std::string prompt_id;
  ojson prompt;                      // the API graph as submitted
  ojson extra_data;                  // body's extra_data + client_id + create_time
  std::vector<std::string> outputs;  // outputs_to_execute
  ojson validated_prompt;            // the prompt after validation's coercions (what the executor runs)
  std::string client_id;             // "" = none

  ojson to_json() const;  // [number, prompt_id, prompt, extra_data, outputs_to_execute]
};

class PromptQueue {
 public:
  explicit PromptQueue(size_t max_history = 10000) : max_history_(max_history) {}

  // Adds an item; `announce(queue_remaining)` runs before the worker can take it (so the "queued"
  // status always precedes the worker's messages about it).
  void put(QueueItem item, const std::function<void(size_t)>& announce = {});
  // Blocks until an item is pending (it becomes the running one) or shutdown() was called (nullopt).
  std::optional<QueueItem> get();
  // Ends the running item; `entry` (a history entry) is stored unless null.
  void task_done(const std::string& prompt_id, ojson entry);
  void shutdown();

  size_t queue_remaining() const;  // pending + running
  ojson queue_json() const;        // {"queue_running": [...], "queue_pending": [...]}
  std::optional<std::string> running_id() const;
  // Drops pending items (all, or those whose id is listed); returns how many went.
  size_t wipe();
  size_t remove(const std::vector<std::string>& prompt_ids);

  ojson history(std::optional<int64_t> max_items, int64_t offset) const;
  ojson history_one(const std::string& prompt_id) const;  // {id: entry} or {}
  void history_clear();
  void history_remove(const std::vector<std::string>& prompt_ids);
  size_t history_size() const;

  // The server's prompt counter (ComfyUI's `number`): returns the current value and advances it.
  int64_t next_number();

 private:
  static bool later(const QueueItem& a, const QueueItem& b);  // heap comparator: a runs after b
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<QueueItem> pending_;  // heap
  std::optional<QueueItem> running_;
  std::deque<std::string> history_order_;
  std::unordered_map<std::string, ojson> history_;
  size_t max_history_;
  int64_t counter_ = 0;
  bool shutdown_ = false;
};

}  // namespace comfy::server
