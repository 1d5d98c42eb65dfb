#include "adapters/http/http_inbound.h"

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <charconv>
#include <condition_variable>
#include <mutex>
#include <optional>

#include "adapters/http/http_common.h"

namespace lienthong::adapters::http {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

bool istartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// Hop-by-hop headers, the framing of this request, and client headers that would pose
// as the adapter's own http.* headers.
bool dropped(std::string_view name) {
  switch (name.size()) {
    case 2:
      return iequals(name, "TE");
    case 7:
      return iequals(name, "Upgrade") || iequals(name, "Trailer");
    case 10:
      return iequals(name, "Connection") || iequals(name, "Keep-Alive");
    case 14:
      return iequals(name, "Content-Length");
    case 17:
      return iequals(name, "Transfer-Encoding");
    default:
      break;
  }
  return istartsWith(name, "Proxy-") || istartsWith(name, "http.");
}

struct ReplySlot {
  std::mutex mutex;
  std::condition_variable cv;
  std::optional<Outcome> outcome;
};

int statusFor(const Error& error) {
  switch (error.code) {
    case ErrorCode::kInvalidMessage:
      return 400;
    case ErrorCode::kUnauthorized:
      return 401;
    case ErrorCode::kPermanent:
      return 422;
    case ErrorCode::kTimeout:
      return 504;
    case ErrorCode::kTransient:
      return 502;
    case ErrorCode::kBusy:
      return 503;
    default:
      return 500;
  }
}

// The status a reply carries in its http.status header, if any and valid.
std::optional<int> replyStatus(const Message& message) {
  const std::string* text = message.header("http.status");
  if (text == nullptr) return std::nullopt;
  int status = 0;
  const char* end = text->data() + text->size();
  auto [p, ec] = std::from_chars(text->data(), end, status);
  if (ec != std::errc() || p != end || status < 100 || status > 599) return std::nullopt;
  return status;
}

// Sends a message as the answer: its body and content type.
void sendMessage(Poco::Net::HTTPServerResponse& response, int status, const Message& message) {
  const std::string& type = message.contentType();
  sendResponse(response, status, type.empty() ? std::string_view("application/octet-stream") : type,
               message.body());
}

void sendBusy(Poco::Net::HTTPServerResponse& response, Admission admission,
              const std::string& route_id) {
  response.set("Retry-After", "1");
  sendError(response, 503,
            admission == Admission::kStopping ? "the daemon is stopping"
            : admission == Admission::kUnavailable
                ? "the message cannot be kept now (its store or its output is unavailable)"
                : "the engine is busy",
            errorCodeName(ErrorCode::kBusy), route_id);
}

}  // namespace

// ---------------------------------------------------------------------------------------
// HttpInbound

HttpInbound::HttpInbound(HttpInboundSettings settings) : settings_(std::move(settings)) {}

HttpInbound::~HttpInbound() { stop(); }

Result<void> HttpInbound::start(InboundContext& context) {
  if (!settings_.listener) return Error(ErrorCode::kInternal, "http inbound without a listener");
  if (token_ != 0) return {};
  token_ = settings_.listener->bind(settings_.path, settings_.methods, context);
  return {};
}

void HttpInbound::stop() {
  if (token_ == 0) return;
  settings_.listener->unbind(token_);
  token_ = 0;
}

std::string HttpInbound::describe() const {
  std::string out = "http ";
  for (std::size_t i = 0; i < settings_.methods.size(); ++i) {
    if (i != 0) out += ',';
    out += settings_.methods[i];
  }
  out += ' ';
  out += settings_.path;
  if (settings_.listener) {
    out += " on listener ";
    out += settings_.listener->name();
  }
  return out;
}

std::string HttpInbound::exclusiveKey() const {
  std::string out = "http ";
  if (settings_.listener) out += settings_.listener->name();
  out += ' ';
  out += settings_.path;
  return out;
}

// ---------------------------------------------------------------------------------------
// Per request

