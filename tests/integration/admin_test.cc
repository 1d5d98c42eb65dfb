// The admin API over HTTPS against a daemon in process: each role may do what its role
// allows and no more, wrong or missing credentials are refused (401) and a role too low
// is 403; a certificate of another CA does not even connect; a reload with errors is
// refused with every one and the running routes stay; the metrics count per route; and
// lienthongctl's operator commands against it.

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>

#include <sqlite3.h>

#include "adapters/http/http_common.h"
#include "core/admin/admin_server.h"
#include "core/pki.h"
#include "integration/audit_tampering.h"
#include "integration/fixtures.h"
#include "integration/test_support.h"

namespace lienthong::admin {
namespace {

namespace fs = std::filesystem;
using lienthong::testing::httpCall;
using lienthong::testing::TempHome;

const fs::path kPki = fs::path(LIENTHONG_BINARY_DIR) / "tests/pki";
const std::string kViewerToken = "lt_nguoi-xem-0123456789abcdefghij";
const std::string kOperatorToken = "lt_van-hanh-0123456789abcdefghij";
const std::string kAdminToken = "lt_quan-tri-0123456789abcdefghij";

struct Credentials {
  std::string token;
  std::string cert;  // a client certificate of the test PKI: "van-hanh", "khach", "stranger"
};

struct Reply {
  int status = 0;  // 0: no answer (the TLS handshake failed, say)
  std::string body;
  std::string error;
};

Reply call(std::uint16_t port, const std::string& method, const std::string& path,
           const Credentials& who = {}) {
  Reply out;
  try {
    adapters::http::initializeSsl();
    Poco::Net::Context::Params p;
    p.caLocation = (kPki / "root.pem").string();
    p.loadDefaultCAs = false;
    p.verificationMode = Poco::Net::Context::VERIFY_RELAXED;
    if (!who.cert.empty()) {
      const bool chained = who.cert != "stranger";
      p.certificateFile = (kPki / (who.cert + (chained ? "-chain.pem" : ".pem"))).string();
      p.privateKeyFile = (kPki / (who.cert + "-key.pem")).string();
    }
    Poco::Net::Context::Ptr context = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, p);
    Poco::Net::HTTPSClientSession session("127.0.0.1", port, context);
    session.setTimeout(Poco::Timespan(20, 0));
    Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    if (!who.token.empty()) request.set("Authorization", "Bearer " + who.token);
    request.setContentLength(0);
    session.sendRequest(request);
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    Poco::StreamCopier::copyToString(in, out.body);
    out.status = static_cast<int>(response.getStatus());
  } catch (const Poco::Exception& e) {
    out.error = e.displayText();
  }
  return out;
}

class AdminApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    home_.write(
        "config.yaml",
        "listeners:\n  public: { http: { port: 0 } }\n"
        "admin:\n"
        "  port: 0\n"
        "  tls: { cert: " +
            (kPki / "admin-chain.pem").string() + ", key: " + (kPki / "admin-key.pem").string() +
            ", client-ca: " + (kPki / "root.pem").string() +
            " }\n"
            "  tokens:\n"
            "    giam-sat: { role: viewer, sha256: " +
            tokenHash(kViewerToken) +
            " }\n"
            "    van-hanh: { role: operator, sha256-file: van-hanh.sha256 }\n"
            "    quan-tri: { role: admin, sha256: " +
            tokenHash(kAdminToken) +
            " }\n"
            "  clients:\n"
            "    van-hanh-1: { role: operator }\n"
            "keys:\n"
            "  co-quan: { key: " +
            (kPki / "agency-key.pem").string() + ", cert: " + (kPki / "agency-chain.pem").string() +
            " }\n"
            "store: { path: var/lienthong.db }\n"
            "audit: { key: co-quan, checkpoint-every: 1h }\n"
            "routes: [ routes ]\n");
    home_.write("van-hanh.sha256", tokenHash(kOperatorToken) + "\n");
    home_.write("routes/r.yaml", kRoutes);
    port_ = lienthong::testing::startDaemon(home_.path("config.yaml"), daemon_);
    ASSERT_NE(port_, 0);
    auto created = AdminServer::create(*daemon_);
    ASSERT_TRUE(created.ok()) << created.error().message;
    admin_ = std::move(*created);
    ASSERT_TRUE(admin_->start().ok());
    ASSERT_NE(admin_->port(), 0);
  }
  void TearDown() override {
    if (admin_) admin_->stop();
    if (daemon_) daemon_->stop();
  }

  static constexpr const char* kRoutes =
      "routes:\n"
      "  - id: tra-loi\n"
      "    pattern: request-reply\n"
      "    from: { http: { listener: public, path: /tra-loi } }\n"
      "    steps:\n"
      "      - set-body: { template: \"da nhan\" }\n"
      "  - id: khong-toi\n"
      "    pattern: one-way\n"
      "    from: { http: { listener: public, path: /khong-toi } }\n"
      "    delivery: { retry: { attempts: 2, initial: 10ms, max: 10ms } }\n"
      "    to: { http: { url: \"http://127.0.0.1:1/x\" } }\n"
      "  - id: luu\n"
      "    pattern: one-way\n"
      "    from: { http: { listener: public, path: /luu } }\n"
      "    to: { file: { dir: out, name: \"${MaHoSo}.txt\" } }\n"
      "  - id: tat\n"
      "    enabled: false\n"
      "    pattern: request-reply\n"
      "    from: { http: { listener: public, path: /tat } }\n";

  std::uint16_t admin() const { return admin_->port(); }

  TempHome home_;
  std::uint16_t port_ = 0;
  std::unique_ptr<Daemon> daemon_;
  std::unique_ptr<AdminServer> admin_;
};

