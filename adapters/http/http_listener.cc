#include "adapters/http/http_listener.h"
#include "adapters/http/tls.h"

#include <Poco/Delegate.h>
#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerConnection.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/HTTPServerResponseImpl.h>
#include <Poco/Net/HTTPServerSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Net/TCPServer.h>
#include <Poco/Net/TCPServerConnectionFactory.h>
#include <Poco/String.h>
#include <Poco/ThreadPool.h>
#include <Poco/Timestamp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>

#include <algorithm>
#include <istream>
#include <optional>

#include "adapters/http/http_common.h"
#include "adapters/http/http_inbound.h"

namespace lienthong::adapters::http {

namespace {

using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

constexpr int kBacklog = 1024;
// A request body that overflows max-body (or that nobody reads, as for 404) is read and
// dropped up to this many bytes so that the connection can carry on and the client reads
// the answer; beyond it the connection is closed.
constexpr std::uint64_t kDrainLimit = 1024 * 1024;
constexpr std::size_t kChunk = 16 * 1024;

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

Poco::Timespan toTimespan(std::chrono::milliseconds ms) {
  return Poco::Timespan(static_cast<Poco::Timespan::TimeDiff>(ms.count()) * 1000);
}

// Reads and drops up to `limit` bytes of `in`; true when the stream ended within it.
bool drain(std::istream& in, std::uint64_t limit) {
  char buffer[kChunk];
  std::uint64_t total = 0;
  while (in && total <= limit) {
    in.read(buffer, sizeof buffer);
    total += static_cast<std::uint64_t>(in.gcount());
  }
  return in.eof() && !in.bad() && total <= limit;
}

// Drops the body of a request that will not be served, so the connection can be kept.
void discardBody(HTTPServerRequest& request, HTTPServerResponse& response) {
  const bool chunked = request.getChunkedTransferEncoding();
  if (!chunked && !request.hasContentLength()) return;
  if (!chunked) {
    const Poco::Int64 length = request.getContentLength64();
    if (length <= 0) return;
    if (static_cast<std::uint64_t>(length) > kDrainLimit) {
      response.setKeepAlive(false);
      return;
    }
  }
  if (!drain(request.stream(), kDrainLimit)) response.setKeepAlive(false);
}

}  // namespace

// ---------------------------------------------------------------------------------------
// HttpBinding

bool HttpBinding::allows(std::string_view method) const {
  for (const std::string& m : methods) {
    if (m == method) return true;
  }
  return false;
}

bool HttpBinding::enter() {
  active_.fetch_add(1);
  if (closed_.load()) {
    leave();
    return false;
  }
  return true;
}

void HttpBinding::leave() {
  // seq_cst on both sides: either close() sees the decrement, or this sees closed_.
  if (active_.fetch_sub(1) == 1 && closed_.load()) active_.notify_all();
}

void HttpBinding::close() {
  closed_.store(true);
  for (std::uint32_t n = active_.load(); n != 0; n = active_.load()) active_.wait(n);
}

// ---------------------------------------------------------------------------------------
// Route table: exact paths in a hash map, prefixes longest first.

struct HttpListener::RouteTable {
  std::unordered_map<std::string, std::shared_ptr<HttpBinding>, StringHash, std::equal_to<>> exact;
  std::vector<std::shared_ptr<HttpBinding>> prefixes;

  HttpBinding* find(std::string_view path) const {
    if (auto it = exact.find(path); it != exact.end()) return it->second.get();
    for (const auto& b : prefixes) {
      const std::string& p = b->prefix;
      if (path.size() >= p.size() && path.compare(0, p.size(), p) == 0 &&
          (path.size() == p.size() || path[p.size()] == '/')) {
        return b.get();
      }
    }
    return nullptr;
  }

  void put(std::shared_ptr<HttpBinding> binding) {
    if (!binding->is_prefix) {
      exact.insert_or_assign(binding->key, std::move(binding));
      return;
    }
    auto same = std::find_if(prefixes.begin(), prefixes.end(),
                             [&](const auto& b) { return b->key == binding->key; });
    if (same != prefixes.end()) {
      *same = std::move(binding);
      return;
    }
    prefixes.push_back(std::move(binding));
    std::stable_sort(prefixes.begin(), prefixes.end(), [](const auto& a, const auto& b) {
      return a->prefix.size() > b->prefix.size();
    });
  }

