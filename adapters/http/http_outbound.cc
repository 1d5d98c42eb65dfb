#include "adapters/http/http_outbound.h"
#include "adapters/http/tls.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <Poco/Base64Encoder.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/String.h>
#include <Poco/URI.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <istream>
#include <ostream>
#include <sstream>
#include <string_view>

#include "adapters/http/http_common.h"
#include "core/encoding.h"

namespace lienthong::adapters::http {

namespace {

std::string base64(const std::string& text) {
  std::ostringstream out;
  Poco::Base64Encoder encoder(out);
  encoder.rdbuf()->setLineLength(0);
  encoder << text;
  encoder.close();
  return out.str();
}

// application/x-www-form-urlencoded: letters, digits and -._~ as they are, a space as +,
// every other byte as %XX.
std::string urlEncodeForm(const std::string& text) {
  static const char* const kHex = "0123456789ABCDEF";
  std::string out;
  for (const char ch : text) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += ch;
    } else if (c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// A member of a JSON object's text, as text ("" when absent or not a JSON object).
std::string jsonMember(const std::string& json, const char* name) {
  try {
    auto o = Poco::JSON::Parser().parse(json).extract<Poco::JSON::Object::Ptr>();
    return o && o->has(name) ? o->get(name).convert<std::string>() : std::string();
  } catch (const std::exception&) {
    return {};
  }
}

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

Poco::Timespan toTimespan(milliseconds ms) {
  return Poco::Timespan(static_cast<Poco::Timespan::TimeDiff>(ms.count()) * 1000);
}

bool methodHasBody(const std::string& method) {
  return method == "POST" || method == "PUT" || method == "PATCH";
}

// Reads the whole response body; false when the stream broke off.
constexpr std::size_t kCorkAbove = 3000;

void setCork(int fd, bool on) {
  const int value = on ? 1 : 0;
  ::setsockopt(fd, IPPROTO_TCP, TCP_CORK, &value, sizeof value);
}

// Reads the answer's body one socket read at a time (peek() makes the stream read once,
// readsome() takes what came); before each, `more()` cuts the socket's read timeout to
// what is left of the attempt, or says false when nothing is (then: false).
bool readBody(std::istream& in, const Poco::Net::HTTPResponse& response, std::string& body,
              const std::function<bool()>& more) {
  constexpr std::size_t kChunk = 64 * 1024;
  const bool sized = response.hasContentLength();
  const auto length = sized ? static_cast<std::size_t>(response.getContentLength64()) : 0;
  if (sized) body.reserve(std::min(length, std::size_t{64} << 20));
  for (;;) {
    if (sized && body.size() >= length) return true;
    if (!more()) return false;
    if (in.peek() == std::char_traits<char>::eof()) break;
    const std::size_t want = sized ? std::min(kChunk, length - body.size()) : kChunk;
    const std::size_t old = body.size();
    body.resize(old + want);
    const auto n = static_cast<std::size_t>(
        in.readsome(body.data() + old, static_cast<std::streamsize>(want)));
    body.resize(old + n);
  }
  return sized ? body.size() == length : !in.bad();
}

// Appends a rendered path to a request target. Bytes a target cannot carry as they are
// (controls, space, non-ASCII, "<>\^`{|}) are percent-encoded; the rest, '%' included,
// is kept, so an already encoded path passes unchanged.
void appendTarget(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F ||
        std::string_view("\"<>\\^`{|}").find(c) != std::string_view::npos) {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0xF];
    } else {
      out += c;
    }
  }
}