TEST_F(AdminApiTest, EachRoleMayDoWhatItAllowsAndNoMore) {
  // Health and readiness need no credentials; nothing else is answered without them.
  EXPECT_EQ(call(admin(), "GET", "/v1/health").status, 200);
  EXPECT_EQ(call(admin(), "GET", "/v1/ready").body, "{\"ready\":true}");
  for (const char* path : {"/v1/status", "/v1/routes", "/v1/metrics", "/v1/certs", "/metrics"}) {
    EXPECT_EQ(call(admin(), "GET", path).status, 401) << path;
  }
  EXPECT_EQ(call(admin(), "POST", "/v1/reload").status, 401);
  // A wrong token is refused, even beside a good certificate.
  EXPECT_EQ(call(admin(), "GET", "/v1/status", {"lt_sai", ""}).status, 401);
  EXPECT_EQ(call(admin(), "GET", "/v1/status", {"lt_sai", "van-hanh"}).status, 401);
  // A certificate whose CN has no role is refused even beside a good token.
  EXPECT_EQ(call(admin(), "GET", "/v1/status", {kAdminToken, "khach"}).status, 401);
  // A request path that is not one.
  EXPECT_EQ(call(admin(), "GET", "/v1/dlq?route=%zz", {kAdminToken, ""}).status, 400);
  // A certificate of the right CA whose CN has no role.
  Reply stranger_cn = call(admin(), "GET", "/v1/status", {"", "khach"});
  EXPECT_EQ(stranger_cn.status, 401);
  EXPECT_NE(stranger_cn.body.find("'khach-la' has no role"), std::string::npos) << stranger_cn.body;

  const Credentials viewer{kViewerToken, ""};
  const Credentials operator_token{kOperatorToken, ""};
  const Credentials operator_cert{"", "van-hanh"};
  const Credentials admin_token{kAdminToken, ""};
  EXPECT_EQ(call(admin(), "GET", "/v1/whoami", viewer).body,
            R"({"name":"giam-sat","role":"viewer","via":"token"})");
  EXPECT_EQ(call(admin(), "GET", "/v1/whoami", operator_cert).body,
            R"({"name":"van-hanh-1","role":"operator","via":"certificate"})");
  for (const Credentials& who : {viewer, operator_token, operator_cert, admin_token}) {
    for (const char* path :
         {"/v1/status", "/v1/routes", "/v1/routes/tra-loi", "/v1/metrics", "/v1/certs"}) {
      EXPECT_EQ(call(admin(), "GET", path, who).status, 200) << path << " " << who.token;
    }
  }
  Reply refused = call(admin(), "POST", "/v1/reload", viewer);
  EXPECT_EQ(refused.status, 403);
  EXPECT_NE(refused.body.find("role viewer may not POST /v1/reload (it needs operator)"),
            std::string::npos)
      << refused.body;
  // Operators and admins reload: a new version each time.
  Reply first = call(admin(), "POST", "/v1/reload", operator_token);
  EXPECT_EQ(first.status, 200) << first.body;
  EXPECT_NE(first.body.find("\"ok\":true,\"previous_version\":1,\"version\":2"), std::string::npos)
      << first.body;
  EXPECT_EQ(call(admin(), "POST", "/v1/reload", operator_cert).status, 200);
  EXPECT_EQ(call(admin(), "POST", "/v1/reload", admin_token).status, 200);
  EXPECT_EQ(daemon_->routes()->version, 4u);
  // Wrong method, unknown path, unknown route.
  EXPECT_EQ(call(admin(), "GET", "/v1/reload", admin_token).status, 405);
  EXPECT_EQ(call(admin(), "GET", "/v1/nothing", admin_token).status, 404);
  EXPECT_EQ(call(admin(), "GET", "/v1/routes/khong-co", viewer).status, 404);
}

// An operator stops a route's input and starts it again; the choice outlives a reload.
TEST_F(AdminApiTest, AnOperatorDisablesARouteAcrossAReloadAndEnablesItAgain) {
  const Credentials viewer{kViewerToken, ""};
  const Credentials operator_token{kOperatorToken, ""};
  EXPECT_EQ(call(admin(), "POST", "/v1/routes/tra-loi/disable", viewer).status, 403);
  Reply off = call(admin(), "POST", "/v1/routes/tra-loi/disable", operator_token);
  EXPECT_EQ(off.status, 200) << off.body;
  EXPECT_EQ(off.body, R"({"route":"tra-loi","enabled":false,"changed":true})");
  EXPECT_EQ(httpCall(port_, "POST", "/tra-loi", "x").status, 404);  // nothing bound there
  EXPECT_EQ(call(admin(), "POST", "/v1/routes/tra-loi/disable", operator_token).body,
            R"({"route":"tra-loi","enabled":false,"changed":false})");
  EXPECT_EQ(call(admin(), "POST", "/v1/reload", operator_token).status, 200);
  EXPECT_EQ(httpCall(port_, "POST", "/tra-loi", "x").status, 404);  // still off
  Reply shown = call(admin(), "GET", "/v1/routes/tra-loi", viewer);
  EXPECT_NE(shown.body.find("\"enabled\":false,\"disabled_by\":\"operator\""), std::string::npos)
      << shown.body;
  EXPECT_NE(call(admin(), "GET", "/v1/status", viewer).body.find("\"routes_enabled\":2"),
            std::string::npos);
  Reply on = call(admin(), "POST", "/v1/routes/tra-loi/enable", operator_token);
  EXPECT_EQ(on.body, R"({"route":"tra-loi","enabled":true,"changed":true})");
  EXPECT_EQ(httpCall(port_, "POST", "/tra-loi", "x").body, "da nhan");
  // A route its file disables, and one that is not there.
  Reply file_off = call(admin(), "POST", "/v1/routes/tat/enable", operator_token);
  EXPECT_EQ(file_off.status, 409);
  EXPECT_NE(file_off.body.find("disabled in its file"), std::string::npos) << file_off.body;
  EXPECT_EQ(call(admin(), "POST", "/v1/routes/khong-co/disable", operator_token).status, 404);
  EXPECT_EQ(call(admin(), "POST", "/v1/routes/tra-loi/pause", operator_token).status, 404);
}