  // Removes `binding` if its path is still bound to it.
  bool remove(const HttpBinding& binding) {
    if (!binding.is_prefix) {
      auto it = exact.find(binding.key);
      if (it == exact.end() || it->second.get() != &binding) return false;
      exact.erase(it);
      return true;
    }
    auto it = std::find_if(prefixes.begin(), prefixes.end(),
                           [&](const auto& b) { return b.get() == &binding; });
    if (it == prefixes.end()) return false;
    prefixes.erase(it);
    return true;
  }
};

// ---------------------------------------------------------------------------------------
// POCO plumbing

struct HttpListener::Tls {
  Poco::Net::Context::Ptr context;
};

namespace {
// Lets our own connection class follow the server-stopped event, which POCO keeps for its
// HTTPServerConnection.
class StoppableHandlerFactory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  template <typename Delegate>
  void addStopListener(Delegate d) {
    serverStopped += d;
  }
  template <typename Delegate>
  void removeStopListener(Delegate d) {
    serverStopped -= d;
  }
};
}  // namespace

class HttpListener::HandlerFactory : public StoppableHandlerFactory {
 public:
  explicit HandlerFactory(HttpListener& listener) : listener_(listener) {}

  Poco::Net::HTTPRequestHandler* createRequestHandler(const HTTPServerRequest&) override {
    return new Handler(listener_);  // POCO owns and deletes it
  }

  // Wakes every connection blocked between requests so the connection threads end.
  void abortConnections() { serverStopped(this, true); }

 private:
  class Handler : public Poco::Net::HTTPRequestHandler {
   public:
    explicit Handler(HttpListener& listener) : listener_(listener) {}
    void handleRequest(HTTPServerRequest& request, HTTPServerResponse& response) override {
      listener_.handle(request, response);
    }

   private:
    HttpListener& listener_;
  };

  HttpListener& listener_;
};

namespace {

// Serves one plain-HTTP connection: POCO's HTTPServerConnection loop, except that it
// waits for the next request with one poll(2). POCO 1.11's Socket::poll() creates,
// fills and closes an epoll instance on every call: four system calls per keep-alive
// request, a fifth of the daemon's time under load. TLS connections keep POCO's own loop
// (decrypted bytes may wait inside the TLS layer, invisible to poll(2)).
// TCP_CORK for the lifetime of the object: partial segments are held until it ends.
struct Cork {
  explicit Cork(int fd) : fd_(fd) { set(1); }
  ~Cork() { set(0); }
  Cork(const Cork&) = delete;
  Cork& operator=(const Cork&) = delete;

 private:
  void set(int on) const { ::setsockopt(fd_, IPPROTO_TCP, TCP_CORK, &on, sizeof on); }
  int fd_;
};

class PlainConnection : public Poco::Net::TCPServerConnection {
 public:
  PlainConnection(const Poco::Net::StreamSocket& socket, Poco::Net::HTTPServerParams::Ptr params,
                  Poco::SharedPtr<StoppableHandlerFactory> handlers)
      : TCPServerConnection(socket), params_(std::move(params)), handlers_(std::move(handlers)) {
    handlers_->addStopListener(Poco::delegate(this, &PlainConnection::onServerStopped));
  }
  ~PlainConnection() override {
    try {
      handlers_->removeStopListener(Poco::delegate(this, &PlainConnection::onServerStopped));
    } catch (...) {  // NOLINT(bugprone-empty-catch): a destructor must not throw
    }
  }

  void run() override {
    Session session(socket(), params_);
    while (!stopped_.load() && session.waitForRequest(params_->getKeepAliveTimeout())) {
      try {
        // POCO writes a response through a 4 KiB buffer, one send per 4 KiB; corked, a
        // larger answer leaves in full segments and wakes the client once. Declared before
        // the response so that the uncork comes after the response's final flush.
        std::optional<Cork> cork;
        std::lock_guard lock(mutex_);
        if (stopped_.load()) break;
        Poco::Net::HTTPServerResponseImpl response(session);
        Poco::Net::HTTPServerRequestImpl request(response, session, params_);
        response.setDate(Poco::Timestamp());
        response.setVersion(request.getVersion());
        response.setKeepAlive(request.getKeepAlive() && session.canKeepAlive());
        try {
          std::unique_ptr<Poco::Net::HTTPRequestHandler> handler(
              handlers_->createRequestHandler(request));
          if (request.getExpectContinue() &&
              response.getStatus() == Poco::Net::HTTPResponse::HTTP_OK) {
            response.sendContinue();
          }
          cork.emplace(socket().impl()->sockfd());
          handler->handleRequest(request, response);
          session.setKeepAlive(response.getKeepAlive() && session.canKeepAlive());
        } catch (const Poco::Exception&) {
          if (!response.sent()) {
            sendError(session, Poco::Net::HTTPResponse::HTTP_INTERNAL_SERVER_ERROR);
          }
          throw;
        }
      } catch (const Poco::Net::NoMessageException&) {
        break;  // the client closed the connection
      } catch (const Poco::Net::MessageException&) {
        sendError(session, Poco::Net::HTTPResponse::HTTP_BAD_REQUEST);
      } catch (const Poco::Exception&) {
        break;  // network error or timeout: the connection ends
      }
    }
  }