// A header value that would end the header (or the request head) early.
bool breaksHeader(std::string_view value) {
  return value.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// HttpConnection

struct HttpConnection::Tls {
  Poco::Net::Context::Ptr context;
};

HttpConnection::HttpConnection(HttpConnectionSettings settings) : settings_(std::move(settings)) {}

HttpConnection::~HttpConnection() = default;

Result<std::shared_ptr<HttpConnection>> HttpConnection::create(HttpConnectionSettings settings) {
  std::shared_ptr<HttpConnection> c(new HttpConnection(std::move(settings)));
  const HttpConnectionSettings& s = c->settings_;
  try {
    const Poco::URI uri(s.url);
    const std::string scheme = Poco::toLower(uri.getScheme());
    if (scheme != "http" && scheme != "https") {
      return Error(ErrorCode::kInvalidConfig,
                   "URL '" + s.url + "' must start with http:// or https://");
    }
    if (uri.getHost().empty()) {
      return Error(ErrorCode::kInvalidConfig, "URL '" + s.url + "' has no host");
    }
    if (!uri.getUserInfo().empty() || !uri.getRawQuery().empty() || !uri.getFragment().empty()) {
      return Error(ErrorCode::kInvalidConfig,
                   "URL '" + s.url + "' may hold a scheme, host, port and path only");
    }
    c->https_ = scheme == "https";
    c->host_ = uri.getHost();
    c->port_ = uri.getPort();
    c->base_path_ = uri.getPathEtc();  // still encoded; no query or fragment here
    while (!c->base_path_.empty() && c->base_path_.back() == '/') c->base_path_.pop_back();
    const bool v6 = c->host_.find(':') != std::string::npos;
    c->origin_ =
        scheme + "://" + (v6 ? "[" + c->host_ + "]" : c->host_) + ":" + std::to_string(c->port_);
  } catch (const Poco::Exception& e) {
    return Error(ErrorCode::kInvalidConfig, "bad URL '" + s.url + "': " + e.displayText());
  }

  if (c->https_) {
    initializeSsl();
    try {
      TlsClientOptions options;
      options.ca_file = s.tls.ca_bundle;
      options.verify = s.tls.verify;
      c->tls_ = std::make_unique<Tls>();
      c->tls_->context = clientTlsContext(options);
    } catch (const Poco::Exception& e) {
      return Error(ErrorCode::kInvalidConfig, "cannot load the CA bundle: " + e.displayText());
    }
  }
  if (s.oauth2) {
    HttpConnectionSettings t;
    t.url = s.oauth2->token_url;
    t.connect_timeout = s.connect_timeout;
    t.read_timeout = s.read_timeout;
    t.pool = 2;
    t.tls = s.tls;
    auto token = create(std::move(t));
    if (!token.ok()) {
      return Error(token.error().code, "oauth2 token-url: " + token.error().message);
    }
    c->token_http_ = std::move(*token);
  }
  return c;
}

std::string HttpConnection::token(const Message& original, Delivery& failure) {
  std::lock_guard lock(token_mutex_);  // one fetch at a time; the others wait for it
  const auto now = Clock::now();
  if (!token_.empty() && now < token_until_) return token_;
  if (now < token_failed_until_) {
    failure = token_failure_;
    return {};
  }
  const HttpOAuth2& o = *settings_.oauth2;
  std::string body = "grant_type=client_credentials";
  if (!o.scope.empty()) body += "&scope=" + urlEncodeForm(o.scope);
  Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST,
                                 token_http_->basePath().empty() ? "/" : token_http_->basePath(),
                                 Poco::Net::HTTPMessage::HTTP_1_1);
  request.setContentType("application/x-www-form-urlencoded");
  // RFC 6749 2.3.1: the id and the secret form-encoded, then Basic.
  request.set("Authorization",
              "Basic " + base64(urlEncodeForm(o.client_id) + ":" + urlEncodeForm(o.client_secret)));
  request.set("Accept", "application/json");
  // The token's own deadline, not the first caller's: a caller near its end must not make
  // a failure that every other message then shares.
  Delivery d =
      token_http_->executeOnce(request, body, Clock::now() + settings_.read_timeout, original);
  ++tokens_fetched_;
  std::string access;
  long long expires = 0;
  if (d.status == Delivery::Status::kAccepted && d.reply) {
    access = jsonMember(d.reply->body(), "access_token");
    const std::string e = jsonMember(d.reply->body(), "expires_in");
    expires = e.empty() ? 300 : std::atoll(e.c_str());
  }
  if (access.empty()) {
    // Refused credentials are an operator's to fix: retried, not dead-lettered.
    const std::string why =
        d.status == Delivery::Status::kAccepted ? "the answer holds no access_token" : d.detail;
    token_failure_ = Delivery::retry(
        d.status == Delivery::Status::kRetry ? d.failure : Delivery::Failure::kRemote,
        "oauth2 token from " + token_http_->origin() + token_http_->basePath() + ": " + why);
    token_failed_until_ = Clock::now() + std::chrono::seconds(2);
    failure = token_failure_;
    return {};
  }
  token_ = access;
  // Renewed a little before it expires (a tenth of its life, 30 s at most).
  const long long margin = std::min<long long>(30, expires / 10);
  token_until_ = Clock::now() + std::chrono::seconds(std::max<long long>(1, expires - margin));
  return token_;
}

