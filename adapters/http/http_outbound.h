#pragma once
// The `http` connection (a peer's URL, timeouts, TLS and a keep-alive pool) and the
// `http` outbound endpoint that sends a route's message through one.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lienthong/endpoint.h"
#include "lienthong/result.h"
#include "lienthong/template.h"

namespace Poco::Net {
class HTTPClientSession;
class HTTPRequest;
}  // namespace Poco::Net

namespace lienthong::adapters::http {

struct HttpConnectionTls {
  std::string ca_bundle;  // PEM CA file; empty = the system's default CAs
  bool verify = true;     // verify the peer's certificate and host name
};

// OAuth2 client credentials (RFC 6749 4.4), as the postal service and the integration
// platforms (LGSP, NGSP) want them: a token from `token_url` with Basic authentication of
// the client, kept until shortly before it expires and sent as "Authorization: Bearer".
struct HttpOAuth2 {
  std::string token_url;
  std::string client_id;
  std::string client_secret;
  std::string scope;  // "" = none asked
};

struct HttpConnectionSettings {
  std::string url;  // http[s]://host[:port][/base/path]
  std::chrono::milliseconds connect_timeout{5'000};
  std::chrono::milliseconds read_timeout{30'000};
  std::size_t pool = 64;  // idle keep-alive sessions kept
  HttpConnectionTls tls;  // https only
  std::optional<HttpOAuth2> oauth2;
};

class HttpConnection : public Connection {
 public:
  // Fails (kInvalidConfig) on a bad URL or CA bundle.
  static Result<std::shared_ptr<HttpConnection>> create(HttpConnectionSettings settings);
  ~HttpConnection() override;
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // "http connection http://127.0.0.1:9000/base"
  std::string describe() const override;

  const HttpConnectionSettings& settings() const { return settings_; }
  // scheme://host:port, without the base path.
  const std::string& origin() const { return origin_; }
  // The URL's path without a trailing "/" ("" for none).
  const std::string& basePath() const { return base_path_; }
  bool https() const { return https_; }

  // Thread-safe; never throws. Sends `request` (its URI already holds the full path) with
  // `body`, waiting at most until `deadline` for the answer, and classifies the result:
  // 2xx accepted, 408/429/5xx retry (kRemote), other statuses rejected, connection
  // failures retry (kConnect), timeouts retry (kTimeout). The reply (for any status) is a
  // message with the response body, content type and header http.status, whose id,
  // correlation id and dossier key are those of `original`.
  // With oauth2: the request carries the connection's token, fetched first when there is
  // none (one fetch at a time; a failed fetch is not tried again for 2 s, the messages
  // meanwhile are retried with its reason); a 401 answer drops the token, and the request
  // is sent once more with a fresh one.
  Delivery execute(Poco::Net::HTTPRequest& request, const std::string& body,
                   std::chrono::steady_clock::time_point deadline, const Message& original);
  // Tokens fetched so far (tests, figures). Thread-safe.
  std::uint64_t tokensFetched() const { return tokens_fetched_.load(); }

  // Idle sessions in the pool. Thread-safe.
  std::size_t idleSessions() const;
  // Sessions created so far (each is one TCP connection, or more when it had to
  // reconnect). Thread-safe.
  std::uint64_t sessionsCreated() const { return sessions_created_.load(); }

 private:
  struct Tls;
  explicit HttpConnection(HttpConnectionSettings settings);

  // An idle session (reused = true) or a new one.
  std::unique_ptr<Poco::Net::HTTPClientSession> acquire(bool& reused);
  std::unique_ptr<Poco::Net::HTTPClientSession> newSession();
  void release(std::unique_ptr<Poco::Net::HTTPClientSession> session);
  Delivery executeOnce(Poco::Net::HTTPRequest& request, const std::string& body,
                       std::chrono::steady_clock::time_point deadline, const Message& original);
  // The current token, fetching one (within the read timeout) when there is none or it is
  // about to expire; "" and the failure (a retry) otherwise.
  std::string token(const Message& original, Delivery& failure);
  void forgetToken(const std::string& token);

  const HttpConnectionSettings settings_;
  bool https_ = false;
  std::string host_;
  std::uint16_t port_ = 0;
  std::string origin_;
  std::string base_path_;
  std::unique_ptr<Tls> tls_;

  mutable std::mutex pool_mutex_;
  std::vector<std::unique_ptr<Poco::Net::HTTPClientSession>> idle_;  // under pool_mutex_
  std::atomic<std::uint64_t> sessions_created_{0};

  std::shared_ptr<HttpConnection> token_http_;  // oauth2: the token endpoint's connection
  std::mutex token_mutex_;                      // held while a token is fetched
  std::string token_;                           // under token_mutex_
  std::chrono::steady_clock::time_point token_until_;
  std::chrono::steady_clock::time_point token_failed_until_;
  Delivery token_failure_;
  std::atomic<std::uint64_t> tokens_fetched_{0};
};

struct HttpOutboundSettings {
  std::shared_ptr<HttpConnection> connection;  // required
  std::shared_ptr<const Template> path;        // appended to the base path; may be null
  std::string method = "POST";
  std::vector<std::pair<std::string, std::shared_ptr<const Template>>> headers;
  std::vector<std::string> forward_headers;  // message headers copied as they are
};

class HttpOutbound : public OutboundEndpoint {
 public:
  explicit HttpOutbound(HttpOutboundSettings settings);

  // Engine worker threads, concurrently. Never throws.
  Delivery send(Exchange& exchange) override;
  // "http POST http://127.0.0.1:9000/base/path" (the path template's source).
  std::string describe() const override;
  // "http POST http://127.0.0.1:9000/base/in/HS-1" (the path rendered for the exchange).
  std::string target(const Exchange& exchange) const override;
  // A header value (content type, forwarded, rendered) with a line break.
  std::string refusal(const Exchange& exchange) const override;
  // The connection's origin, "http://host:port".
  std::string peer() const override;

  const HttpOutboundSettings& settings() const { return settings_; }

 private:
  // Checks the request's headers and, when `request` is given, sets them; returns why one
  // cannot be sent, or "".
  std::string headers(const Exchange& exchange, Poco::Net::HTTPRequest* request) const;
  // The request target: the connection's base path and the rendered path.
  std::string requestTarget(const Exchange& exchange) const;

  HttpOutboundSettings settings_;
};

}  // namespace lienthong::adapters::http
