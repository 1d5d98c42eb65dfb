#pragma once
// The simulators' HTTP side: a handler factory for a Poco HTTPServer that hands each
// request (with its body read) to a simulator's function and sends its answer.

#include <Poco/JSON/Object.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerRequest.h>

#include <functional>
#include <string>

namespace lienthong::sim {

struct SimAnswer {
  int status = 200;
  std::string body;
  std::string content_type = "application/json; charset=utf-8";
};

using SimHandler =
    std::function<SimAnswer(const Poco::Net::HTTPServerRequest& request, const std::string& body)>;

// A new factory (the server owns it); `handler` is called on the server's threads.
Poco::Net::HTTPRequestHandlerFactory* simFactory(SimHandler handler);

// A member of a JSON object as text ("" when absent or not convertible).
std::string jsonField(const Poco::JSON::Object& o, const char* name);

}  // namespace lienthong::sim