Message requestMessage(const Poco::Net::HTTPServerRequest& request, std::string_view path,
                       std::string_view query, std::string&& body) {
  Message message;
  message.setBody(std::move(body));
  const std::string& type = request.getContentType();
  if (!type.empty()) message.setContentType(type);

  Headers& headers = message.headers();
  for (const auto& [name, value] : request) {
    if (dropped(name)) continue;
    auto [it, inserted] = headers.try_emplace(name, value);
    if (!inserted) {  // a repeated header: one comma-separated value (RFC 9110 5.3)
      it->second += ", ";
      it->second += value;
    }
  }
  headers.insert_or_assign("http.method", request.getMethod());
  headers.insert_or_assign("http.path", std::string(path));
  headers.insert_or_assign("http.query", std::string(query));

  if (auto it = request.find("X-Correlation-Id"); it != request.end()) {
    message.setCorrelationId(it->second);
  }
  return message;
}

Served serveExchange(HttpBinding& binding, Message& message,
                     Poco::Net::HTTPServerResponse& response) {
  if (binding.pattern == ExchangePattern::kOneWay) {
    std::string id = message.id();
    if (!binding.enter()) return Served::kGateClosed;
    const Admission admission = binding.context->submit(std::move(message), [](Outcome&&) {});
    binding.leave();
    if (admission != Admission::kAccepted) {
      sendBusy(response, admission, binding.route_id);
    } else {
      std::string answer = "{\"id\":";
      appendJsonString(answer, id);
      answer += '}';
      sendResponse(response, 202, "application/json", answer);
    }
    return Served::kAnswered;
  }

  // Request-reply. The slot outlives this handler when the outcome comes too late.
  auto slot = std::make_shared<ReplySlot>();
  if (!binding.enter()) return Served::kGateClosed;
  InboundContext::Admitted admitted =
      binding.context->admit(std::move(message), [slot](Outcome&& outcome) {
        {
          std::lock_guard lock(slot->mutex);
          slot->outcome.emplace(std::move(outcome));
        }
        slot->cv.notify_one();
      });
  // The gate covers admission only: an exchange this thread runs itself must not hold up
  // a reload or a stop that waits for the gate.
  binding.leave();
  if (admitted.admission != Admission::kAccepted) {
    sendBusy(response, admitted.admission, binding.route_id);
    return Served::kAnswered;
  }
  if (admitted.run) admitted.run();

  std::unique_lock lock(slot->mutex);
  if (!slot->cv.wait_for(lock, binding.timeout, [&] { return slot->outcome.has_value(); })) {
    lock.unlock();
    sendError(response, 504, "no answer within " + std::to_string(binding.timeout.count()) + "ms",
              errorCodeName(ErrorCode::kTimeout), binding.route_id);
    return Served::kAnswered;
  }
  const Outcome outcome = std::move(*slot->outcome);
  lock.unlock();
  answerOutcome(outcome, binding.route_id, response);
  return Served::kAnswered;
}

void answerOutcome(const Outcome& outcome, std::string_view route_id,
                   Poco::Net::HTTPServerResponse& response) {
  if (outcome.status == Outcome::Status::kDelivered ||
      outcome.status == Outcome::Status::kStopped) {
    sendMessage(response, replyStatus(outcome.message).value_or(200), outcome.message);
    return;
  }

  if (outcome.status == Outcome::Status::kAbandoned) {  // the daemon is stopping
    response.set("Retry-After", "1");
    sendError(response, 503,
              outcome.error.message.empty() ? std::string_view("the daemon is stopping")
                                            : std::string_view(outcome.error.message),
              errorCodeName(ErrorCode::kBusy), route_id);
    return;
  }

  int status = statusFor(outcome.error);
  std::string_view detail = outcome.error.message;
  if (outcome.delivery) {
    const Delivery& delivery = *outcome.delivery;
    if (delivery.reply) {  // the peer answered: its answer goes back as it is
      if (auto peer = replyStatus(*delivery.reply)) {
        sendMessage(response, *peer, *delivery.reply);
        return;
      }
    }
    if (delivery.failure == Delivery::Failure::kConnect) {
      status = 502;
    } else if (delivery.failure == Delivery::Failure::kTimeout) {
      status = 504;
    }
    if (detail.empty()) detail = delivery.detail;
  }
  if (status == 503) response.set("Retry-After", "1");
  sendError(response, status, detail, errorCodeName(outcome.error.code), route_id);
}

}  // namespace lienthong::adapters::http