// Dead letters of the running daemon: listed and shown to a viewer; replayed (through
// another route, now) and purged by an operator; and the same through lienthongctl dlq.
TEST_F(AdminApiTest, DeadLettersAreListedReplayedNowAndPurged) {
  const Credentials viewer{kViewerToken, ""};
  const Credentials operator_token{kOperatorToken, ""};
  for (const char* code : {"000.00.01.H22-240315-0001", "000.00.01.H22-240315-0002"}) {
    EXPECT_EQ(httpCall(port_, "POST", "/khong-toi", "noi dung", {{"MaHoSo", code}}).status, 202);
  }
  std::string list;
  ASSERT_TRUE(lienthong::testing::eventually([&] {
    list = call(admin(), "GET", "/v1/dlq?route=khong-toi", viewer).body;
    return list.find("\"count\":2") != std::string::npos;
  })) << list;
  const auto first_at = list.find("\"seq\":");
  const std::int64_t first = std::stoll(list.substr(first_at + 6));
  const std::int64_t second = std::stoll(list.substr(list.find("\"seq\":", first_at + 6) + 6));
  Reply shown = call(admin(), "GET", "/v1/dlq/" + std::to_string(first), viewer);
  EXPECT_EQ(shown.status, 200);
  EXPECT_NE(shown.body.find("\"dossier\":\"000.00.01.H22-240315-0001\""), std::string::npos)
      << shown.body;
  EXPECT_NE(shown.body.find("\"body\":\"noi dung\""), std::string::npos) << shown.body;
  EXPECT_NE(call(admin(), "GET", "/v1/dlq?dossier=000.00.01.H22-240315-0002", viewer)
                .body.find("\"count\":1"),
            std::string::npos);
  EXPECT_EQ(call(admin(), "POST", "/v1/dlq/" + std::to_string(first) + "/replay", viewer).status,
            403);
  // Numbers that are no dead letter's: 0 (the store's "any"), too long, not a number.
  for (const char* bad : {"0", "99999999999999999999999", "abc"}) {
    EXPECT_EQ(call(admin(), "GET", std::string("/v1/dlq/") + bad, viewer).status, 404) << bad;
    EXPECT_EQ(
        call(admin(), "POST", std::string("/v1/dlq/") + bad + "/purge", operator_token).status, 404)
        << bad;
  }
  // Replayed through route luu, which delivers it now.
  Reply replayed =
      call(admin(), "POST", "/v1/dlq/" + std::to_string(first) + "/replay?to=luu", operator_token);
  EXPECT_EQ(replayed.status, 200) << replayed.body;
  EXPECT_NE(replayed.body.find("\"route\":\"luu\",\"journal_seq\":"), std::string::npos)
      << replayed.body;
  EXPECT_TRUE(lienthong::testing::eventually(
      [&] { return fs::exists(home_.path("out/000.00.01.H22-240315-0001.txt")); }));
  EXPECT_EQ(call(admin(), "GET", "/v1/dlq/" + std::to_string(first), viewer).status, 404);
  EXPECT_EQ(call(admin(), "POST", "/v1/dlq/" + std::to_string(second) + "/replay?to=khong-co",
                 operator_token)
                .status,
            409);
  // Purged.
  EXPECT_EQ(
      call(admin(), "POST", "/v1/dlq/" + std::to_string(second) + "/purge", operator_token).body,
      "{\"seq\":" + std::to_string(second) + ",\"purged\":true}");
  EXPECT_NE(call(admin(), "GET", "/v1/dlq", viewer).body.find("\"count\":0"), std::string::npos);

  // lienthongctl dlq over the API: listed, then replayed by a filter.
  EXPECT_EQ(
      httpCall(port_, "POST", "/khong-toi", "lan hai", {{"MaHoSo", "000.00.01.H22-240315-0003"}})
          .status,
      202);
  ASSERT_TRUE(lienthong::testing::eventually([&] {
    return call(admin(), "GET", "/v1/dlq", viewer).body.find("\"count\":1") != std::string::npos;
  }));
  home_.write("operator.token", kOperatorToken + "\n");
  const std::string ctl = std::string(LIENTHONG_BINARY_DIR) + "/apps/lienthongctl/lienthongctl";
  const std::string to = " --url https://127.0.0.1:" + std::to_string(admin()) + " --config " +
                         home_.path("config.yaml").string() + " --token-file " +
                         home_.path("operator.token").string();
  int rc = -1;
  std::string out = lienthong::testing::runCommand(ctl + " dlq list" + to, &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("000.00.01.H22-240315-0003"), std::string::npos) << out;
  EXPECT_NE(out.find("1 dead letter(s)"), std::string::npos) << out;
  out = lienthong::testing::runCommand(
      ctl + " dlq replay --dossier 000.00.01.H22-240315-0003 --to luu" + to, &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("1 dead letter(s) replayed: back through their routes now"), std::string::npos)
      << out;
  EXPECT_TRUE(lienthong::testing::eventually(
      [&] { return fs::exists(home_.path("out/000.00.01.H22-240315-0003.txt")); }));
}

