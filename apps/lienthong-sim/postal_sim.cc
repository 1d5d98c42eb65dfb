#include "apps/lienthong-sim/postal_sim.h"

#include <Poco/Base64Encoder.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/URI.h>

#include <cstdio>
#include <sstream>

#include "apps/lienthong-sim/sim_http.h"
#include "apps/lienthong-sim/sim_time.h"
#include "core/dossier_code.h"
#include "core/json_text.h"

namespace lienthong::sim {
namespace {

// " (address [ward/province codes])" of one side of an order, when it has an address.
std::string place(const Poco::JSON::Object& o, const std::string& side) {
  const std::string address = jsonField(o, (side + "Address").c_str());
  if (address.empty()) return {};
  return " (" + address + " [" + jsonField(o, (side + "Ward").c_str()) + "/" +
         jsonField(o, (side + "Province").c_str()) + "])";
}

// The form encoding of RFC 6749 2.3.1 for the simple ids the simulator takes.
std::string basic(const std::string& id, const std::string& secret) {
  std::ostringstream out;
  Poco::Base64Encoder encoder(out);
  encoder.rdbuf()->setLineLength(0);
  encoder << id << ':' << secret;
  encoder.close();
  return "Basic " + out.str();
}

}  // namespace

PostalSim::PostalSim(PostalSimSettings s) : s_(std::move(s)) {
  if (s_.first_id >= 0) {
    base_ = s_.first_id;
  } else {
    constexpr long long k2026 = 1767225600;  // 2026-01-01T00:00:00Z
    base_ = (std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count() -
             k2026 * 1000);
  }
}

Poco::Net::HTTPRequestHandlerFactory* PostalSim::factory() {
  return simFactory([this](const Poco::Net::HTTPServerRequest& request, const std::string& body) {
    auto [status, json] =
        handle(request.getMethod(), request.getURI(), body, request.get("Authorization", ""));
    return SimAnswer{status, std::move(json)};
  });
}

std::pair<int, std::string> PostalSim::handle(const std::string& method, const std::string& uri,
                                              const std::string& body,
                                              const std::string& authorization) {
  const Poco::URI u(uri);
  const std::string path = u.getPath();
  std::lock_guard lock(mutex_);
  if (method == "GET" && path == "/sim/messages") return {200, journal_.json()};
  if (method == "POST" && path == "/token") {
    if (authorization != basic(s_.client_id, s_.client_secret)) {
      return {401, R"({"error":"invalid_client"})"};
    }
    token_ = "bd-" + std::to_string(journal_.size() + orders_.size() + 1);
    return {200, R"({"access_token":")" + token_ + R"(","token_type":"Bearer","expires_in":3600})"};
  }
  if (token_.empty() || authorization != "Bearer " + token_) return {401, R"({"error":"token"})"};
  if (method == "GET" && path == "/api/tracking") {
    long long last = 0;
    long size = 1000;
    for (const auto& [k, v] : u.getQueryParameters()) {
      if (k == "lastId") last = std::atoll(v.c_str());
      if (k == "pageSize") size = std::atol(v.c_str());
    }
    const auto now = std::chrono::steady_clock::now();
    std::string data;
    long given = 0;
    for (std::size_t i = static_cast<std::size_t>(std::max(0LL, last - base_));
         i < events_.size() && given < size && events_[i].due <= now; ++i, ++given) {
      const Event& e = events_[i];
      data += std::string(data.empty() ? "" : ",") +
              "{\"Id\":" + std::to_string(base_ + static_cast<long long>(i) + 1) +
              ",\"OrderNumber\":";
      appendJsonString(data, e.order);
      data += ",\"ItemCode\":";
      appendJsonString(data, e.item);
      data += ",\"EventTime\":";
      appendJsonString(data, dossier::nationalTime(std::chrono::system_clock::now()));
      data += ",\"POSID\":\"100000\",\"StatusCode\":";
      appendJsonString(data, e.status);
      data += ",\"StatusMessage\":";
      appendJsonString(data, e.message);
      data += "}";
    }
    return {200, "{\"Code\":\"00\",\"Data\":[" + data + "]}"};
  }
  if (method != "POST") return {404, R"({"Code":"404"})"};
  Poco::JSON::Object::Ptr o;
  try {
    o = Poco::JSON::Parser().parse(body).extract<Poco::JSON::Object::Ptr>();
  } catch (const std::exception&) {
    return {400, R"({"Code":"400","Message":"JSON không hợp lệ"})"};
  }
  const std::string number = jsonField(*o, "OrderNumber");
  if (path == "/api/orders") {
    if (number.empty()) return {200, R"({"Code":"11","Message":"Thiếu số đơn hàng"})"};
    if (orders_.count(number) != 0) {
      return {200, R"({"Code":"12","Message":"Đơn hàng đã tồn tại"})"};
    }
    char item[16];
    std::snprintf(item, sizeof item, "EL%06zuVN", orders_.size() + 1);
    orders_[number] = item;
    const std::string code = number.substr(0, number.find("-KQ"));
    journal_.record("in", "BuuGui", code,
                    "đơn " + number + " (" + item + "): " + jsonField(*o, "SenderFullname") +
                        place(*o, "Sender") + " → " + jsonField(*o, "ReceiverFullname") +
                        place(*o, "Receiver"));
    const auto now = std::chrono::steady_clock::now();
    const auto step = std::chrono::milliseconds(s_.step_ms);
    events_.push_back({now + step, number, item, "PICKED_UP", "Đã nhận bưu gửi"});
    events_.push_back({now + 2 * step, number, item, "IN_TRANSIT", "Đang vận chuyển"});
    events_.push_back({now + 3 * step, number, item, "DELIVERED", "Đã phát thành công"});
    std::stable_sort(events_.begin(), events_.end(),
                     [](const Event& a, const Event& b) { return a.due < b.due; });
    return {200,
            R"({"Code":"00","Message":"Thành công","ItemCode":")" + std::string(item) + R"("})"};
  }
  if (path == "/api/orders/cancel") {
    if (orders_.erase(number) == 0) {
      return {200, R"({"Code":"13","Message":"Không có đơn hàng"})"};
    }
    journal_.record("in", "BuuGui", number.substr(0, number.find("-KQ")), "huỷ đơn " + number);
    return {200, R"({"Code":"00","Message":"Đã huỷ"})"};
  }
  return {404, R"({"Code":"404"})"};
}

}  // namespace lienthong::sim
