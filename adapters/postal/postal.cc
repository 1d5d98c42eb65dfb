#include "adapters/postal/postal.h"

#include <fcntl.h>
#include <unistd.h>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/URI.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <future>
#include <map>
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

namespace {

// One lock per cursor file, for the process: on a reload the new input waits until the
// old one has let go, then reads the cursor it left.
std::shared_ptr<std::timed_mutex> cursorLock(const std::string& file) {
  static std::mutex registry;
  static std::map<std::string, std::weak_ptr<std::timed_mutex>> locks;
  std::lock_guard lock(registry);
  auto& slot = locks[file];
  auto m = slot.lock();
  if (!m) {
    m = std::make_shared<std::timed_mutex>();
    slot = m;
  }
  return m;
}

}  // namespace

Result<void> TrackingInbound::start(InboundContext& context) {
  std::error_code ec;
  std::filesystem::create_directories(s_.cursor_file.parent_path(), ec);
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

bool TrackingInbound::stopping() {
  std::lock_guard lock(mutex_);
  return stopping_;
}

void TrackingInbound::saveCursor() {
  // Durable before it counts: a temporary file, fsync, rename, fsync of the folder.
  const std::string tmp = s_.cursor_file.string() + ".tmp";
  const std::string text = cursor_ + "\n";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  bool ok = fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  if (fd >= 0) ::close(fd);
  ok = ok && ::rename(tmp.c_str(), s_.cursor_file.c_str()) == 0;
  if (ok) {
    const int dir =
        ::open(s_.cursor_file.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
      ::fsync(dir);
      ::close(dir);
    }
  } else {
    log::warn("postal", describe() + ": cannot keep the cursor in " + s_.cursor_file.string() +
                            ": " + std::strerror(errno));
  }
}

bool TrackingInbound::submitAndWait(InboundContext& context, Message m) {
  auto done = std::make_shared<std::promise<bool>>();
  auto settled = done->get_future();
  const bool wait = !context.journalled();
  // Without a store a record is had once delivered; a dead letter is only a log line
  // then, so it does not count (the record comes again at the next poll).
  const Admission a = context.submit(std::move(m), [done](Outcome&& o) {
    done->set_value(o.status == Outcome::Status::kDelivered ||
                    o.status == Outcome::Status::kStopped);
  });
  if (a != Admission::kAccepted) return false;
  if (!wait) return true;
  // In slices, so that a stop (a reload) is not held while the route retries: the cursor
  // then stays before the record.
  while (settled.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
    if (stopping()) return false;
  }
  return settled.get();
}

int TrackingInbound::poll(InboundContext& context) {
  const PostalSettings& c = s_.connection->settings();
  auto encode = [](const std::string& v) {
    std::string out;
    Poco::URI::encode(v, "&=?#+/;%", out);
    return out;
  };
  const std::string uri =
      c.http->basePath() + s_.path + "?customerCode=" + encode(c.customer_code) +
      "&lastId=" + encode(cursor_) + "&pageSize=" + std::to_string(s_.page_size);
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
    if (id.empty()) {  // without it the cursor cannot move: the page again, forever
      log::warn("postal", describe() + ": a tracking record without Id; the page is left");
      return -1;
    }
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
    if (stopping()) return -1;
    if (!submitAndWait(context, std::move(m))) return -1;
    cursor_ = id;
    saveCursor();
    ++taken;
  }
  return taken;
}

void TrackingInbound::run(InboundContext& context) {
  // The cursor file's lock first (a reload's old input may still be at work), then the
  // cursor it left.
  auto file_lock = cursorLock(s_.cursor_file.string());
  while (!file_lock->try_lock_for(std::chrono::milliseconds(100))) {
    if (stopping()) return;
  }
  std::lock_guard<std::timed_mutex> held(*file_lock, std::adopt_lock);
  if (std::ifstream in(s_.cursor_file); in) {
    std::string kept;
    std::getline(in, kept);
    if (!kept.empty()) cursor_ = kept;
  }
  for (;;) {
    const int taken = poll(context);
    if (taken == s_.page_size) continue;  // a full page: the next one at once
    std::unique_lock lock(mutex_);
    if (cv_.wait_for(lock, s_.every, [this] { return stopping_; })) return;
  }
}

}  // namespace lienthong::adapters::postal