// A reload's set is rolled back to the one it replaced (and forward again), each under a
// new version; with no reload yet there is nothing to return to.
TEST_F(AdminApiTest, AReloadIsRolledBackAndForward) {
  const Credentials operator_token{kOperatorToken, ""};
  Reply none = call(admin(), "POST", "/v1/reload?rollback=1", operator_token);
  EXPECT_EQ(none.status, 409);
  EXPECT_NE(none.body.find("no route set to return to"), std::string::npos) << none.body;
  std::string changed = kRoutes;
  changed.replace(changed.find("da nhan"), 7, "ban moi");
  home_.write("routes/r.yaml", changed);
  ASSERT_EQ(call(admin(), "POST", "/v1/reload", operator_token).status, 200);
  EXPECT_EQ(httpCall(port_, "POST", "/tra-loi", "x").body, "ban moi");
  Reply back = call(admin(), "POST", "/v1/reload?rollback=1", operator_token);
  EXPECT_EQ(back.status, 200) << back.body;
  EXPECT_NE(back.body.find("\"previous_version\":2,\"version\":3,\"rolled_back_to\":1"),
            std::string::npos)
      << back.body;
  EXPECT_EQ(httpCall(port_, "POST", "/tra-loi", "x").body, "da nhan");
  // Forward again, through lienthongctl.
  home_.write("operator.token", kOperatorToken + "\n");
  int rc = -1;
  const std::string out = lienthong::testing::runCommand(
      std::string(LIENTHONG_BINARY_DIR) + "/apps/lienthongctl/lienthongctl reload --rollback" +
          " --url https://127.0.0.1:" + std::to_string(admin()) + " --config " +
          home_.path("config.yaml").string() + " --token-file " +
          home_.path("operator.token").string(),
      &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("rolled back to the route set of version 2: now version 4 (was 3)"),
            std::string::npos)
      << out;
  EXPECT_EQ(httpCall(port_, "POST", "/tra-loi", "x").body, "ban moi");
  EXPECT_EQ(call(admin(), "POST", "/v1/reload?rollback=yes", operator_token).status, 400);
}

