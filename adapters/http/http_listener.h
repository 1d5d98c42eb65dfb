#pragma once
// The `http` listener: one HTTP(S) port of the daemon config, shared by every route whose
// `from` names it. Routes bind a path (exact, or a prefix ending in "/*") to their
// InboundContext; the listener answers 404/405/413 itself and hands the rest to the
// bound route (see http_inbound.h).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "lienthong/endpoint.h"
#include "lienthong/result.h"

namespace Poco {
class ThreadPool;
}
namespace Poco::Net {
class TCPServer;
class HTTPServerRequest;
class HTTPServerResponse;
}  // namespace Poco::Net

namespace lienthong::adapters::http {

struct HttpListenerTls {
  std::string cert;       // PEM certificate (chain) file
  std::string key;        // PEM private key file
  std::string client_ca;  // optional: PEM CA file; when set, clients must present a cert
};

struct HttpListenerSettings {
  std::string address = "127.0.0.1";
  std::uint16_t port = 8080;  // 0 = any free port
  std::uint64_t max_body = 10ull * 1024 * 1024;
  std::chrono::milliseconds header_timeout{10'000};  // also each body read
  std::chrono::milliseconds idle_timeout{60'000};    // keep-alive idle time
  int threads = 128;                                 // connections served at once
  std::optional<HttpListenerTls> tls;
};

// One route bound to a path. Immutable after bind(), except the admission gate.
struct HttpBinding {
  std::string key;     // the path as bound: "/a/b" or "/a/*"
  std::string prefix;  // for "/a/*": "/a" (matches "/a" and "/a/..."); empty for exact
  bool is_prefix = false;
  std::vector<std::string> methods;  // upper case
  std::string allow;                 // "GET, POST", for 405 answers
  InboundContext* context = nullptr;
  // Copied at bind time: the context may be gone while a request still waits for its
  // outcome after the route stopped.
  std::string route_id;
  ExchangePattern pattern = ExchangePattern::kRequestReply;
  std::chrono::milliseconds timeout{30'000};
  std::uint64_t token = 0;

  bool allows(std::string_view method) const;

  // The gate around InboundContext::submit(): unbind() closes it and waits for the
  // submits in progress, so that no message reaches a stopped route. Thread-safe.
  bool enter();
  void leave();
  void close();

 private:
  std::atomic<std::uint32_t> active_{0};
  std::atomic<bool> closed_{false};
};

class HttpListener : public Listener {
 public:
  using Token = std::uint64_t;

  // Fails (kInvalidConfig) when the TLS files cannot be loaded.
  static Result<std::shared_ptr<HttpListener>> create(std::string name,
                                                      HttpListenerSettings settings);
  ~HttpListener() override;  // stops the server
  HttpListener(const HttpListener&) = delete;
  HttpListener& operator=(const HttpListener&) = delete;

  // Control thread. Binds the socket and starts serving.
  Result<void> start() override;
  // Control thread. Stops accepting, aborts open connections and waits for the
  // connection threads.
  void stop() override;
  // "http listener public on 127.0.0.1:8080" (https when TLS).
  std::string describe() const override;

  // The bound port once started (useful with port 0); 0 before start. Thread-safe.
  std::uint16_t port() const { return bound_port_.load(); }
  const std::string& name() const { return name_; }
  const HttpListenerSettings& settings() const { return settings_; }
  bool tls() const { return settings_.tls.has_value(); }

  // Thread-safe. Binds `path` ("/exact" or "/prefix/*") for `methods` to a route. A path
  // already bound is replaced: requests go to the new binding at once (a reload binds the
  // new route before it unbinds the old one). Works before and after start().
  Token bind(const std::string& path, const std::vector<std::string>& methods,
             InboundContext& context);
  // Thread-safe. Removes the binding of `token` if the path is still bound to it, and in
  // any case waits until no request is in the middle of submitting to its context.
  // Unknown tokens are ignored.
  void unbind(Token token);

 private:
  struct RouteTable;
  struct Server;
  class HandlerFactory;

  HttpListener(std::string name, HttpListenerSettings settings);
  std::shared_ptr<const RouteTable> table() const;
  // Serves one request. Poco connection threads.
  void handle(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response);

  const std::string name_;
  const HttpListenerSettings settings_;
  struct Tls;
  std::unique_ptr<Tls> tls_;  // the server context, when TLS

  mutable std::mutex table_mutex_;
  std::shared_ptr<const RouteTable> table_;                        // swapped, never mutated
  std::unordered_map<Token, std::shared_ptr<HttpBinding>> owned_;  // bound, not yet unbound
  Token next_token_ = 1;

  std::atomic<std::uint16_t> bound_port_{0};
  std::unique_ptr<Server> server_;  // while started
};

}  // namespace lienthong::adapters::http
