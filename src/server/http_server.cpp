// Boost.Beast sessions: HTTP keep-alive with a body limit checked on the headers (413 before the body
// is read), and websocket sessions with a per-socket write queue. No HTTP or WebSocket framing here
// beyond what Beast does.
#include "server/http_server.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <array>
#include <deque>
#include <iostream>
#include <sstream>

#include "server/app.hpp"

namespace comfy::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

HttpRequest to_request(const http::request<http::string_body>& r) {
  HttpRequest req;
  req.method = std::string(r.method_string());
  req.target = std::string(r.target());
  for (auto& f : r) {
    std::string name(f.name_string());
    for (auto& c : name) c = char(std::tolower((unsigned char)c));
    req.headers[name] = std::string(f.value());
  }
  req.body = r.body();
  return req;
}

bool is_ws_path(const std::string& path) { return path == "/ws" || path == "/api/ws"; }

// ---- websocket session
class WsSession : public WsClient, public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(App& app, tcp::socket&& s) : app_(app), ws_(std::move(s)) {}

  void start(http::request<http::string_body> upgrade, std::string client_id) {
    client_id_ = std::move(client_id);
    upgrade_ = std::move(upgrade);  // kept alive until the handshake completes
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.read_message_max(1 << 20);
    ws_.async_accept(upgrade_, beast::bind_front_handler(&WsSession::on_accept, shared_from_this()));
  }

  void send(std::shared_ptr<const std::string> frame, bool binary) override {
    net::post(ws_.get_executor(), [self = shared_from_this(), frame, binary] {
      if (self->closed_) return;
      self->out_.emplace_back(frame, binary);
      if (self->out_.size() == 1) self->write_next();
    });
  }

 private:
  void on_accept(beast::error_code ec) {
    if (ec) return;
    sid_ = app_.ws_open(client_id_, shared_from_this());
    read_next();
  }
  void read_next() { ws_.async_read(in_, beast::bind_front_handler(&WsSession::on_read, shared_from_this())); }
  void on_read(beast::error_code ec, std::size_t) {
    if (ec) return close();
    if (ws_.got_text()) app_.ws_text(sid_, beast::buffers_to_string(in_.data()));
    in_.consume(in_.size());
    read_next();
  }
  void write_next() {
    ws_.binary(out_.front().second);
    ws_.async_write(net::buffer(*out_.front().first), beast::bind_front_handler(&WsSession::on_write, shared_from_this()));
  }
  void on_write(beast::error_code ec, std::size_t) {
    if (ec) return close();
    out_.pop_front();
    if (!out_.empty()) write_next();
  }
  void close() {
    if (closed_) return;
    closed_ = true;
    out_.clear();
    if (!sid_.empty()) app_.ws_close(sid_, this);
  }

  App& app_;
  websocket::stream<beast::tcp_stream> ws_;
  http::request<http::string_body> upgrade_;
  beast::flat_buffer in_;
  std::deque<std::pair<std::shared_ptr<const std::string>, bool>> out_;
  std::string client_id_, sid_;
  bool closed_ = false;
};

