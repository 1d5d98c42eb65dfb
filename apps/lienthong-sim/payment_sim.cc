#include "apps/lienthong-sim/payment_sim.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

#include <cstdio>

#include "apps/lienthong-sim/sim_http.h"
#include "apps/lienthong-sim/sim_time.h"
#include "core/dossier_code.h"
#include "core/json_text.h"
#include "transforms/dossier/payment.h"

namespace lienthong::sim {

PaymentSim::PaymentSim(PaymentSimSettings s) : s_(std::move(s)) {
  worker_ = std::thread([this] { confirmAll(); });
}

PaymentSim::~PaymentSim() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

Poco::Net::HTTPRequestHandlerFactory* PaymentSim::factory() {
  return simFactory([this](const Poco::Net::HTTPServerRequest& request, const std::string& body) {
    auto [status, json] = handle(request.getMethod(), request.getURI(), body);
    return SimAnswer{status, std::move(json)};
  });
}

std::pair<int, std::string> PaymentSim::handle(const std::string& method, const std::string& uri,
                                               const std::string& body) {
  const std::string path = Poco::URI(uri).getPath();
  if (method == "GET" && path == "/sim/messages") {
    return {200, journal_.json()};
  }
  if (method != "POST" || path.size() < 9 || path.substr(path.size() - 9) != "/khoi-tao") {
    return {404, "{\"error\":\"no such service\"}"};
  }
  Poco::JSON::Object::Ptr o;
  try {
    o = Poco::JSON::Parser().parse(body).extract<Poco::JSON::Object::Ptr>();
  } catch (const std::exception&) {
    return {400, "{\"error\":\"JSON không hợp lệ\"}"};
  }
  const std::string partner = jsonField(*o, "MaDoiTac");
  const std::string code = jsonField(*o, "MaHoSo");
  const std::string amount = jsonField(*o, "SoTien");
  const std::string expected = transforms::dossier::paymentChecksum(
      {partner, code, amount, jsonField(*o, "ThoiGian")}, s_.secret);
  std::lock_guard lock(mutex_);
  if (jsonField(*o, "MaXacThuc") != expected) {
    journal_.record("refused", "ThanhToan", code, "MaXacThuc sai");
    return {401, "{\"error\":\"MaXacThuc không khớp\"}"};
  }
  char id[32];
  std::snprintf(id, sizeof id, "TT-%06d", ++next_);
  journal_.record("in", "ThanhToan", code, "yêu cầu thanh toán " + amount + " đồng (" + id + ")");
  const std::string at = dossier::nationalTime(std::chrono::system_clock::now() +
                                               std::chrono::milliseconds(s_.pay_ms));
  const std::string sum =
      transforms::dossier::paymentChecksum({partner, code, id, amount, "00", at}, s_.secret);
  std::string confirmation = "{\"MaDoiTac\":";
  appendJsonString(confirmation, partner);
  confirmation += ",\"MaHoSo\":";
  appendJsonString(confirmation, code);
  confirmation += ",\"MaGiaoDich\":";
  appendJsonString(confirmation, id);
  confirmation += ",\"SoTien\":";
  appendJsonString(confirmation, amount);
  confirmation += ",\"TrangThai\":\"00\",\"ThoiGian\":";
  appendJsonString(confirmation, at);
  confirmation += ",\"MaXacThuc\":";
  appendJsonString(confirmation, sum);
  confirmation += "}";
  pending_.push_back({std::chrono::steady_clock::now() + std::chrono::milliseconds(s_.pay_ms), code,
                      confirmation});
  cv_.notify_all();
  std::string out = "{\"MaGiaoDich\":";
  appendJsonString(out, id);
  out += ",\"Url\":";
  appendJsonString(out, "https://thanhtoan.dichvucong.gov.vn/tt/" + std::string(id));
  return {200, out + "}"};
}

void PaymentSim::confirmAll() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    if (pending_.empty()) {
      cv_.wait(lock);
      continue;
    }
    if (std::chrono::steady_clock::now() < pending_.front().at) {
      cv_.wait_until(lock, pending_.front().at);
      continue;
    }
    const Confirmation c = pending_.front();
    lock.unlock();
    int status = 0;
    try {
      const Poco::URI u(s_.callback);
      Poco::Net::HTTPClientSession session(u.getHost(), u.getPort());
      session.setTimeout(Poco::Timespan(5, 0));
      Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, u.getPathEtc(),
                                     Poco::Net::HTTPMessage::HTTP_1_1);
      request.setContentType("application/json; charset=utf-8");
      request.setContentLength(static_cast<std::streamsize>(c.body.size()));
      session.sendRequest(request) << c.body;
      Poco::Net::HTTPResponse response;
      std::string ignored;
      Poco::StreamCopier::copyToString(session.receiveResponse(response), ignored);
      status = static_cast<int>(response.getStatus());
    } catch (const std::exception&) {
      status = 0;
    }
    lock.lock();
    if (status == 0 || status >= 500) {
      cv_.wait_for(lock, std::chrono::milliseconds(500), [this] { return stop_; });
      continue;
    }
    pending_.pop_front();
    journal_.record("out", "ThanhToan", c.code,
                    "xác nhận đã thanh toán: HTTP " + std::to_string(status));
  }
}

}  // namespace lienthong::sim
