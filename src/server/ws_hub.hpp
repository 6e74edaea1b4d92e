#pragma once
// Who receives which websocket message (server spec 4.1 / 4.2): sockets registered by sid; a message
// goes to one sid or to every socket. The transport implements WsClient.
#include <nlohmann/json.hpp>

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace comfy::server {

class WsClient {
 public:
  virtual ~WsClient() = default;
  // Queues one frame; never blocks on the network. Safe from any thread.
  virtual void send(std::shared_ptr<const std::string> frame, bool binary) = 0;
};

class WsHub {
 public:
  // Registers a socket under `sid` (a newer socket with the same sid replaces the old one's entry).
  void add(const std::string& sid, std::shared_ptr<WsClient> client);
  void remove(const std::string& sid, const WsClient* client);
  // {"type": type, "data": data} as text; sid "" = every socket.
  void send_json(const std::string& type, const nlohmann::json& data, const std::string& sid = "");
  void send_json(const std::string& type, const nlohmann::ordered_json& data, const std::string& sid = "");
  void send_binary(std::string frame, const std::string& sid = "");
  void set_feature_flags(const std::string& sid, nlohmann::json flags);
  nlohmann::json feature_flags(const std::string& sid) const;
  size_t size() const;

 private:
  std::vector<std::shared_ptr<WsClient>> targets(const std::string& sid) const;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::weak_ptr<WsClient>> by_sid_;
  std::unordered_map<std::string, nlohmann::json> flags_;
};

// "{\"type\": ..., \"data\": ...}" with the type first, as ComfyUI's json.dumps writes it.
std::string ws_message(const std::string& type, const nlohmann::json& data);
std::string ws_message(const std::string& type, const nlohmann::ordered_json& data);

}  // namespace comfy::server
