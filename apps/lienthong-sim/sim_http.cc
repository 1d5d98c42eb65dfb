#include "apps/lienthong-sim/sim_http.h"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/StreamCopier.h>

namespace lienthong::sim {
namespace {

class Handler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Handler(const SimHandler& handler) : handler_(handler) {}
  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    std::string body;
    Poco::StreamCopier::copyToString(request.stream(), body);
    const SimAnswer a = handler_(request, body);
    response.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(a.status));
    response.setContentType(a.content_type);
    response.setContentLength(static_cast<std::streamsize>(a.body.size()));
    response.send() << a.body;
  }

 private:
  const SimHandler& handler_;
};

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Factory(SimHandler handler) : handler_(std::move(handler)) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new Handler(handler_);
  }

 private:
  SimHandler handler_;
};

}  // namespace

std::string jsonField(const Poco::JSON::Object& o, const char* name) {
  try {
    return o.has(name) ? o.get(name).convert<std::string>() : std::string();
  } catch (const Poco::Exception&) {
    return {};
  }
}

Poco::Net::HTTPRequestHandlerFactory* simFactory(SimHandler handler) {
  return new Factory(std::move(handler));
}

}  // namespace lienthong::sim