void HttpConnection::forgetToken(const std::string& used) {
  std::lock_guard lock(token_mutex_);
  if (token_ == used) token_.clear();
}

Delivery HttpConnection::execute(Poco::Net::HTTPRequest& request, const std::string& body,
                                 Clock::time_point deadline, const Message& original) {
  if (!settings_.oauth2) return executeOnce(request, body, deadline, original);
  for (int round = 0;; ++round) {
    Delivery failure;
    const std::string t = token(original, failure);
    if (t.empty()) return failure;
    request.set("Authorization", "Bearer " + t);
    Delivery d = executeOnce(request, body, deadline, original);
    const std::string* status = d.reply ? d.reply->header("http.status") : nullptr;
    if (round == 0 && status && *status == "401") {  // the token ended early: once more
      forgetToken(t);
      continue;
    }
    return d;
  }
}

std::string HttpConnection::describe() const { return "http connection " + origin_ + base_path_; }

std::size_t HttpConnection::idleSessions() const {
  std::lock_guard lock(pool_mutex_);
  return idle_.size();
}

std::unique_ptr<Poco::Net::HTTPClientSession> HttpConnection::newSession() {
  std::unique_ptr<Poco::Net::HTTPClientSession> session;
  if (https_) {
    session = std::make_unique<Poco::Net::HTTPSClientSession>(host_, port_, tls_->context);
  } else {
    session = std::make_unique<Poco::Net::HTTPClientSession>(host_, port_);
  }
  session->setKeepAlive(true);
  sessions_created_.fetch_add(1);
  return session;
}

std::unique_ptr<Poco::Net::HTTPClientSession> HttpConnection::acquire(bool& reused) {
  {
    std::lock_guard lock(pool_mutex_);
    if (!idle_.empty()) {
      auto session = std::move(idle_.back());
      idle_.pop_back();
      reused = true;
      return session;
    }
  }
  reused = false;
  return newSession();
}

void HttpConnection::release(std::unique_ptr<Poco::Net::HTTPClientSession> session) {
  {
    std::lock_guard lock(pool_mutex_);
    if (idle_.size() < settings_.pool) {
      idle_.push_back(std::move(session));
      return;
    }
  }
  // Over the pool size: closed here, outside the lock.
}

