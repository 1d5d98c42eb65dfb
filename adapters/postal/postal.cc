#include "adapters/postal/postal.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/URI.h>

#include <algorithm>
#include <fstream>
#include <future>
#include <sstream>

#include "core/json_text.h"
#include "lienthong/log.h"

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

namespace lienthong::adapters::postal {

std::string TrackingInbound::describe() const {
  return "postal " + s_.connection->settings().name + " tracking every " +
         std::to_string(s_.every.count()) + "ms";
}

Result<void> TrackingInbound::start(InboundContext& context) {
  std::error_code ec;
  std::filesystem::create_directories(s_.cursor_file.parent_path(), ec);
  if (std::ifstream in(s_.cursor_file); in) {
    std::string kept;
    std::getline(in, kept);
    if (!kept.empty()) cursor_ = kept;
  }
  {
    std::lock_guard lock(mutex_);
    stopping_ = false;
  }
  thread_ = std::thread([this, &context] { run(context); });
  return {};
}

void TrackingInbound::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void TrackingInbound::saveCursor() {
  const std::filesystem::path tmp = s_.cursor_file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << cursor_ << "\n";
    out.flush();
    if (!out) {
      log::warn("postal", describe() + ": cannot keep the cursor in " + tmp.string());
      return;
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, s_.cursor_file, ec);
  if (ec) log::warn("postal", describe() + ": cannot keep the cursor: " + ec.message());
}

bool TrackingInbound::submitAndWait(InboundContext& context, Message m) {
  auto done = std::make_shared<std::promise<bool>>();
  auto settled = done->get_future();
  const bool wait = !context.journalled();
  const Admission a = context.submit(std::move(m), [done](Outcome&& o) {
    done->set_value(o.status == Outcome::Status::kDelivered ||
                    o.status == Outcome::Status::kStopped ||
                    o.status == Outcome::Status::kDeadLettered);
  });
  if (a != Admission::kAccepted) return false;
  return wait ? settled.get() : true;
}

int TrackingInbound::poll(InboundContext& context) {
  const PostalSettings& c = s_.connection->settings();
  std::string uri = c.http->basePath() + s_.path + "?customerCode=";
  std::string encoded;
  Poco::URI::encode(c.customer_code, "&=?#+", encoded);
  uri += encoded + "&lastId=" + cursor_ + "&pageSize=" + std::to_string(s_.page_size);
  Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, uri,
                                 Poco::Net::HTTPMessage::HTTP_1_1);
  Message none;
  Delivery d = c.http->execute(request, "",
                               std::chrono::steady_clock::now() + std::chrono::seconds(30), none);
  if (d.status != Delivery::Status::kAccepted || !d.reply) {
    log::warn("postal", describe() + ": " + d.detail);
    return -1;
  }
  Poco::JSON::Object::Ptr o;
  try {
    o = Poco::JSON::Parser().parse(d.reply->body()).extract<Poco::JSON::Object::Ptr>();
  } catch (const std::exception& e) {
    log::warn("postal", describe() + ": the answer is not JSON (" + e.what() + ")");
    return -1;
  }
  if (!o || (member(*o, "Code") != "00" && member(*o, "Code") != "0") || !o->has("Data") ||
      o->get("Data").type() != typeid(Poco::JSON::Array::Ptr)) {
    log::warn("postal", describe() + ": the answer holds no tracking records (code " +
                            (o ? member(*o, "Code") + ": " + member(*o, "Message") : "") + ")");
    return -1;
  }
  auto records = o->getArray("Data");
  int taken = 0;
  for (std::size_t i = 0; i < records->size(); ++i) {
    auto r = records->getObject(static_cast<unsigned>(i));
    if (!r) continue;
    const std::string id = member(*r, "Id");
    Message m;
    std::ostringstream text;
    Poco::JSON::Stringifier::stringify(r, text);
    m.setBody(text.str());
    m.setContentType("application/json");
    m.setHeader("MaHoSo", member(*r, "OrderNumber"));
    m.setHeader("postal.id", id);
    m.setHeader("postal.item-code", member(*r, "ItemCode"));
    m.setHeader("postal.status", member(*r, "StatusCode"));
    m.setHeader("postal.event-time", member(*r, "EventTime"));
    m.setHeader("postal.pos", member(*r, "POSID"));
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return -1;
    }
    if (!submitAndWait(context, std::move(m))) return -1;
    if (!id.empty()) {
      cursor_ = id;
      saveCursor();
    }
    ++taken;
  }
  return taken;
}

void TrackingInbound::run(InboundContext& context) {
  for (;;) {
    const int taken = poll(context);
    if (taken == s_.page_size) continue;  // a full page: the next one at once
    std::unique_lock lock(mutex_);
    if (cv_.wait_for(lock, s_.every, [this] { return stopping_; })) return;
  }
}

}  // namespace lienthong::adapters::postal
