#pragma once
// The transport: Boost.Beast HTTP/1.1 and WebSocket on one Asio thread. Requests become HttpRequests
// for App::handle; "/ws" upgrades become WsClients registered with the App's hub.
#include <cstdint>
#include <memory>
#include <vector>

namespace comfy::server {

class App;

class HttpServer {
 public:
  explicit HttpServer(App& app);
  ~HttpServer();
  // Binds every address of --listen (comma-separated) on the port (0 = a free one); returns the port.
  // Throws std::runtime_error when an address cannot be bound.
  uint16_t bind();
  // Serves until stop() or SIGINT / SIGTERM (which also stop the App: the running prompt is
  // interrupted, nothing half-written is left). Returns the signal number, or 0.
  int run();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace comfy::server