// The hops of a dossier's messages: each failed attempt and the end, with route, version,
// attempt and reason; by dossier code, message id or trace id.
TEST_F(AdminApiTest, TheHopsOfADossierAreTraced) {
  const Credentials viewer{kViewerToken, ""};
  const std::string code = "000.00.01.H22-240315-0009";
  EXPECT_EQ(httpCall(port_, "POST", "/khong-toi", "x",
                     {{"MaHoSo", code},
                      {"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}})
                .status,
            202);
  EXPECT_EQ(httpCall(port_, "POST", "/luu", "y", {{"MaHoSo", code}}).status, 202);
  std::string body;
  ASSERT_TRUE(lienthong::testing::eventually([&] {
    body = call(admin(), "GET", "/v1/trace?key=" + code, viewer).body;
    return body.find("\"count\":3") != std::string::npos;
  })) << body;
  EXPECT_NE(body.find("\"route\":\"khong-toi\",\"route_version\":1"), std::string::npos) << body;
  EXPECT_NE(body.find("\"attempt\":1,\"outcome\":\"retry\""), std::string::npos) << body;
  EXPECT_NE(body.find("\"attempt\":2,\"outcome\":\"dead-lettered\""), std::string::npos) << body;
  EXPECT_NE(body.find("\"route\":\"luu\""), std::string::npos) << body;
  EXPECT_NE(body.find("\"outcome\":\"delivered\""), std::string::npos) << body;
  // By the trace id the caller gave: the khong-toi message only.
  Reply by_trace = call(admin(), "GET", "/v1/trace?key=4bf92f3577b34da6a3ce929d0e0e4736", viewer);
  EXPECT_NE(by_trace.body.find("\"count\":2"), std::string::npos) << by_trace.body;
  EXPECT_EQ(call(admin(), "GET", "/v1/trace", viewer).status, 400);
  // lienthongctl trace prints the hops as a table.
  home_.write("viewer.token", kViewerToken + "\n");
  int rc = -1;
  const std::string out = lienthong::testing::runCommand(
      std::string(LIENTHONG_BINARY_DIR) + "/apps/lienthongctl/lienthongctl trace " + code +
          " --url https://127.0.0.1:" + std::to_string(admin()) + " --config " +
          home_.path("config.yaml").string() + " --token-file " +
          home_.path("viewer.token").string(),
      &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("dead-lettered"), std::string::npos) << out;
  EXPECT_NE(out.find("3 hop(s)"), std::string::npos) << out;
}

TEST_F(AdminApiTest, ACertificateOfAnotherCaDoesNotConnect) {
  Reply r = call(admin(), "GET", "/v1/health", {"", "stranger"});
  EXPECT_EQ(r.status, 0);
  EXPECT_FALSE(r.error.empty());
}

TEST_F(AdminApiTest, AReloadWithErrorsIsRefusedWithEveryOneAndTheRunningSetStays) {
  home_.write("routes/r.yaml",
              "routes:\n"
              "  - id: tra-loi\n"
              "    pattern: request-reply\n"
              "    from: { http: { listener: khong-co, path: /tra-loi } }\n"
              "    steps:\n"
              "      - frobnicate: {}\n");
  Reply r = call(admin(), "POST", "/v1/reload", {kOperatorToken, ""});
  EXPECT_EQ(r.status, 422);
  EXPECT_NE(r.body.find("\"ok\":false,\"previous_version\":1,\"version\":1"), std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("r.yaml:4:31: unknown listener 'khong-co'"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("r.yaml:6:9: unknown step 'frobnicate'"), std::string::npos) << r.body;
  // The running set is untouched: both routes, version 1, answering.
  EXPECT_EQ(daemon_->routes()->version, 1u);
  EXPECT_EQ(daemon_->routes()->routes.size(), 4u);
  EXPECT_EQ(httpCall(port_, "POST", "/tra-loi", "x").body, "da nhan");
}

TEST_F(AdminApiTest, TheMetricsCountPerRoute) {
  for (int i = 0; i < 3; ++i) EXPECT_EQ(httpCall(port_, "POST", "/tra-loi", "x").status, 200);
  EXPECT_EQ(httpCall(port_, "POST", "/khong-toi", "x").status, 202);
  const Credentials viewer{kViewerToken, ""};
  std::string text;
  ASSERT_TRUE(lienthong::testing::eventually([&] {
    text = call(admin(), "GET", "/metrics", viewer).body;
    return text.find("lienthong_messages_dead_lettered_total{route=\"khong-toi\"} 1") !=
           std::string::npos;
  })) << text;
  for (const char* line : {
           "# TYPE lienthong_messages_in_total counter",
           "lienthong_messages_in_total{route=\"tra-loi\"} 3",
           "lienthong_messages_delivered_total{route=\"tra-loi\"} 3",
           "lienthong_message_duration_seconds_count{route=\"tra-loi\"} 3",
           "lienthong_message_duration_seconds_bucket{route=\"tra-loi\",le=\"+Inf\"} 3",
           "lienthong_messages_in_total{route=\"khong-toi\"} 1",
           "lienthong_messages_retried_total{route=\"khong-toi\"} 1",
           "lienthong_route_table_version 1",
           "# TYPE lienthong_certificate_expiry_days gauge",
           "lienthong_certificate_expiry_days{where=\"key co-quan\",role=\"signer\"",
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
  // The same counts in the route's JSON.
  Reply route = call(admin(), "GET", "/v1/routes/tra-loi", viewer);
  EXPECT_NE(route.body.find("\"counters\":{\"in\":3,\"refused\":0,\"delivered\":3"),
            std::string::npos)
      << route.body;
  Reply certs = call(admin(), "GET", "/v1/certs", viewer);
  EXPECT_NE(certs.body.find("\"where\":\"key co-quan\",\"role\":\"signer\",\"subject\":"),
            std::string::npos)
      << certs.body;
}

TEST_F(AdminApiTest, TheOperatorsCommandsWorkAgainstTheRunningDaemon) {
  home_.write("operator.token", kOperatorToken + "\n");
  home_.write("viewer.token", kViewerToken + "\n");
  const std::string ctl = std::string(LIENTHONG_BINARY_DIR) + "/apps/lienthongctl/lienthongctl";
  // The config's own certificate chain is what lienthongctl trusts by default.
  const std::string to = " --url https://127.0.0.1:" + std::to_string(admin()) + " --config " +
                         home_.path("config.yaml").string() + " --token-file ";
  int rc = -1;
  std::string out = lienthong::testing::runCommand(
      ctl + " status" + to + home_.path("viewer.token").string(), &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("ready  up "), std::string::npos) << out;
  EXPECT_NE(out.find("routes: 4 (3 enabled), table version 1"), std::string::npos) << out;
  out = lienthong::testing::runCommand(ctl + " routes" + to + home_.path("viewer.token").string(),
                                       &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("tra-loi"), std::string::npos) << out;
  EXPECT_NE(out.find("4 route(s), route table version 1"), std::string::npos) << out;
  out = lienthong::testing::runCommand(ctl + " reload" + to + home_.path("viewer.token").string(),
                                       &rc);
  EXPECT_EQ(WEXITSTATUS(rc), 1) << out;
  EXPECT_NE(out.find("403 role viewer may not POST /v1/reload"), std::string::npos) << out;
  out = lienthong::testing::runCommand(ctl + " reload" + to + home_.path("operator.token").string(),
                                       &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("route table version 2 active (was 1)"), std::string::npos) << out;
  home_.write("routes/r.yaml", "routes:\n  - id: x\n    pattern: sideways\n");
  out = lienthong::testing::runCommand(ctl + " reload" + to + home_.path("operator.token").string(),
                                       &rc);
  EXPECT_EQ(WEXITSTATUS(rc), 1) << out;
  EXPECT_NE(out.find("r.yaml:3:14: 'pattern' must be one of"), std::string::npos) << out;
  EXPECT_NE(out.find("reload refused: "), std::string::npos) << out;
  EXPECT_NE(out.find("route table version 2 stays active"), std::string::npos) << out;
  out = lienthong::testing::runCommand(
      ctl + " disable khong-toi" + to + home_.path("operator.token").string(), &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("route khong-toi disabled: its input is stopped"), std::string::npos) << out;
  out = lienthong::testing::runCommand(
      ctl + " enable khong-toi" + to + home_.path("operator.token").string(), &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("route khong-toi enabled: its input is started"), std::string::npos) << out;
  out = lienthong::testing::runCommand(ctl + " metrics" + to + home_.path("viewer.token").string(),
                                       &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("lienthong_route_table_version 2"), std::string::npos) << out;
  // certs and stats of the running daemon, given credentials.
  out = lienthong::testing::runCommand(ctl + " certs" + to + home_.path("viewer.token").string(),
                                       &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("key co-quan"), std::string::npos) << out;
  EXPECT_NE(out.find("signer"), std::string::npos) << out;
  out = lienthong::testing::runCommand(
      ctl + " certs --warn-days 100000" + to + home_.path("viewer.token").string(), &rc);
  EXPECT_EQ(WEXITSTATUS(rc), 1) << out;
  EXPECT_NE(out.find("WARN"), std::string::npos) << out;
  out = lienthong::testing::runCommand(
      ctl + " stats --by procedure" + to + home_.path("viewer.token").string(), &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("\"total\""), std::string::npos) << out;
  out = lienthong::testing::runCommand(
      ctl + " stats --csv" + to + home_.path("viewer.token").string(), &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("total"), std::string::npos) << out;
  // No credentials: refused, and said so.
  out = lienthong::testing::runCommand(
      ctl + " status --url https://127.0.0.1:" + std::to_string(admin()) + " --config " +
          home_.path("config.yaml").string(),
      &rc);
  EXPECT_EQ(WEXITSTATUS(rc), 1) << out;
  EXPECT_NE(out.find("401 credentials needed"), std::string::npos) << out;
}

// Whether the audit records (as the API gives them) hold one with all of these.
bool recorded(const std::string& records, std::initializer_list<std::string> parts) {
  for (std::size_t at = records.find("{\"seq\":"); at != std::string::npos;
       at = records.find("{\"seq\":", at + 1)) {
    const std::string one = records.substr(at, records.find('}', at) - at);
    bool all = true;
    for (const std::string& p : parts) all = all && one.find(p) != std::string::npos;
    if (all) return true;
  }
  return false;
}

// Every role's actions, every refusal and every message that ended leave a record on the
// chain; the chain verifies through the API, and a checkpoint is an admin's to make.
TEST_F(AdminApiTest, TheAuditChainRecordsEveryRoleEveryRefusalAndEveryMessage) {
  const Credentials viewer{kViewerToken, ""};
  const Credentials operator_token{kOperatorToken, ""};
  const Credentials operator_cert{"", "van-hanh"};
  const Credentials admin_token{kAdminToken, ""};
  EXPECT_EQ(call(admin(), "GET", "/v1/status").status, 401);
  EXPECT_EQ(call(admin(), "GET", "/v1/status", {"lt_sai", ""}).status, 401);
  EXPECT_EQ(call(admin(), "POST", "/v1/reload", viewer).status, 403);
  EXPECT_EQ(call(admin(), "GET", "/v1/audit", viewer).status, 403);
  EXPECT_EQ(call(admin(), "GET", "/v1/status", viewer).status, 200);  // not recorded
  EXPECT_EQ(call(admin(), "GET", "/v1/trace?key=000.00.01.H22-261127-0007", viewer).status, 200);
  EXPECT_EQ(call(admin(), "POST", "/v1/routes/tra-loi/disable", operator_token).status, 200);
  EXPECT_EQ(call(admin(), "POST", "/v1/routes/tra-loi/enable", operator_cert).status, 200);
  EXPECT_EQ(call(admin(), "POST", "/v1/audit/checkpoint", operator_token).status, 403);
  EXPECT_EQ(
      httpCall(port_, "POST", "/luu", "noi dung", {{"MaHoSo", "000.00.01.H22-261127-0007"}}).status,
      202);
  EXPECT_EQ(httpCall(port_, "POST", "/tra-loi", "hoi").body, "da nhan");
  std::string records;
  ASSERT_TRUE(lienthong::testing::eventually([&] {
    records = call(admin(), "GET", "/v1/audit/records?limit=1000", operator_token).body;
    return records.find("route:tra-loi") != std::string::npos &&
           records.find("route:luu") != std::string::npos;
  })) << records;
  EXPECT_TRUE(recorded(records, {"\"actor\":\"daemon\"", "\"action\":\"start\""})) << records;
  EXPECT_TRUE(recorded(records, {"\"actor\":\"anonymous\"", "\"action\":\"GET /v1/status\"",
                                 "HTTP 401: credentials needed"}))
      << records;
  EXPECT_TRUE(
      recorded(records, {"\"actor\":\"anonymous\"", "HTTP 401: the bearer token is not known"}))
      << records;
  EXPECT_TRUE(recorded(records, {"\"actor\":\"token:giam-sat\"", "\"action\":\"POST /v1/reload\"",
                                 "HTTP 403: role viewer"}))
      << records;
  EXPECT_TRUE(recorded(
      records, {"\"actor\":\"token:giam-sat\"", "\"action\":\"GET /v1/audit\"", "HTTP 403"}))
      << records;
  EXPECT_TRUE(recorded(records, {"\"actor\":\"token:giam-sat\"", "\"action\":\"GET /v1/trace\"",
                                 "\"subject\":\"key=000.00.01.H22-261127-0007\"", "HTTP 200"}))
      << records;
  EXPECT_FALSE(recorded(records, {"\"actor\":\"token:giam-sat\"", "GET /v1/status"})) << records;
  EXPECT_TRUE(recorded(records, {"\"actor\":\"token:van-hanh\"",
                                 "\"action\":\"POST /v1/routes/tra-loi/disable\"", "HTTP 200"}))
      << records;
  EXPECT_TRUE(recorded(records, {"\"actor\":\"certificate:van-hanh-1\"",
                                 "\"action\":\"POST /v1/routes/tra-loi/enable\"", "HTTP 200"}))
      << records;
  EXPECT_TRUE(recorded(records, {"\"actor\":\"token:van-hanh\"",
                                 "\"action\":\"POST /v1/audit/checkpoint\"", "HTTP 403"}))
      << records;
  // The message as accepted: its route, its dossier, its body's SHA-256, the route version.
  EXPECT_TRUE(
      recorded(records, {"\"actor\":\"route:luu\"", "\"action\":\"delivered\"",
                         "\"subject\":\"000.00.01.H22-261127-0007\"",
                         "\"digest\":\"" + pki::sha256Hex("noi dung") + "\"", "\"version\":1"}))
      << records;
  EXPECT_TRUE(recorded(records, {"\"actor\":\"route:tra-loi\"", "\"action\":\"delivered\"",
                                 "\"digest\":\"" + pki::sha256Hex("hoi") + "\""}))
      << records;

  Reply cp = call(admin(), "POST", "/v1/audit/checkpoint", admin_token);
  ASSERT_EQ(cp.status, 200) << cp.body;
  EXPECT_NE(cp.body.find("\"signer\":\"C=VN,O=UBND tinh Ha Giang"), std::string::npos) << cp.body;
  Reply chains = call(admin(), "GET", "/v1/audit", operator_token);
  EXPECT_NE(chains.body.find("\"chain\":\"local\""), std::string::npos) << chains.body;
  EXPECT_NE(chains.body.find("\"checkpoints\":1"), std::string::npos) << chains.body;

  home_.write("operator.token", kOperatorToken + "\n");
  const std::string ctl = std::string(LIENTHONG_BINARY_DIR) + "/apps/lienthongctl/lienthongctl";
  int rc = -1;
  std::string out = lienthong::testing::runCommand(
      ctl + " audit verify --url https://127.0.0.1:" + std::to_string(admin()) + " --config " +
          home_.path("config.yaml").string() + " --token-file " +
          home_.path("operator.token").string(),
      &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("chain local: intact: "), std::string::npos) << out;
  EXPECT_EQ(out.find("note: the checkpoints' signatures were checked, not who made them"),
            std::string::npos)
      << out;
}

// Runs SQL on the embedded store's file (the daemon stopped).
void sqliteExec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  const std::string why = err ? err : "";
  sqlite3_free(err);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << why << " in " << sql;
}

// A store tampered with while the daemon was stopped: `audit verify` names the first bad
// record and what happened to it, for each kind; the untouched store verifies; and after a
// restart the trace of a dossier still shows the hops from before it (from the chain).
TEST_F(AdminApiTest, ATamperedEmbeddedStoreIsFoundAndTheFirstBadRecordNamed) {
  const Credentials viewer{kViewerToken, ""};
  const Credentials operator_token{kOperatorToken, ""};
  EXPECT_EQ(call(admin(), "POST", "/v1/reload", viewer).status, 403);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(call(admin(), "POST", "/v1/routes/tra-loi/disable", operator_token).status, 200);
  }
  EXPECT_EQ(
      httpCall(port_, "POST", "/luu", "ho so", {{"MaHoSo", "000.00.01.H22-261127-0008"}}).status,
      202);
  ASSERT_TRUE(lienthong::testing::eventually(
      [&] { return fs::exists(home_.path("out/000.00.01.H22-261127-0008.txt")); }));
  admin_->stop();
  daemon_->stop();  // a last record and a checkpoint of it
  admin_.reset();
  daemon_.reset();

  const std::string db = home_.path("var/lienthong.db").string();
  const std::string pristine = db + ".pristine";
  sqliteExec(db, "PRAGMA wal_checkpoint(TRUNCATE)");  // all of it in the file itself
  fs::copy_file(db, pristine);
  // The store as it was: its file again, no write-ahead log of a tampering left over.
  auto restore = [&] {
    fs::remove(db + "-wal");
    fs::remove(db + "-shm");
    fs::copy_file(pristine, db, fs::copy_options::overwrite_existing);
  };
  const std::string ctl = std::string(LIENTHONG_BINARY_DIR) + "/apps/lienthongctl/lienthongctl";
  const std::string verify = ctl + " audit verify --config " + home_.path("config.yaml").string();
  int rc = -1;
  std::string out = lienthong::testing::runCommand(verify, &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("chain local: intact: "), std::string::npos) << out;

  AuditRecord second;
  {
    auto store = openSqliteStore(db);
    ASSERT_TRUE(store.ok()) << store.error().message;
    auto records = (*store)->auditRecords("local", 1, 1);
    ASSERT_TRUE(records.ok() && records->size() == 1);
    second = records->front();
  }
  for (const auto& t : lienthong::testing::tamperings("audit", "local", second)) {
    restore();
    for (const std::string& sql : t.sql) sqliteExec(db, sql);
    out = lienthong::testing::runCommand(verify, &rc);
    EXPECT_EQ(WEXITSTATUS(rc), 1) << t.kind << ": " << out;
    EXPECT_NE(out.find("chain local: BROKEN at record " + std::to_string(t.first_bad) + " (" +
                       t.kind + ")"),
              std::string::npos)
        << t.kind << ": " << out;
  }
  // A rewrite from record 3 on, with every hash made again: only the checkpoint shows it.
  restore();
  {
    auto store = openSqliteStore(db);
    ASSERT_TRUE(store.ok());
    auto records = (*store)->auditRecords("local", 0, 1000);
    ASSERT_TRUE(records.ok());
    store->reset();
    std::string sql;
    for (std::size_t i = 2; i < records->size(); ++i) {
      AuditRecord& r = (*records)[i];
      if (i == 2) r.detail = "HTTP 200";
      sealAuditRecord(r, r.seq - 1, (*records)[i - 1].hash);
      sql += "UPDATE audit SET detail = " + lienthong::testing::sqlText(r.detail) +
             ", prev = " + lienthong::testing::sqlText(r.prev) +
             ", hash = " + lienthong::testing::sqlText(r.hash) +
             " WHERE seq = " + std::to_string(r.seq) + ";";
    }
    sqliteExec(db, sql);
  }
  out = lienthong::testing::runCommand(verify, &rc);
  EXPECT_EQ(WEXITSTATUS(rc), 1) << out;
  EXPECT_NE(out.find("chain local: BROKEN at record 1 (rewritten)"), std::string::npos) << out;

  // Restarted on the untouched store: the dossier's hops from before the restart.
  restore();
  port_ = lienthong::testing::startDaemon(home_.path("config.yaml"), daemon_);
  ASSERT_NE(port_, 0);
  auto created = AdminServer::create(*daemon_);
  ASSERT_TRUE(created.ok());
  admin_ = std::move(*created);
  ASSERT_TRUE(admin_->start().ok());
  Reply trace = call(admin(), "GET", "/v1/trace?key=000.00.01.H22-261127-0008", viewer);
  EXPECT_NE(trace.body.find("\"route\":\"luu\""), std::string::npos) << trace.body;
  EXPECT_NE(trace.body.find("\"outcome\":\"delivered\""), std::string::npos) << trace.body;
  EXPECT_NE(trace.body.find("\"from\":\"audit\""), std::string::npos) << trace.body;
  home_.write("viewer.token", kViewerToken + "\n");
  out = lienthong::testing::runCommand(
      ctl + " trace 000.00.01.H22-261127-0008 --url https://127.0.0.1:" + std::to_string(admin()) +
          " --config " + home_.path("config.yaml").string() + " --token-file " +
          home_.path("viewer.token").string(),
      &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("1 hop(s), 1 from the audit chain"), std::string::npos) << out;
}

// With audit.keep, the daemon checkpoints and prunes its chain by itself while messages
// keep coming: the records older than keep go up to a checkpoint, which stays and anchors
// the rest, and the chain still verifies against the node's certificate.
TEST(AuditChain, TheDaemonCheckpointsAndPrunesByItselfAndTheChainStillVerifies) {
  TempHome home;
  home.write("config.yaml",
             "listeners:\n  public: { http: { port: 0 } }\n"
             "keys:\n  node: { key: " +
                 (kPki / "agency-key.pem").string() +
                 ", cert: " + (kPki / "agency-chain.pem").string() +
                 " }\n"
                 "store: { path: var/lienthong.db }\n"
                 "audit: { key: node, checkpoint-every: 100ms, keep: 300ms }\n"
                 "routes: [ routes ]\n");
  home.write("routes/r.yaml",
             "routes:\n"
             "  - id: tra-loi\n"
             "    pattern: request-reply\n"
             "    from: { http: { listener: public, path: /tra-loi } }\n"
             "    steps:\n"
             "      - set-body: { template: \"da nhan\" }\n");
  std::unique_ptr<Daemon> daemon;
  const std::uint16_t port = lienthong::testing::startDaemon(home.path("config.yaml"), daemon);
  ASSERT_NE(port, 0);
  Store* store = daemon->storeIfOpen();
  ASSERT_NE(store, nullptr);
  AuditSigners node;
  node.certs.push_back(pki::certPem(daemon->config().audit.key->cert()));
  AuditReport report;
  std::vector<AuditCheckpoint> checkpoints;
  std::vector<AuditRecord> records;
  const bool pruned = lienthong::testing::eventually(
      [&] {
        EXPECT_EQ(httpCall(port, "POST", "/tra-loi", "x").body, "da nhan");
        // The checkpoints first: one made meanwhile vouches for no record beyond those read.
        auto cps = store->auditCheckpoints("local");
        auto certs = store->auditCerts();
        auto recs = store->auditRecords("local", 0, 100000);
        if (!cps.ok() || !certs.ok() || !recs.ok()) return false;
        checkpoints = *cps;
        records = *recs;
        report = verifyAuditChain("local", records, checkpoints, node, *certs);
        const bool prune_recorded =
            std::any_of(records.begin(), records.end(),
                        [](const AuditRecord& r) { return r.action == "audit-prune"; });
        return report.ok() && report.first > 1 && prune_recorded;
      },
      std::chrono::seconds(30));
  ASSERT_TRUE(pruned) << (report.problem ? report.problem->text : "not pruned") << ", "
                      << records.size() << " record(s)";
  ASSERT_FALSE(checkpoints.empty());
  EXPECT_EQ(checkpoints.front().seq, report.first - 1);  // the anchor
  EXPECT_EQ(records.front().prev, checkpoints.front().hash);
  daemon->stop();
}

// While the store cannot be opened (another process holds it), no action is taken that
// the audit chain could not keep: POSTs get 503. Once it opens, the start is recorded and
// actions go through.
TEST(AuditChain, ActionsWaitForAStoreThatOpensLateAndTheStartIsRecorded) {
  TempHome home;
  home.write("config.yaml",
             "listeners:\n  public: { http: { port: 0 } }\n"
             "admin:\n  port: 0\n  tls: { cert: " +
                 (kPki / "admin-chain.pem").string() +
                 ", key: " + (kPki / "admin-key.pem").string() +
                 " }\n"
                 "  tokens:\n    van-hanh: { role: operator, sha256: " +
                 tokenHash(kOperatorToken) +
                 " }\n"
                 "store: { path: var/lienthong.db, reopen-every: 100ms }\n"
                 "routes: [ routes ]\n");
  home.write("routes/r.yaml", "routes: []\n");
  fs::create_directories(home.path("var"));
  auto holder = openSqliteStore(home.path("var/lienthong.db").string());  // as another daemon
  ASSERT_TRUE(holder.ok()) << holder.error().message;
  std::unique_ptr<Daemon> daemon;
  ASSERT_NE(lienthong::testing::startDaemon(home.path("config.yaml"), daemon), 0);
  auto created = AdminServer::create(*daemon);
  ASSERT_TRUE(created.ok()) << created.error().message;
  std::unique_ptr<AdminServer> admin = std::move(*created);
  ASSERT_TRUE(admin->start().ok());
  const Credentials operator_token{kOperatorToken, ""};
  Reply refused = call(admin->port(), "POST", "/v1/reload", operator_token);
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_NE(refused.body.find("actions wait until the audit chain can record them"),
            std::string::npos)
      << refused.body;
  EXPECT_EQ(daemon->routes()->version, 1u);  // not reloaded
  holder->reset();                           // the other process is gone
  ASSERT_TRUE(lienthong::testing::eventually(
      [&] { return call(admin->port(), "GET", "/v1/ready").status == 200; }));
  EXPECT_EQ(call(admin->port(), "POST", "/v1/reload", operator_token).status, 200);
  std::string records;
  ASSERT_TRUE(lienthong::testing::eventually([&] {
    records = call(admin->port(), "GET", "/v1/audit/records", operator_token).body;
    return records.find("\"action\":\"POST /v1/reload\"") != std::string::npos;
  })) << records;
  EXPECT_TRUE(recorded(records, {"\"actor\":\"daemon\"", "\"action\":\"start\""})) << records;
  EXPECT_TRUE(recorded(records, {"\"actor\":\"token:van-hanh\"", "HTTP 200"})) << records;
  admin->stop();
  daemon->stop();
}

TEST(AdminConfig, MistakesAreReportedAtTheirPlace) {
  TempHome home;
  home.write("routes/r.yaml", "routes: []\n");
  home.write("config.yaml",
             "admin:\n"
             "  port: 70000\n"
             "  tls: { cert: " +
                 (kPki / "admin-chain.pem").string() +
                 ", key: nothing.pem }\n"
                 "  tokens:\n"
                 "    a: { role: boss, sha256: " +
                 tokenHash("x") +
                 " }\n"
                 "    b: { role: viewer, sha256: ABC }\n"
                 "    c: { role: viewer }\n"
                 "  clients:\n"
                 "    van-hanh-1: { role: operator }\n"
                 "routes: [ routes ]\n");
  ConfigErrors errors;
  EXPECT_FALSE(Daemon::create(home.path("config.yaml").string(), errors));
  const std::string text = errors.str();
  for (const char* expected : {
           "config.yaml:2:9: 'port' must be",
           "config.yaml:3:",
           "nothing.pem",
           "config.yaml:5:16: 'role' must be one of: viewer, operator, admin",
           "config.yaml:6:5: admin token 'b' needs 'sha256'",
           "config.yaml:7:5: admin token 'c' needs 'sha256'",
           "config.yaml:9:5: admin 'clients' need 'client-ca'",
       }) {
    EXPECT_NE(text.find(expected), std::string::npos) << expected << "\n" << text;
  }
}

}  // namespace
}  // namespace lienthong::admin