Delivery HttpConnection::executeOnce(Poco::Net::HTTPRequest& request, const std::string& body,
                                     Clock::time_point deadline, const Message& original) {
  milliseconds connect_timeout = settings_.connect_timeout;
  milliseconds read_timeout = settings_.read_timeout;
  auto where = [&] { return origin_ + request.getURI(); };

  bool reused = false;
  std::unique_ptr<Poco::Net::HTTPClientSession> session;
  for (;;) {
    if (deadline != Clock::time_point::max()) {
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
      if (left <= milliseconds::zero()) {
        return Delivery::retry(Delivery::Failure::kTimeout,
                               "deadline passed before sending to " + where());
      }
      connect_timeout = std::min(connect_timeout, left);
      read_timeout = std::min(read_timeout, left);
    }
    if (!session) session = acquire(reused);

    bool responding = false;  // a response started to arrive
    try {
      session->setTimeout(toTimespan(connect_timeout), toTimespan(read_timeout),
                          toTimespan(read_timeout));
      if (session->connected()) {  // setTimeout() applies at the next connect only
        session->socket().setReceiveTimeout(toTimespan(read_timeout));
        session->socket().setSendTimeout(toTimespan(read_timeout));
      }
      if (!body.empty() || methodHasBody(request.getMethod())) {
        request.setContentLength64(static_cast<Poco::Int64>(body.size()));
      }
      std::ostream& out = session->sendRequest(request);
      if (body.size() > kCorkAbove) {
        // POCO sends through a 4 KiB buffer: corked, a larger request leaves in full
        // segments and wakes the peer once.
        const int fd = session->socket().impl()->sockfd();
        setCork(fd, true);
        out.write(body.data(), static_cast<std::streamsize>(body.size()));
        out.flush();
        setCork(fd, false);
      } else {
        out.write(body.data(), static_cast<std::streamsize>(body.size()));
      }

      Poco::Net::HTTPResponse response;
      std::istream& in = session->receiveResponse(response);
      responding = true;
      std::string reply_body;
      // The attempt's deadline bounds the whole answer, not each read: the read timeout
      // shrinks as the deadline nears (within 50 ms, to spare a system call per read).
      milliseconds applied = read_timeout;
      auto more = [&] {
        if (deadline == Clock::time_point::max()) return true;
        const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
        if (left <= milliseconds::zero()) return false;
        if (left + milliseconds(50) < applied) {
          applied = left;
          session->socket().setReceiveTimeout(toTimespan(left));
        }
        return true;
      };
      if (!readBody(in, response, reply_body, more)) {
        // The read timeout was cut to the deadline; the kernel may end such a wait a
        // little early, so a read that stopped within that margin is the deadline's.
        if (deadline != Clock::time_point::max() && Clock::now() + milliseconds(50) >= deadline) {
          throw Poco::TimeoutException("the answer did not end before the deadline");
        }
        if (const Poco::Exception* e = session->networkException()) e->rethrow();
        throw Poco::Net::MessageException("response body broke off");
      }

      const int status = static_cast<int>(response.getStatus());
      Message reply(original.id());
      reply.setCorrelationId(original.correlationId());
      reply.setDossierKey(original.dossierKey());
      reply.setAttempt(original.attempt());
      reply.setBody(std::move(reply_body));
      reply.setContentType(response.getContentType());
      reply.setHeader("http.status", std::to_string(status));
      if (response.getKeepAlive()) release(std::move(session));

      if (status >= 200 && status < 300) return Delivery::accepted(std::move(reply));
      std::string detail =
          "HTTP " + std::to_string(status) + " " + response.getReason() + " from " + where();
      if (status == 408 || status == 429 || status >= 500) {
        return Delivery::retry(Delivery::Failure::kRemote, std::move(detail), std::move(reply));
      }
      return Delivery::rejected(std::move(detail), std::move(reply));
    } catch (const Poco::TimeoutException&) {
      return Delivery::retry(
          Delivery::Failure::kTimeout,
          "no answer within " + std::to_string(read_timeout.count()) + "ms from " + where());
    } catch (const Poco::Exception& e) {
      const bool no_message = dynamic_cast<const Poco::Net::NoMessageException*>(&e) != nullptr;
      const bool malformed =
          !no_message && dynamic_cast<const Poco::Net::MessageException*>(&e) != nullptr;
      // A kept-alive session the peer closed in the meantime fails before any answer:
      // once, on a fresh session.
      if (reused && !responding && !malformed) {
        session.reset();
        session = newSession();
        reused = false;
        continue;
      }
      if (malformed) {
        return Delivery::retry(Delivery::Failure::kRemote,
                               "bad answer from " + where() + ": " + e.displayText());
      }
      return Delivery::retry(Delivery::Failure::kConnect,
                             "cannot reach " + where() + ": " + e.displayText());
    } catch (const std::exception& e) {
      return Delivery::retry(Delivery::Failure::kConnect,
                             "cannot reach " + where() + ": " + e.what());
    }
  }
}