 private:
  class Session : public Poco::Net::HTTPServerSession {
   public:
    using HTTPServerSession::HTTPServerSession;
    // The first wait is POCO's own (it also starts the keep-alive request count, which the
    // listener leaves unlimited); the next ones are one poll(2) each.
    bool waitForRequest(const Poco::Timespan& keep_alive) {
      if (first_) {
        first_ = false;
        return hasMoreRequests();
      }
      if (!getKeepAlive() || !canKeepAlive()) return false;
      if (buffered() > 0) return true;  // a pipelined request is already read
      pollfd p{socket().impl()->sockfd(), POLLIN, 0};
      int ms = static_cast<int>(keep_alive.totalMilliseconds());
      int r = 0;
      do {
        r = ::poll(&p, 1, ms);
      } while (r < 0 && errno == EINTR);
      return r > 0;
    }

   private:
    bool first_ = true;
  };

  void sendError(Poco::Net::HTTPServerSession& session,
                 Poco::Net::HTTPResponse::HTTPStatus status) {
    try {
      Poco::Net::HTTPServerResponseImpl response(session);
      response.setVersion(Poco::Net::HTTPMessage::HTTP_1_1);
      response.setStatusAndReason(status);
      response.setKeepAlive(false);
      response.send();
      session.setKeepAlive(false);
    } catch (...) {  // NOLINT(bugprone-empty-catch): the peer is gone
    }
  }

  void onServerStopped(const bool& abort_current) {
    stopped_.store(true);
    if (abort_current) {
      try {
        socket().shutdown();
      } catch (...) {  // NOLINT(bugprone-empty-catch): already closed
      }
    } else {
      std::lock_guard lock(mutex_);
      try {
        socket().shutdown();
      } catch (...) {  // NOLINT(bugprone-empty-catch): already closed
      }
    }
  }

  Poco::Net::HTTPServerParams::Ptr params_;
  Poco::SharedPtr<StoppableHandlerFactory> handlers_;
  std::atomic<bool> stopped_{false};
  std::mutex mutex_;
};

// Creates the connections, with TCP_NODELAY: answers are written as they are ready and
// must not wait for the peer's delayed ACK.
class ConnectionFactory : public Poco::Net::TCPServerConnectionFactory {
 public:
  ConnectionFactory(Poco::Net::HTTPServerParams::Ptr params,
                    Poco::SharedPtr<StoppableHandlerFactory> handlers, bool tls)
      : params_(std::move(params)), handlers_(std::move(handlers)), tls_(tls) {}

  Poco::Net::TCPServerConnection* createConnection(const Poco::Net::StreamSocket& socket) override {
    try {
      Poco::Net::StreamSocket(socket).setNoDelay(true);
    } catch (const Poco::Exception&) {  // NOLINT(bugprone-empty-catch): best effort
    }
    if (tls_) return new Poco::Net::HTTPServerConnection(socket, params_, handlers_);
    return new PlainConnection(socket, params_, handlers_);
  }

 private:
  Poco::Net::HTTPServerParams::Ptr params_;
  Poco::SharedPtr<StoppableHandlerFactory> handlers_;
  bool tls_;
};

}  // namespace

struct HttpListener::Server {
  std::unique_ptr<Poco::ThreadPool> pool;
  Poco::SharedPtr<HandlerFactory> handlers;
  std::unique_ptr<Poco::Net::TCPServer> tcp;
};

// ---------------------------------------------------------------------------------------
// HttpListener

HttpListener::HttpListener(std::string name, HttpListenerSettings settings)
    : name_(std::move(name)),
      settings_(std::move(settings)),
      table_(std::make_shared<const RouteTable>()) {}

Result<std::shared_ptr<HttpListener>> HttpListener::create(std::string name,
                                                           HttpListenerSettings settings) {
  if (settings.threads < 1) {
    return Error(ErrorCode::kInvalidConfig, "threads must be at least 1");
  }
  std::unique_ptr<Tls> tls;
  if (settings.tls) {
    const HttpListenerTls& t = *settings.tls;
    try {
      tls = std::make_unique<Tls>();
      tls->context = serverTlsContext(t.cert, t.key, t.client_ca, /*require_client_cert=*/true);
    } catch (const Poco::Exception& e) {
      return Error(ErrorCode::kInvalidConfig,
                   "cannot load TLS certificate or key: " + e.displayText());
    }
  }
  std::shared_ptr<HttpListener> listener(new HttpListener(std::move(name), std::move(settings)));
  listener->tls_ = std::move(tls);
  return listener;
}

