// The postal output against a scripted postal service (token endpoint and order API on an
// HTTP peer): an order carries the customer code, the dossier code as its number and the
// route's fields, with the OAuth2 token; result codes map to delivered, retry or refused;
// cancel; config mistakes at their place.

#include <gtest/gtest.h>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <mutex>

#include "adapters/postal/postal.h"
#include "core/daemon.h"
#include "fakes/http_peer.h"
#include "integration/sim_process.h"
#include "integration/test_support.h"

namespace lienthong::adapters::postal {
namespace {

using lienthong::testing::HttpPeer;
using namespace std::chrono_literals;

Poco::JSON::Object::Ptr json(const std::string& text) {
  return Poco::JSON::Parser().parse(text).extract<Poco::JSON::Object::Ptr>();
}

class Service {
 public:
  Service() {
    peer_.setHandler([this](const HttpPeer::Request& r) {
      if (r.uri == "/token") {
        return HttpPeer::Response{200, R"({"access_token":"tk","expires_in":3600})",
                                  "application/json"};
      }
      std::lock_guard lock(mutex_);
      requests_.push_back(r);
      return HttpPeer::Response{status_, answer_, "application/json"};
    });
  }
  std::shared_ptr<PostalConnection> connect() {
    http::HttpConnectionSettings hs;
    hs.url = peer_.url() + "/api";
    hs.read_timeout = 5s;
    hs.oauth2 = http::HttpOAuth2{peer_.url() + "/token", "h22", "bi-mat", ""};
    PostalSettings s;
    s.name = "vnpost";
    s.http = *http::HttpConnection::create(hs);
    s.customer_code = "KH-H22";
    return std::make_shared<PostalConnection>(s);
  }
  void answer(int status, std::string body) {
    std::lock_guard lock(mutex_);
    status_ = status;
    answer_ = std::move(body);
  }
  std::vector<HttpPeer::Request> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  HttpPeer peer_;
  std::mutex mutex_;
  std::vector<HttpPeer::Request> requests_;
  int status_ = 200;
  std::string answer_ = R"({"Code":"00","Message":"OK","ItemCode":"EL123456789VN"})";
};

Exchange dossier() {
  Message m;
  m.setHeader("MaHoSo", "000.00.01.H22-240315-0001");
  m.setHeader("ChuHoSo", "Nguyễn Thị Hồng Nhung");
  return Exchange(m, "r", ExchangePattern::kOneWay);
}

std::shared_ptr<const Template> templ(const std::string& text) {
  TemplateError error;
  return std::make_shared<const Template>(*Template::compile(text, &error));
}

TEST(Postal, AnOrderCarriesTheCustomerTheDossierAndTheFieldsWithTheToken) {
  Service service;
  PostalOutboundSettings s;
  s.connection = service.connect();
  s.order_number = templ("${MaHoSo}");
  s.fields = {{"ReceiverFullname", templ("${ChuHoSo}")}, {"CODAmount", templ("0")}};
  PostalOutbound out(s);
  Exchange e = dossier();
  EXPECT_EQ(out.target(e), "postal vnpost order 000.00.01.H22-240315-0001");
  Delivery d = out.send(e);
  ASSERT_EQ(d.status, Delivery::Status::kAccepted) << d.detail;
  EXPECT_EQ(*d.reply->header("postal.item-code"), "EL123456789VN");
  const auto requests = service.requests();
  ASSERT_EQ(requests.size(), 1u);
  const auto& r = requests[0];
  EXPECT_EQ(r.uri, "/api/orders");
  EXPECT_EQ(r.headers.at("Authorization"), "Bearer tk");
  auto o = json(r.body);
  EXPECT_EQ(o->getValue<std::string>("CustomerCode"), "KH-H22");
  EXPECT_EQ(o->getValue<std::string>("OrderNumber"), "000.00.01.H22-240315-0001");
  EXPECT_EQ(o->getValue<std::string>("ReceiverFullname"), "Nguyễn Thị Hồng Nhung");
}

TEST(Postal, ResultCodesAndHttpFailuresMapToRetryOrRefusal) {
  Service service;
  PostalOutboundSettings s;
  s.connection = service.connect();
  s.order_number = templ("${MaHoSo}");
  PostalOutbound out(s);
  Exchange e = dossier();
  service.answer(200, R"({"Code":"99","Message":"Hệ thống bận"})");
  Delivery busy = out.send(e);
  EXPECT_EQ(busy.status, Delivery::Status::kRetry);
  EXPECT_EQ(busy.detail, "postal vnpost order 000.00.01.H22-240315-0001: code 99: Hệ thống bận");
  service.answer(200, R"({"Code":"12","Message":"Địa chỉ người nhận không hợp lệ"})");
  Delivery refused = out.send(e);
  EXPECT_EQ(refused.status, Delivery::Status::kRejected);
  EXPECT_NE(refused.detail.find("code 12: Địa chỉ người nhận không hợp lệ"), std::string::npos);
  service.answer(503, "{}");
  EXPECT_EQ(out.send(e).status, Delivery::Status::kRetry);
  service.answer(200, "not json");
  EXPECT_EQ(out.send(e).status, Delivery::Status::kRetry);
  Exchange none(Message(), "r", ExchangePattern::kOneWay);
  Delivery nothing = out.send(none);
  EXPECT_EQ(nothing.status, Delivery::Status::kRejected);
  EXPECT_EQ(nothing.detail, "postal vnpost order: no order number (${MaHoSo} is empty)");
}

TEST(Postal, ACancelNamesTheCustomerAndTheOrderOnly) {
  Service service;
  PostalOutboundSettings s;
  s.connection = service.connect();
  s.service = PostalService::kCancel;
  s.order_number = templ("${MaHoSo}");
  PostalOutbound out(s);
  Exchange e = dossier();
  ASSERT_EQ(out.send(e).status, Delivery::Status::kAccepted);
  EXPECT_EQ(service.requests().at(0).uri, "/api/orders/cancel");
  EXPECT_EQ(service.requests().at(0).body,
            R"({"CustomerCode":"KH-H22","OrderNumber":"000.00.01.H22-240315-0001"})");
}

TEST(PostalConfig, MistakesAreReportedAtTheirPlace) {
  testing::TempHome home;
  home.write("config.yaml",
             "listeners:\n  public: { http: { port: 0 } }\n"
             "connections:\n"
             "  vnpost: { postal: { url: \"http://127.0.0.1:1\", order-path: orders } }\n"
             "routes: [ routes ]\n");
  home.write("routes/r.yaml", "routes: []\n");
  ConfigErrors errors;
  EXPECT_FALSE(Daemon::create(home.path("config.yaml").string(), errors));
  EXPECT_NE(errors.str().find("postal connection needs 'customer-code'"), std::string::npos)
      << errors.str();
  EXPECT_NE(errors.str().find("'order-path' must start with '/'"), std::string::npos)
      << errors.str();
  home.write("config.yaml",
             "listeners:\n  public: { http: { port: 0 } }\n"
             "connections:\n"
             "  vnpost: { postal: { url: \"http://127.0.0.1:1\", customer-code: KH } }\n"
             "routes: [ routes ]\n");
  home.write("routes/r.yaml",
             "routes:\n"
             "  - id: x\n"
             "    pattern: one-way\n"
             "    from: { http: { listener: public, path: /in } }\n"
             "    to: { postal: { connection: vnpost, service: cancel, fields: { A: b } } }\n");
  errors = ConfigErrors();
  EXPECT_FALSE(Daemon::create(home.path("config.yaml").string(), errors));
  EXPECT_NE(errors.str().find("r.yaml:5:66: 'fields' is for service: order"), std::string::npos)
      << errors.str();
}

// Tracking: records after the kept cursor, one message each, in order; the cursor is kept
// across a restart, so nothing comes twice and nothing is lost.
TEST(PostalTracking, RecordsComeOnceInOrderAcrossARestart) {
  HttpPeer service;
  std::mutex mutex;
  std::vector<std::string> cursors;  // lastId of each poll
  int records = 3;                   // the service has records 1..records
  service.setHandler([&](const HttpPeer::Request& r) {
    if (r.uri == "/token") {
      return HttpPeer::Response{200, R"({"access_token":"tk","expires_in":3600})",
                                "application/json"};
    }
    std::lock_guard lock(mutex);
    const auto at = r.uri.find("lastId=");
    const int last = std::atoi(r.uri.c_str() + at + 7);
    cursors.push_back(std::to_string(last));
    EXPECT_NE(r.uri.find("/api/tracking?customerCode=KH-H22&lastId="), std::string::npos) << r.uri;
    std::string data;
    for (int id = last + 1; id <= records && id <= last + 2; ++id) {  // pages of 2
      data += std::string(data.empty() ? "" : ",") + R"({"Id":)" + std::to_string(id) +
              R"(,"OrderNumber":"000.00.01.H22-240315-000)" + std::to_string(id) +
              R"(","ItemCode":"EL00)" + std::to_string(id) +
              R"(VN","EventTime":"20240316090000","POSID":"100000","StatusCode":")" +
              (id == 3 ? "DELIVERED" : "PICKED_UP") + R"(","StatusMessage":"x"})";
    }
    return HttpPeer::Response{200, R"({"Code":"00","Data":[)" + data + "]}", "application/json"};
  });
  testing::TempHome home;
  ::setenv("LIENTHONG_TEST_POSTAL_SECRET", "bi-mat", 1);
  home.write("config.yaml",
             "listeners:\n  public: { http: { port: 0 } }\n"
             "connections:\n"
             "  vnpost:\n"
             "    postal:\n"
             "      url: " +
                 service.url() +
                 "/api\n"
                 "      customer-code: KH-H22\n"
                 "      oauth2: { token-url: \"" +
                 service.url() +
                 "/token\", client-id: h22,\n"
                 "                client-secret-env: LIENTHONG_TEST_POSTAL_SECRET }\n"
                 "store: { path: var/lienthong.db }\n"
                 "routes: [ routes ]\n");
  home.write("routes/r.yaml",
             "routes:\n"
             "  - id: tracking\n"
             "    pattern: one-way\n"
             "    from: { postal: { connection: vnpost, every: 100ms, page-size: 2, "
             "state-dir: var/postal } }\n"
             "    to: { file: { dir: var/events, name: "
             "\"${postal.id}-${MaHoSo}-${postal.status}~${message.id}\" } }\n");
  auto events = [&] {  // without the message id: a record that came twice shows twice
    std::vector<std::string> names;
    for (const auto& f : testing::filesIn(home.path("var/events"))) {
      const std::string n = f.filename().string();
      if (n.front() == '.') continue;  // a file output's temporary name
      names.push_back(n.substr(0, n.find('~')));
    }
    std::sort(names.begin(), names.end());
    return names;
  };
  {
    std::unique_ptr<Daemon> daemon;
    ASSERT_NE(testing::startDaemon(home.path("config.yaml"), daemon), 0u);
    ASSERT_TRUE(testing::eventually([&] { return events().size() == 3; }, 10s));
    daemon->stop();
  }
  EXPECT_EQ(events(), (std::vector<std::string>{"1-000.00.01.H22-240315-0001-PICKED_UP",
                                                "2-000.00.01.H22-240315-0002-PICKED_UP",
                                                "3-000.00.01.H22-240315-0003-DELIVERED"}));
  EXPECT_EQ(testing::readText(home.path("var/postal/vnpost-tracking.cursor")), "3\n");
  {
    std::lock_guard lock(mutex);
    ASSERT_GE(cursors.size(), 2u);
    EXPECT_EQ(cursors[0], "0");
    EXPECT_EQ(cursors[1], "2");  // a full page of two: the next one at once
    records = 4;
    cursors.clear();
  }
  {
    std::unique_ptr<Daemon> daemon;
    ASSERT_NE(testing::startDaemon(home.path("config.yaml"), daemon), 0u);
    ASSERT_TRUE(testing::eventually([&] { return events().size() == 4; }, 10s));
    daemon->stop();
  }
  std::lock_guard lock(mutex);
  EXPECT_EQ(cursors.front(), "3");  // the kept cursor: nothing again
  EXPECT_EQ(events().size(), 4u);
}

}  // namespace
}  // namespace lienthong::adapters::postal
