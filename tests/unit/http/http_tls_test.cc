// HTTPS: the listener with a certificate made at run time, and the https outbound.

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetSSL.h>
#include <gtest/gtest.h>

#include "adapters/http/http_inbound.h"
#include "adapters/http/http_listener.h"
#include "adapters/http/http_outbound.h"
#include "fakes/fake_inbound_context.h"
#include "unit/http/http_test_support.h"

namespace lienthong::adapters::http {
namespace {

using lienthong::testing::FakeInboundContext;
using lienthong::testing::http::Call;
using lienthong::testing::http::roundTrip;
using lienthong::testing::http::SelfSignedCert;

class HttpTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Poco::Net::initializeSSL();
    cert_ = new SelfSignedCert();
  }
  static void TearDownTestSuite() {
    delete cert_;
    cert_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(cert_->ok()) << "openssl could not make a certificate"; }

  std::shared_ptr<HttpListener> startListener(bool client_auth) {
    HttpListenerSettings s;
    s.port = 0;
    s.threads = 4;
    s.tls = HttpListenerTls{cert_->cert(), cert_->key(), client_auth ? cert_->clientCert() : ""};
    auto created = HttpListener::create("secure", s);
    EXPECT_TRUE(created.ok()) << created.error().message;
    auto listener = std::move(created).value();
    auto started = listener->start();
    EXPECT_TRUE(started.ok()) << started.error().message;
    return listener;
  }

  std::shared_ptr<HttpConnection> connection(std::uint16_t port, HttpConnectionTls tls,
                                             const std::string& host = "127.0.0.1") {
    HttpConnectionSettings s;
    s.url = "https://" + host + ":" + std::to_string(port) + "/in";
    s.tls = std::move(tls);
    auto c = HttpConnection::create(s);
    EXPECT_TRUE(c.ok()) << c.error().message;
    return std::move(c).value();
  }

  static Delivery send(const std::shared_ptr<HttpConnection>& c, const std::string& body) {
    HttpOutboundSettings s;
    s.connection = c;
    HttpOutbound out(std::move(s));
    Message m;
    m.setBody(body);
    m.setContentType("text/plain");
    Exchange ex(std::move(m), "tls-route", ExchangePattern::kRequestReply);
    return out.send(ex);
  }

  static SelfSignedCert* cert_;
};

SelfSignedCert* HttpTlsTest::cert_ = nullptr;

TEST_F(HttpTlsTest, HttpsOutboundToTlsListenerRoundTrip) {
  auto listener = startListener(false);
  EXPECT_EQ(listener->describe().rfind("http listener secure on https://127.0.0.1:", 0), 0u);
  FakeInboundContext route(ExchangePattern::kRequestReply, "tls-in");
  auto token = listener->bind("/in", {"POST"}, route);

  auto c = connection(listener->port(), HttpConnectionTls{cert_->cert(), true});
  for (int i = 0; i < 3; ++i) {
    Delivery d = send(c, "secret " + std::to_string(i));
    ASSERT_EQ(d.status, Delivery::Status::kAccepted) << d.detail;
    EXPECT_EQ(d.reply->body(), "secret " + std::to_string(i));
    EXPECT_EQ(*d.reply->header("http.status"), "200");
  }
  EXPECT_EQ(c->sessionsCreated(), 1u);  // TLS session kept alive too

  // Also by host name (the certificate names localhost).
  auto by_name = connection(listener->port(), HttpConnectionTls{cert_->cert(), true}, "localhost");
  Delivery d = send(by_name, "named");
  EXPECT_EQ(d.status, Delivery::Status::kAccepted) << d.detail;

  listener->unbind(token);
  listener->stop();
}

TEST_F(HttpTlsTest, UntrustedCertificateIsAConnectFailureUnlessVerifyIsOff) {
  auto listener = startListener(false);
  FakeInboundContext route(ExchangePattern::kRequestReply, "tls-in");
  auto token = listener->bind("/in", {"POST"}, route);

  // The system CAs do not know the self-signed certificate.
  auto untrusting = connection(listener->port(), HttpConnectionTls{"", true});
  Delivery d = send(untrusting, "x");
  EXPECT_EQ(d.status, Delivery::Status::kRetry);
  EXPECT_EQ(d.failure, Delivery::Failure::kConnect) << d.detail;

  auto blind = connection(listener->port(), HttpConnectionTls{"", false});
  d = send(blind, "y");
  EXPECT_EQ(d.status, Delivery::Status::kAccepted) << d.detail;
  EXPECT_EQ(route.submitted().size(), 1u);

  listener->unbind(token);
  listener->stop();
}

TEST_F(HttpTlsTest, ClientCaRequiresAClientCertificate) {
  auto listener = startListener(true);
  FakeInboundContext route(ExchangePattern::kRequestReply, "mtls");
  auto token = listener->bind("/in", {"POST"}, route);
  Call call;
  call.uri = "/in";
  call.body = "hi";

  // Without a client certificate the handshake (or the first read) fails.
  {
    Poco::Net::Context::Params p;
    p.caLocation = cert_->cert();
    Poco::Net::Context::Ptr ctx = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, p);
    Poco::Net::HTTPSClientSession session("127.0.0.1", listener->port(), ctx);
    session.setTimeout(Poco::Timespan(10, 0));
    EXPECT_ANY_THROW(roundTrip(session, call));
  }
  // With one the CA knows, it passes.
  {
    Poco::Net::Context::Params p;
    p.caLocation = cert_->cert();
    p.certificateFile = cert_->clientCert();
    p.privateKeyFile = cert_->clientKey();
    Poco::Net::Context::Ptr ctx = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, p);
    Poco::Net::HTTPSClientSession session("127.0.0.1", listener->port(), ctx);
    session.setTimeout(Poco::Timespan(10, 0));
    auto answer = roundTrip(session, call);
    EXPECT_EQ(answer.status, 200);
    EXPECT_EQ(answer.body, "hi");
  }
  EXPECT_EQ(route.submitted().size(), 1u);
  listener->unbind(token);
  listener->stop();
}

TEST_F(HttpTlsTest, ListenerWithMissingKeyFileIsRefused) {
  HttpListenerSettings s;
  s.tls = HttpListenerTls{cert_->cert(), cert_->dir() + "/missing.key", ""};
  auto created = HttpListener::create("broken", s);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().code, ErrorCode::kInvalidConfig);
}

}  // namespace
}  // namespace lienthong::adapters::http