// ---- HTTP session
class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(App& app, tcp::socket&& s) : app_(app), stream_(std::move(s)) {}
  void start() { net::dispatch(stream_.get_executor(), beast::bind_front_handler(&HttpSession::read_header, shared_from_this())); }

 private:
  void read_header() {
    parser_.emplace();
    parser_->header_limit(64 * 1024);
    parser_->body_limit(uint64_t(std::max<int64_t>(0, app_.options().max_upload_size)));
    stream_.expires_after(std::chrono::seconds(300));
    http::async_read_header(stream_, buffer_, *parser_, beast::bind_front_handler(&HttpSession::on_header, shared_from_this()));
  }

  void on_header(beast::error_code ec, std::size_t) {
    // Beast checks a Content-Length against the body limit with the headers (error body_limit).
    if (ec && ec != http::error::body_limit) return shutdown();
    if (ec || (parser_->content_length() && *parser_->content_length() > uint64_t(std::max<int64_t>(0, app_.options().max_upload_size)))) {
      // Refused before the body is read or stored (aiohttp's client_max_size -> 413).
      HttpResponse r = HttpResponse::text("413: Request Entity Too Large", 413);
      draining_ = true;
      return write(std::move(r), 11, false);
    }
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&HttpSession::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec == http::error::body_limit) {
      draining_ = true;
      return write(HttpResponse::text("413: Request Entity Too Large", 413), 11, false);
    }
    if (ec) return shutdown();
    http::request<http::string_body> msg = parser_->release();
    HttpRequest req = to_request(msg);
    if (!parse_target(req.target, req.path, req.query)) return write(HttpResponse::text("400: Bad Request", 400), msg.version(), msg.keep_alive());
    if (websocket::is_upgrade(msg) && is_ws_path(req.path)) {
      if (!app_.authorized(req)) return write(HttpResponse::text("401: Unauthorized", 401), msg.version(), false);
      auto ws = std::make_shared<WsSession>(app_, stream_.release_socket());
      ws->start(std::move(msg), req.query_value("clientId"));
      return;
    }
    HttpResponse resp = app_.handle(req);
    if (req.method == "HEAD") resp.body.clear();
    write(std::move(resp), msg.version(), msg.keep_alive());
  }

  void write(HttpResponse r, unsigned version, bool keep_alive) {
    auto res = std::make_shared<http::response<http::string_body>>(http::status(r.status), version);
    res->set(http::field::server, "comfy-native");
    res->set(http::field::content_type, r.content_type);
    for (auto& [k, v] : r.headers) res->set(k, v);
    res->body() = std::move(r.body);
    res->keep_alive(keep_alive);
    res->prepare_payload();
    http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
      if (ec || !res->keep_alive()) return self->shutdown();
      self->read_header();
    });
  }

  void shutdown() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (draining_) drain();
  }

  // After refusing a body (413), read and discard what the client still sends for a few seconds so
  // that closing does not reset the connection before the client has read the answer.
  void drain() {
    stream_.expires_after(std::chrono::seconds(5));
    stream_.async_read_some(net::buffer(scratch_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (!ec) self->drain();
    });
  }

  App& app_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool draining_ = false;
  std::array<char, 16384> scratch_{};
};

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(net::io_context& ioc, App& app, tcp::endpoint ep) : ioc_(ioc), app_(app), acceptor_(net::make_strand(ioc)) {
    acceptor_.open(ep.protocol());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    if (ep.address().is_v6()) acceptor_.set_option(net::ip::v6_only(true));
    acceptor_.bind(ep);
    acceptor_.listen(net::socket_base::max_listen_connections);
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  void start() { accept(); }
  void stop() {
    beast::error_code ec;
    acceptor_.close(ec);
  }

 private:
  void accept() {
    acceptor_.async_accept(net::make_strand(ioc_), [self = shared_from_this()](beast::error_code ec, tcp::socket s) {
      if (ec == net::error::operation_aborted) return;
      if (!ec) {
        s.set_option(tcp::no_delay(true), ec);
        std::make_shared<HttpSession>(self->app_, std::move(s))->start();
      }
      self->accept();
    });
  }
  net::io_context& ioc_;
  App& app_;
  tcp::acceptor acceptor_;
};

}  // namespace

struct HttpServer::Impl {
  App& app;
  net::io_context ioc{1};
  std::vector<std::shared_ptr<Listener>> listeners;
  explicit Impl(App& a) : app(a) {}
};

HttpServer::HttpServer(App& app) : impl_(std::make_unique<Impl>(app)) {}
HttpServer::~HttpServer() = default;

uint16_t HttpServer::bind() {
  const auto& o = impl_->app.options();
  uint16_t port = uint16_t(o.port);
  std::stringstream ss(o.listen);
  std::string addr;
  while (std::getline(ss, addr, ',')) {
    if (addr.empty()) continue;
    if (addr.front() == '[' && addr.back() == ']') addr = addr.substr(1, addr.size() - 2);
    beast::error_code ec;
    auto ip = net::ip::make_address(addr, ec);
    if (ec) throw std::runtime_error("--listen: '" + addr + "' is not an IP address");
    try {
      auto l = std::make_shared<Listener>(impl_->ioc, impl_->app, tcp::endpoint(ip, port));
      port = l->port();  // port 0: every address shares the first free port found
      impl_->listeners.push_back(std::move(l));
    } catch (const boost::system::system_error& e) {
      throw std::runtime_error("cannot listen on " + addr + ":" + std::to_string(port) + ": " + e.code().message());
    }
  }
  if (impl_->listeners.empty()) throw std::runtime_error("--listen: no address given");
  return port;
}

int HttpServer::run() {
  int caught = 0;
  net::signal_set signals(impl_->ioc, SIGINT, SIGTERM);
  signals.async_wait([&](beast::error_code ec, int sig) {
    if (ec) return;
    caught = sig;
    stop();
  });
  for (auto& l : impl_->listeners) l->start();
  impl_->app.start_worker();
  impl_->ioc.run();
  return caught;
}

void HttpServer::stop() {
  net::post(impl_->ioc, [this] {
    for (auto& l : impl_->listeners) l->stop();
    impl_->app.stop(/*abort_running=*/true);  // interrupts the running prompt at its next check
    impl_->ioc.stop();
  });
}

}  // namespace comfy::server
