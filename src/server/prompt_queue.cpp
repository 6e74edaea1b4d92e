// PromptQueue: the pending heap, the running item and the capped history (server spec section 2).
#include "server/prompt_queue.hpp"

#include <algorithm>

namespace comfy::server {

ojson QueueItem::to_json() const {
  ojson outs = ojson::array();
  for (auto& o : outputs) outs.push_back(o);
  return ojson::array({number, prompt_id, prompt, extra_data, outs});
}

bool PromptQueue::later(const QueueItem& a, const QueueItem& b) {
  double na = a.number.get<double>(), nb = b.number.get<double>();
  if (na != nb) return na > nb;
  return a.prompt_id > b.prompt_id;
}

void PromptQueue::put(QueueItem item, const std::function<void(size_t)>& announce) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    pending_.push_back(std::move(item));
    std::push_heap(pending_.begin(), pending_.end(), later);
    if (announce) announce(pending_.size() + (running_ ? 1 : 0));
  }
  cv_.notify_one();
}

std::optional<QueueItem> PromptQueue::get() {
  std::unique_lock<std::mutex> lk(mu_);
  cv_.wait(lk, [&] { return shutdown_ || !pending_.empty(); });
  if (shutdown_) return std::nullopt;
  std::pop_heap(pending_.begin(), pending_.end(), later);
  running_ = std::move(pending_.back());
  pending_.pop_back();
  return running_;
}

void PromptQueue::task_done(const std::string& prompt_id, ojson entry) {
  std::lock_guard<std::mutex> lk(mu_);
  if (running_ && running_->prompt_id == prompt_id) running_.reset();
  if (entry.is_null()) return;
  if (history_.count(prompt_id)) history_order_.erase(std::find(history_order_.begin(), history_order_.end(), prompt_id));
  history_order_.push_back(prompt_id);
  history_[prompt_id] = std::move(entry);
  while (history_order_.size() > max_history_) {
    history_.erase(history_order_.front());
    history_order_.pop_front();
  }
}

void PromptQueue::shutdown() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    shutdown_ = true;
  }
  cv_.notify_all();
}

size_t PromptQueue::queue_remaining() const {
  std::lock_guard<std::mutex> lk(mu_);
  return pending_.size() + (running_ ? 1 : 0);
}

ojson PromptQueue::queue_json() const {
  std::lock_guard<std::mutex> lk(mu_);
  ojson running = ojson::array(), pending = ojson::array();
  if (running_) running.push_back(running_->to_json());
  for (auto& p : pending_) pending.push_back(p.to_json());
  ojson j;
  j["queue_running"] = std::move(running);
  j["queue_pending"] = std::move(pending);
  return j;
}

std::optional<std::string> PromptQueue::running_id() const {
  std::lock_guard<std::mutex> lk(mu_);
  if (!running_) return std::nullopt;
  return running_->prompt_id;
}

size_t PromptQueue::wipe() {
  std::lock_guard<std::mutex> lk(mu_);
  size_t n = pending_.size();
  pending_.clear();
  return n;
}

size_t PromptQueue::remove(const std::vector<std::string>& ids) {
  std::lock_guard<std::mutex> lk(mu_);
  size_t before = pending_.size();
  pending_.erase(std::remove_if(pending_.begin(), pending_.end(),
                                [&](const QueueItem& q) { return std::find(ids.begin(), ids.end(), q.prompt_id) != ids.end(); }),
                 pending_.end());
  std::make_heap(pending_.begin(), pending_.end(), later);
  return before - pending_.size();
}

ojson PromptQueue::history(std::optional<int64_t> max_items, int64_t offset) const {
  std::lock_guard<std::mutex> lk(mu_);
  const int64_t n = int64_t(history_order_.size());
  // ComfyUI's get_history: offset < 0 with max_items means "the last max_items".
  if (offset < 0 && max_items) offset = n - *max_items;
  int64_t start = std::min(n, std::max<int64_t>(0, offset));
  int64_t end = max_items ? std::min(n, start + std::max<int64_t>(0, *max_items)) : n;
  ojson out = ojson::object();
  for (int64_t i = start; i < end; ++i) {
    const std::string& id = history_order_[size_t(i)];
    out[id] = history_.at(id);
  }
  return out;
}

ojson PromptQueue::history_one(const std::string& prompt_id) const {
  std::lock_guard<std::mutex> lk(mu_);
  ojson out = ojson::object();
  auto it = history_.find(prompt_id);
  if (it != history_.end()) out[prompt_id] = it->second;
  return out;
}

void PromptQueue::history_clear() {
  std::lock_guard<std::mutex> lk(mu_);
  history_.clear();
  history_order_.clear();
}

void PromptQueue::history_remove(const std::vector<std::string>& ids) {
  std::lock_guard<std::mutex> lk(mu_);
  for (auto& id : ids) {
    if (!history_.erase(id)) continue;
    history_order_.erase(std::find(history_order_.begin(), history_order_.end(), id));
  }
}

size_t PromptQueue::history_size() const {
  std::lock_guard<std::mutex> lk(mu_);
  return history_.size();
}

int64_t PromptQueue::next_number() {
  std::lock_guard<std::mutex> lk(mu_);
  return counter_++;
}

}  // namespace comfy::server