HttpListener::~HttpListener() { stop(); }

std::string HttpListener::describe() const {
  std::string out = "http listener ";
  out += name_;
  out += tls() ? " on https://" : " on http://";
  out += settings_.address;
  out += ':';
  const std::uint16_t p = port();
  out += std::to_string(p != 0 ? p : settings_.port);
  return out;
}

Result<void> HttpListener::start() {
  if (server_) return {};
  const std::string where = settings_.address + ":" + std::to_string(settings_.port);
  try {
    const Poco::Net::SocketAddress address(settings_.address, settings_.port);
    // No SO_REUSEPORT (Poco's default with reuseAddress): a second daemon on the same
    // port must fail, not share it.
    Poco::Net::ServerSocket socket;
    if (tls_) {
      Poco::Net::SecureServerSocket secure(tls_->context);
      secure.bind(address, true, false);
      secure.listen(kBacklog);
      socket = secure;
    } else {
      socket.bind(address, true, false);
      socket.listen(kBacklog);
    }

    Poco::Net::HTTPServerParams::Ptr params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(settings_.threads);
    params->setMaxQueued(kBacklog);
    params->setKeepAlive(true);
    params->setMaxKeepAliveRequests(0);  // unlimited
    params->setKeepAliveTimeout(toTimespan(settings_.idle_timeout));
    params->setTimeout(toTimespan(settings_.header_timeout));

    auto server = std::make_unique<Server>();
    server->pool = std::make_unique<Poco::ThreadPool>(2, settings_.threads, 60);
    server->handlers = new HandlerFactory(*this);
    Poco::Net::TCPServerConnectionFactory::Ptr connections =
        new ConnectionFactory(params, server->handlers, tls_ != nullptr);
    server->tcp =
        std::make_unique<Poco::Net::TCPServer>(connections, *server->pool, socket, params);
    server->tcp->start();
    bound_port_.store(socket.address().port());
    server_ = std::move(server);
  } catch (const Poco::Exception& e) {
    return Error(ErrorCode::kInvalidConfig,
                 "http listener " + name_ + ": cannot listen on " + where + ": " + e.displayText());
  }
  return {};
}

void HttpListener::stop() {
  if (!server_) return;
  try {
    server_->tcp->stop();                   // no new connections
    server_->handlers->abortConnections();  // idle keep-alive connections end now
    server_->pool->joinAll();               // requests in progress end on their own
  } catch (const Poco::Exception&) {        // NOLINT(bugprone-empty-catch): shutting down anyway
  }
  server_.reset();
  bound_port_.store(0);
}

std::shared_ptr<const HttpListener::RouteTable> HttpListener::table() const {
  std::lock_guard lock(table_mutex_);
  return table_;
}

HttpListener::Token HttpListener::bind(const std::string& path,
                                       const std::vector<std::string>& methods,
                                       InboundContext& context) {
  auto binding = std::make_shared<HttpBinding>();
  binding->key = path;
  if (path.size() >= 2 && path.compare(path.size() - 2, 2, "/*") == 0) {
    binding->is_prefix = true;
    binding->prefix = path.substr(0, path.size() - 2);
  }
  binding->methods = methods;
  for (const std::string& m : methods) {
    if (!binding->allow.empty()) binding->allow += ", ";
    binding->allow += m;
  }
  binding->context = &context;
  binding->route_id = context.routeId();
  binding->pattern = context.pattern();
  binding->timeout = context.timeout();

  std::lock_guard lock(table_mutex_);
  const Token token = next_token_++;
  binding->token = token;
  auto next = std::make_shared<RouteTable>(*table_);
  next->put(binding);
  table_ = std::move(next);
  owned_.emplace(token, std::move(binding));
  return token;
}

void HttpListener::unbind(Token token) {
  std::shared_ptr<HttpBinding> binding;
  {
    std::lock_guard lock(table_mutex_);
    auto it = owned_.find(token);
    if (it == owned_.end()) return;
    binding = std::move(it->second);
    owned_.erase(it);
    if (table_->find(binding->key) != nullptr) {
      auto next = std::make_shared<RouteTable>(*table_);
      if (next->remove(*binding)) {
        // A binding of the same path that is still owned (the route a refused reload
        // was about to replace) takes the path back: the latest one wins.
        std::shared_ptr<HttpBinding> previous;
        for (const auto& [t, b] : owned_) {
          if (b->key == binding->key && (!previous || t > previous->token)) previous = b;
        }
        if (previous) next->put(previous);
        table_ = std::move(next);
      }
    }
  }
  // Outside the table lock: requests that took the old table may be inside submit().
  binding->close();
}

