#pragma once

#include "core/json_text.h"
// Small helpers shared by the http listener and inbound endpoint: JSON error bodies and
// response writing. Internal to the http adapter.

#include <string>
#include <string_view>

namespace Poco::Net {
class HTTPServerResponse;
}

namespace lienthong::adapters::http {

// Poco::Net::initializeSSL(), once per process. Thread-safe.
void initializeSsl();

// {"error":<error>,"code":<code>} plus "route" when `route` is not empty.
std::string errorJson(std::string_view error, std::string_view code, std::string_view route = {});

// Sends a complete response with a Content-Length; header and a small body leave in one
// write. `status` must be 100..599.
void sendResponse(Poco::Net::HTTPServerResponse& response, int status,
                  std::string_view content_type, std::string_view body);

// sendResponse() with errorJson() as the body.
void sendError(Poco::Net::HTTPServerResponse& response, int status, std::string_view error,
               std::string_view code, std::string_view route = {});

}  // namespace lienthong::adapters::http
