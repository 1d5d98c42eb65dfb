#pragma once
// The `http` inbound endpoint: binds a path of an http listener to a route. Each request
// becomes one message; the answer is 202 (one-way) or the route's outcome
// (request-reply), see docs/routes.md.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/http/http_listener.h"
#include "lienthong/endpoint.h"

namespace Poco::Net {
class HTTPServerRequest;
class HTTPServerResponse;
}  // namespace Poco::Net

namespace lienthong::adapters::http {

struct HttpInboundSettings {
  std::shared_ptr<HttpListener> listener;    // required
  std::string path;                          // "/exact" or "/prefix/*"
  std::vector<std::string> methods{"POST"};  // upper case
};

class HttpInbound : public InboundEndpoint {
 public:
  explicit HttpInbound(HttpInboundSettings settings);
  ~HttpInbound() override;  // unbinds when still started

  // Control thread. Binds the path; requests reach `context` from now on.
  Result<void> start(InboundContext& context) override;
  // Control thread. Unbinds; returns once no request will submit to the context.
  void stop() override;
  // "http POST /path on listener public"
  std::string describe() const override;
  // "http <listener> <path>": one route per path of a listener (methods do not split it).
  std::string exclusiveKey() const override;

  const HttpInboundSettings& settings() const { return settings_; }

 private:
  HttpInboundSettings settings_;
  HttpListener::Token token_ = 0;  // 0 when not started
};

// Used by HttpListener for each request that reached a binding.

// The message of a request: body, content type, headers (without hop-by-hop headers and
// client headers named "http.*"), http.method, http.path, http.query, correlation id
// from X-Correlation-Id.
Message requestMessage(const Poco::Net::HTTPServerRequest& request, std::string_view path,
                       std::string_view query, std::string&& body);

enum class Served {
  kAnswered,    // the response was sent
  kGateClosed,  // the binding was unbound before submit; nothing was sent or submitted
};

// Submits `message` (moved from only when submitted) to the binding's route and answers.
Served serveExchange(HttpBinding& binding, Message& message,
                     Poco::Net::HTTPServerResponse& response);

// Writes the answer to a request-reply outcome.
void answerOutcome(const Outcome& outcome, std::string_view route_id,
                   Poco::Net::HTTPServerResponse& response);

}  // namespace lienthong::adapters::http
