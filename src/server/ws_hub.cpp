// WsHub: the sid -> socket table and message fan-out.
#include "server/ws_hub.hpp"

namespace comfy::server {

std::string ws_message(const std::string& type, const nlohmann::json& data) {
  nlohmann::ordered_json j;
  j["type"] = type;
  j["data"] = data;
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string ws_message(const std::string& type, const nlohmann::ordered_json& data) {
  nlohmann::ordered_json j;
  j["type"] = type;
  j["data"] = data;
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

void WsHub::send_json(const std::string& type, const nlohmann::ordered_json& data, const std::string& sid) {
  auto ts = targets(sid);
  if (ts.empty()) return;
  auto frame = std::make_shared<const std::string>(ws_message(type, data));
  for (auto& c : ts) c->send(frame, false);
}

void WsHub::add(const std::string& sid, std::shared_ptr<WsClient> client) {
  std::lock_guard<std::mutex> lk(mu_);
  by_sid_[sid] = client;
  flags_.erase(sid);
}

void WsHub::remove(const std::string& sid, const WsClient* client) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = by_sid_.find(sid);
  if (it == by_sid_.end()) return;
  auto cur = it->second.lock();
  if (!cur || cur.get() == client) {  // only the socket that owns the sid (see spec 6, last quirk)
    by_sid_.erase(it);
    flags_.erase(sid);
  }
}

std::vector<std::shared_ptr<WsClient>> WsHub::targets(const std::string& sid) const {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<std::shared_ptr<WsClient>> out;
  if (sid.empty()) {
    for (auto& [k, w] : by_sid_)
      if (auto c = w.lock()) out.push_back(std::move(c));
  } else {
    auto it = by_sid_.find(sid);
    if (it != by_sid_.end())
      if (auto c = it->second.lock()) out.push_back(std::move(c));
  }
  return out;
}

void WsHub::send_json(const std::string& type, const nlohmann::json& data, const std::string& sid) {
  auto ts = targets(sid);
  if (ts.empty()) return;
  auto frame = std::make_shared<const std::string>(ws_message(type, data));
  for (auto& c : ts) c->send(frame, false);
}

void WsHub::send_binary(std::string bytes, const std::string& sid) {
  auto ts = targets(sid);
  if (ts.empty()) return;
  auto frame = std::make_shared<const std::string>(std::move(bytes));
  for (auto& c : ts) c->send(frame, true);
}

void WsHub::set_feature_flags(const std::string& sid, nlohmann::json flags) {
  std::lock_guard<std::mutex> lk(mu_);
  flags_[sid] = std::move(flags);
}

nlohmann::json WsHub::feature_flags(const std::string& sid) const {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = flags_.find(sid);
  return it == flags_.end() ? nlohmann::json::object() : it->second;
}

size_t WsHub::size() const {
  std::lock_guard<std::mutex> lk(mu_);
  return by_sid_.size();
}

}  // namespace comfy::server