// ---------------------------------------------------------------------------------------
// HttpOutbound

HttpOutbound::HttpOutbound(HttpOutboundSettings settings) : settings_(std::move(settings)) {}

std::string HttpOutbound::peer() const {
  return settings_.connection ? settings_.connection->origin() : describe();
}

std::string HttpOutbound::describe() const {
  std::string out = "http ";
  out += settings_.method;
  out += ' ';
  if (settings_.connection) {
    out += settings_.connection->origin();
    out += settings_.connection->basePath();
  }
  if (settings_.path) out += settings_.path->source();
  return out;
}

std::string HttpOutbound::requestTarget(const Exchange& exchange) const {
  std::string uri = settings_.connection ? settings_.connection->basePath() : std::string();
  if (settings_.path) {
    const std::string path = settings_.path->render(exchange);
    if (!path.empty() && path.front() != '/' && path.front() != '?') uri += '/';
    appendTarget(uri, path);
  }
  if (uri.empty() || uri.front() != '/') uri.insert(0, 1, '/');
  return uri;
}

std::string HttpOutbound::target(const Exchange& exchange) const {
  std::string out = "http " + settings_.method + ' ';
  if (settings_.connection) out += settings_.connection->origin();
  return out + requestTarget(exchange);
}

std::string HttpOutbound::headers(const Exchange& exchange, Poco::Net::HTTPRequest* request) const {
  const Message& message = exchange.message();
  auto set = [&](const std::string& name, const std::string& value) {
    if (breaksHeader(value)) return false;
    if (request) request->set(name, value);
    return true;
  };
  if (!message.contentType().empty() && !set("Content-Type", message.contentType())) {
    return "the content type holds a line break";
  }
  for (const std::string& name : settings_.forward_headers) {
    const std::string* value = message.header(name);
    if (value != nullptr && !set(name, *value)) return "header " + name + " holds a line break";
  }
  // The trace goes on to the peer (W3C trace context), unless the route sets its own.
  bool own_trace = false;
  for (const auto& [name, value] : settings_.headers) own_trace |= isTraceparent(name);
  for (const std::string& name : settings_.forward_headers) own_trace |= isTraceparent(name);
  if (!own_trace && !exchange.traceId().empty()) {
    set("traceparent", traceparentFor(exchange.traceId()));
  }
  for (const auto& [name, value] : settings_.headers) {
    if (!set(name, value->render(exchange))) return "header " + name + " holds a line break";
  }
  return {};
}

std::string HttpOutbound::refusal(const Exchange& exchange) const {
  return headers(exchange, nullptr);
}

Delivery HttpOutbound::send(Exchange& exchange) {
  if (!settings_.connection) {
    return Delivery::retry(Delivery::Failure::kConnect, "http endpoint without a connection");
  }
  try {
    const Message& message = exchange.message();
    const std::string uri = requestTarget(exchange);

    Poco::Net::HTTPRequest request(settings_.method, uri, Poco::Net::HTTPMessage::HTTP_1_1);
    if (std::string why = headers(exchange, &request); !why.empty()) {
      return Delivery::rejected(why);
    }
    return settings_.connection->execute(request, message.body(), exchange.deadline(), message);
  } catch (const std::exception& e) {  // a template or allocation failure
    return Delivery::retry(Delivery::Failure::kConnect, describe() + ": " + e.what());
  }
}

}  // namespace lienthong::adapters::http