void HttpListener::handle(HTTPServerRequest& request, HTTPServerResponse& response) {
  // Request target: origin form "/p?q", or absolute form "http://host/p?q".
  std::string_view target = request.getURI();
  if (!target.empty() && target.front() != '/') {
    const std::size_t scheme = target.find("://");
    const std::size_t slash =
        scheme == std::string_view::npos ? std::string_view::npos : target.find('/', scheme + 3);
    target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
  }
  const std::size_t q = target.find('?');
  const std::string_view path = target.substr(0, q);
  const std::string_view query =
      q == std::string_view::npos ? std::string_view() : target.substr(q + 1);

  std::shared_ptr<const RouteTable> snapshot = table();
  HttpBinding* binding = snapshot->find(path);
  if (binding == nullptr) {
    discardBody(request, response);
    sendError(response, 404, "no route for " + std::string(path), "not-found");
    return;
  }
  if (!binding->allows(request.getMethod())) {
    discardBody(request, response);
    response.set("Allow", binding->allow);
    sendError(response, 405, "method " + request.getMethod() + " not allowed", "method-not-allowed",
              binding->route_id);
    return;
  }

  // The body, within max-body.
  std::string body;
  const std::uint64_t max_body = settings_.max_body;
  try {
    if (request.getChunkedTransferEncoding()) {
      std::istream& in = request.stream();
      while (in && body.size() <= max_body) {
        const std::size_t old = body.size();
        body.resize(old + kChunk);
        in.read(body.data() + old, static_cast<std::streamsize>(kChunk));
        body.resize(old + static_cast<std::size_t>(in.gcount()));
      }
      if (body.size() > max_body) {
        if (!drain(in, kDrainLimit)) response.setKeepAlive(false);
        sendError(response, 413, "request body over " + std::to_string(max_body) + " bytes",
                  "too-large", binding->route_id);
        return;
      }
      if (in.bad() || !in.eof()) {
        response.setKeepAlive(false);
        sendError(response, 400, "incomplete request body", "bad-request", binding->route_id);
        return;
      }
    } else if (request.hasContentLength()) {
      const Poco::Int64 length = request.getContentLength64();
      if (length < 0) {
        response.setKeepAlive(false);
        sendError(response, 400, "bad Content-Length", "bad-request", binding->route_id);
        return;
      }
      const auto size = static_cast<std::uint64_t>(length);
      if (size > max_body) {
        if (size - max_body > kDrainLimit || !drain(request.stream(), size)) {
          response.setKeepAlive(false);
        }
        sendError(response, 413, "request body over " + std::to_string(max_body) + " bytes",
                  "too-large", binding->route_id);
        return;
      }
      if (size > 0) {
        body.resize(static_cast<std::size_t>(size));
        std::istream& in = request.stream();
        in.read(body.data(), static_cast<std::streamsize>(size));
        if (static_cast<std::uint64_t>(in.gcount()) != size) {
          response.setKeepAlive(false);
          sendError(response, 400, "incomplete request body", "bad-request", binding->route_id);
          return;
        }
      }
    }
    // Neither: no body (RFC 9112 6.3); never read until the connection closes.
  } catch (const Poco::Exception&) {  // a malformed Content-Length
    response.setKeepAlive(false);
    sendError(response, 400, "bad request body", "bad-request", binding->route_id);
    return;
  }

  Message message = requestMessage(request, path, query, std::move(body));
  for (int attempt = 0; attempt < 4; ++attempt) {
    if (serveExchange(*binding, message, response) == Served::kAnswered) return;
    // Unbound while this request was on its way: a reload binds the successor first.
    snapshot = table();
    binding = snapshot->find(path);
    if (binding == nullptr) {
      sendError(response, 404, "no route for " + std::string(path), "not-found");
      return;
    }
    if (!binding->allows(request.getMethod())) {
      response.set("Allow", binding->allow);
      sendError(response, 405, "method " + request.getMethod() + " not allowed",
                "method-not-allowed", binding->route_id);
      return;
    }
  }
  response.set("Retry-After", "1");
  sendError(response, 503, "route is restarting", errorCodeName(ErrorCode::kBusy),
            binding->route_id);
}

}  // namespace lienthong::adapters::http
