#include "adapters/postal/postal.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPRequest.h>

#include <algorithm>

#include "core/json_text.h"

namespace lienthong::adapters::postal {
namespace {

std::string member(const Poco::JSON::Object& o, const char* name) {
  try {
    return o.has(name) && !o.get(name).isEmpty() ? o.get(name).convert<std::string>()
                                                 : std::string();
  } catch (const Poco::Exception&) {
    return {};
  }
}

}  // namespace

std::string PostalOutbound::describe() const {
  return "postal " + s_.connection->settings().name +
         (s_.service == PostalService::kOrder ? " order" : " cancel");
}

std::string PostalOutbound::target(const Exchange& exchange) const {
  return describe() + " " + s_.order_number->render(exchange);
}

std::string PostalOutbound::refusal(const Exchange& exchange) const {
  return s_.order_number->render(exchange).empty()
             ? describe() + ": no order number (" + s_.order_number->source() + " is empty)"
             : std::string();
}

Delivery PostalOutbound::send(Exchange& exchange) {
  try {
    const PostalSettings& c = s_.connection->settings();
    const std::string what = describe();
    const std::string number = s_.order_number->render(exchange);
    if (number.empty()) return Delivery::rejected(refusal(exchange));
    std::string body = "{\"CustomerCode\":";
    appendJsonString(body, c.customer_code);
    body += ",\"OrderNumber\":";
    appendJsonString(body, number);
    if (s_.service == PostalService::kOrder) {
      for (const auto& [name, value] : s_.fields) {
        body += ',';
        appendJsonString(body, name);
        body += ':';
        appendJsonString(body, value->render(exchange));
      }
    }
    body += '}';
    const std::string path =
        c.http->basePath() + (s_.service == PostalService::kOrder ? c.order_path : c.cancel_path);
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, path,
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    request.setContentType("application/json; charset=utf-8");
    Delivery d = c.http->execute(request, body, exchange.deadline(), exchange.message());
    if (d.status != Delivery::Status::kAccepted || !d.reply) {
      d.detail = what + " " + number + ": " + d.detail;
      return d;
    }
    Poco::JSON::Object::Ptr o;
    try {
      o = Poco::JSON::Parser().parse(d.reply->body()).extract<Poco::JSON::Object::Ptr>();
    } catch (const std::exception& e) {
      return Delivery::retry(Delivery::Failure::kRemote,
                             what + " " + number + ": the answer is not JSON (" + e.what() + ")",
                             d.reply);
    }
    if (!o) {
      return Delivery::retry(Delivery::Failure::kRemote, what + ": the answer is not an object");
    }
    const std::string code = member(*o, "Code");
    const std::string message = member(*o, "Message");
    Message reply = std::move(*d.reply);
    reply.setHeader("postal.code", code);
    if (const std::string item = member(*o, "ItemCode"); !item.empty()) {
      reply.setHeader("postal.item-code", item);
    }
    if (code == "00" || code == "0") return Delivery::accepted(std::move(reply));
    const std::string why = what + " " + number + ": code " + code + ": " + message;
    if (std::find(c.retry_codes.begin(), c.retry_codes.end(), code) != c.retry_codes.end()) {
      return Delivery::retry(Delivery::Failure::kRemote, why, std::move(reply));
    }
    return Delivery::rejected(why, std::move(reply));
  } catch (const std::exception& e) {
    return Delivery::retry(Delivery::Failure::kConnect, describe() + ": " + e.what());
  }
}

}  // namespace lienthong::adapters::postal
