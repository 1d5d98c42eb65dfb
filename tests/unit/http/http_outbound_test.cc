// The http connection and outbound endpoint against a real local POCO peer.

#include <Poco/Net/ServerSocket.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "adapters/http/http_outbound.h"
#include "unit/http/http_test_support.h"

namespace lienthong::adapters::http {
namespace {

using lienthong::testing::http::Latch;
using lienthong::testing::http::RecordingPeer;
using std::chrono::milliseconds;

std::shared_ptr<const Template> templ(const std::string& text) {
  TemplateError error;
  auto t = Template::compile(text, &error);
  EXPECT_TRUE(t.has_value()) << error.message;
  return std::make_shared<const Template>(std::move(*t));
}

std::shared_ptr<HttpConnection> connect(const std::string& url,
                                        milliseconds read_timeout = milliseconds(10'000)) {
  HttpConnectionSettings s;
  s.url = url;
  s.read_timeout = read_timeout;
  auto c = HttpConnection::create(s);
  EXPECT_TRUE(c.ok()) << c.error().message;
  return std::move(c).value();
}

HttpOutbound outbound(std::shared_ptr<HttpConnection> connection, const std::string& path = "") {
  HttpOutboundSettings s;
  s.connection = std::move(connection);
  if (!path.empty()) s.path = templ(path);
  return HttpOutbound(std::move(s));
}

Exchange exchange(std::string body = "payload") {
  Message m;
  m.setBody(std::move(body));
  m.setContentType("application/xml");
  return Exchange(std::move(m), "out-route", ExchangePattern::kRequestReply);
}

std::string header(const Message& m, const char* name) {
  const std::string* v = m.header(name);
  return v ? *v : std::string("<absent>");
}

TEST(HttpOutbound, TwoHundredIsAcceptedWithTheReplyAndHeaderTemplatesAreRendered) {
  RecordingPeer peer;
  HttpOutboundSettings s;
  s.connection = connect(peer.url() + "/base/");
  s.path = templ("/dossiers/${MaHoSo}");
  s.method = "PUT";
  s.headers = {{"X-Route", templ("${route.id}")}, {"X-Agency", templ("${Agency:-none}")}};
  s.forward_headers = {"X-Trace", "X-Missing"};
  HttpOutbound out(std::move(s));
  EXPECT_EQ(out.describe(), "http PUT http://127.0.0.1:" + std::to_string(peer.port()) +
                                "/base/dossiers/${MaHoSo}");

  Exchange ex = exchange("<hoso/>");
  ex.message().setHeader("MaHoSo", "H-42");
  ex.message().setHeader("X-Trace", "t-1");
  ex.message().setCorrelationId("c-9");
  EXPECT_EQ(out.target(ex),
            "http PUT http://127.0.0.1:" + std::to_string(peer.port()) + "/base/dossiers/H-42");
  Delivery d = out.send(ex);
  ASSERT_EQ(d.status, Delivery::Status::kAccepted) << d.detail;
  ASSERT_TRUE(d.reply.has_value());
  EXPECT_EQ(d.reply->body(), "<hoso/>");
  EXPECT_EQ(d.reply->contentType(), "application/xml");
  EXPECT_EQ(header(*d.reply, "http.status"), "200");
  EXPECT_EQ(d.reply->id(), ex.message().id());
  EXPECT_EQ(d.reply->correlationId(), "c-9");

  const auto requests = peer.requests();
  ASSERT_EQ(requests.size(), 1u);
  const auto& r = requests[0];
  EXPECT_EQ(r.method, "PUT");
  EXPECT_EQ(r.uri, "/base/dossiers/H-42");
  EXPECT_EQ(r.headers.at("X-Route"), "out-route");
  EXPECT_EQ(r.headers.at("X-Agency"), "none");
  EXPECT_EQ(r.headers.at("X-Trace"), "t-1");
  EXPECT_EQ(r.headers.count("X-Missing"), 0u);
  EXPECT_EQ(r.headers.at("Content-Type"), "application/xml");
  EXPECT_EQ(r.body, "<hoso/>");
}

TEST(HttpOutbound, NotFoundIsRejectedWithThePeersAnswer) {
  RecordingPeer peer;
  peer.setHandler([](const RecordingPeer::Request&) {
    return RecordingPeer::Response{404, "no such thing", "text/plain", false};
  });
  auto out = outbound(connect(peer.url()), "/x");
  Exchange ex = exchange();
  Delivery d = out.send(ex);
  EXPECT_EQ(d.status, Delivery::Status::kRejected);
  EXPECT_EQ(d.failure, Delivery::Failure::kRemote);
  EXPECT_NE(d.detail.find("HTTP 404"), std::string::npos) << d.detail;
  ASSERT_TRUE(d.reply.has_value());
  EXPECT_EQ(header(*d.reply, "http.status"), "404");
  EXPECT_EQ(d.reply->body(), "no such thing");
}

TEST(HttpOutbound, ServerErrorsAnd429AreRetried) {
  RecordingPeer peer;
  std::atomic<int> status{503};
  peer.setHandler([&](const RecordingPeer::Request&) {
    return RecordingPeer::Response{status.load(), "later", "text/plain", false};
  });
  auto out = outbound(connect(peer.url()));
  for (int s : {503, 500, 429, 408}) {
    status = s;
    Exchange ex = exchange();
    Delivery d = out.send(ex);
    EXPECT_EQ(d.status, Delivery::Status::kRetry) << s;
    EXPECT_EQ(d.failure, Delivery::Failure::kRemote) << s;
    ASSERT_TRUE(d.reply.has_value());
    EXPECT_EQ(header(*d.reply, "http.status"), std::to_string(s));
  }
  status = 302;  // redirects are not followed: rejected
  Exchange ex = exchange();
  EXPECT_EQ(out.send(ex).status, Delivery::Status::kRejected);
}

TEST(HttpOutbound, ConnectionRefusedIsRetriedAsConnectFailure) {
  // A privileged port no one listens on (a port freed from a port-0 bind may be taken by
  // anyone before the connect).
  auto out = outbound(connect("http://127.0.0.1:1"));
  Exchange ex = exchange();
  Delivery d = out.send(ex);
  EXPECT_EQ(d.status, Delivery::Status::kRetry);
  EXPECT_EQ(d.failure, Delivery::Failure::kConnect) << d.detail;
  EXPECT_FALSE(d.reply.has_value());
}

TEST(HttpOutbound, SlowPeerIsRetriedAsTimeout) {
  Latch release;
  RecordingPeer peer;
  peer.setHandler([&](const RecordingPeer::Request&) {
    release.wait();
    return RecordingPeer::Response{};
  });
  auto out = outbound(connect(peer.url(), milliseconds(150)));
  Exchange ex = exchange();
  Delivery d = out.send(ex);
  EXPECT_EQ(d.status, Delivery::Status::kRetry);
  EXPECT_EQ(d.failure, Delivery::Failure::kTimeout) << d.detail;

  // The exchange's deadline shortens a long read-timeout.
  auto patient = outbound(connect(peer.url(), milliseconds(60'000)));
  Exchange late = exchange();
  late.setDeadline(Exchange::Clock::now() + milliseconds(150));
  const auto start = Exchange::Clock::now();
  d = patient.send(late);
  EXPECT_EQ(d.failure, Delivery::Failure::kTimeout) << d.detail;
  EXPECT_LT(Exchange::Clock::now() - start, std::chrono::seconds(10));
  release.open();

  // A deadline already passed: not even sent.
  Exchange expired = exchange();
  expired.setDeadline(Exchange::Clock::now() - milliseconds(1));
  const std::size_t seen = peer.requests().size();
  d = patient.send(expired);
  EXPECT_EQ(d.failure, Delivery::Failure::kTimeout);
  EXPECT_EQ(peer.requests().size(), seen);
}

// A peer that answers a byte at a time, each within the read timeout: the attempt's
// deadline still ends it.
TEST(HttpOutbound, ADrippingAnswerEndsAtTheAttemptsDeadline) {
  Poco::Net::ServerSocket server(Poco::Net::SocketAddress("127.0.0.1", 0));
  std::atomic<bool> done{false};
  std::thread drip([&] {
    Poco::Net::StreamSocket peer = server.acceptConnection();
    char buf[4096];
    peer.receiveBytes(buf, sizeof buf);  // the request (small: one read)
    const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n";
    peer.sendBytes(head.data(), static_cast<int>(head.size()));
    for (int i = 0; i < 500 && !done; ++i) {
      try {
        peer.sendBytes("x", 1);
      } catch (const Poco::Exception&) {
        break;  // the client gave up
      }
      std::this_thread::sleep_for(milliseconds(10));
    }
  });
  auto out = outbound(
      connect("http://127.0.0.1:" + std::to_string(server.address().port()), milliseconds(60'000)));
  Exchange ex = exchange();
  ex.setDeadline(Exchange::Clock::now() + milliseconds(300));
  const auto start = Exchange::Clock::now();
  Delivery d = out.send(ex);
  const auto took = Exchange::Clock::now() - start;
  done = true;
  drip.join();
  EXPECT_EQ(d.status, Delivery::Status::kRetry);
  EXPECT_EQ(d.failure, Delivery::Failure::kTimeout) << d.detail;
  EXPECT_LT(took, milliseconds(10'000));  // the deadline's, not the connection's minute
}

TEST(HttpOutbound, SequentialSendsReuseOneKeepAliveConnection) {
  RecordingPeer peer;
  auto connection = connect(peer.url());
  auto out = outbound(connection, "/k");
  for (int i = 0; i < 5; ++i) {
    Exchange ex = exchange("n" + std::to_string(i));
    Delivery d = out.send(ex);
    ASSERT_EQ(d.status, Delivery::Status::kAccepted) << d.detail;
    EXPECT_EQ(d.reply->body(), "n" + std::to_string(i));
  }
  EXPECT_EQ(peer.requests().size(), 5u);
  EXPECT_EQ(peer.clients().size(), 1u);  // one TCP connection seen by the peer
  EXPECT_EQ(connection->sessionsCreated(), 1u);
  EXPECT_EQ(connection->idleSessions(), 1u);
}

TEST(HttpOutbound, AStaleKeptAliveSessionIsRetriedOnceOnAFreshOne) {
  RecordingPeer peer;
  std::atomic<bool> close_next{true};
  peer.setHandler([&](const RecordingPeer::Request& r) {
    RecordingPeer::Response out;
    out.body = r.body;
    out.close_after = close_next.exchange(false);  // answers, then drops the connection
    return out;
  });
  auto connection = connect(peer.url());
  auto out = outbound(connection);
  Exchange first = exchange("one");
  ASSERT_EQ(out.send(first).status, Delivery::Status::kAccepted);
  EXPECT_EQ(connection->idleSessions(), 1u);  // the peer said keep-alive

  Exchange second = exchange("two");
  Delivery d = out.send(second);
  ASSERT_EQ(d.status, Delivery::Status::kAccepted) << d.detail;
  EXPECT_EQ(d.reply->body(), "two");
  EXPECT_EQ(connection->sessionsCreated(), 2u);
  EXPECT_EQ(peer.requests().size(), 2u);  // the stale attempt never reached the peer
  EXPECT_EQ(peer.clients().size(), 2u);
}

TEST(HttpOutbound, RenderedPathIsEncodedAndLineBreaksInHeadersAreRejected) {
  RecordingPeer peer;
  HttpOutboundSettings s;
  s.connection = connect(peer.url());
  s.path = templ("/hoso/${Ma}?q=${Q}");
  s.headers = {{"X-Name", templ("${Name}")}};
  HttpOutbound out(std::move(s));

  Exchange ex = exchange();
  ex.message().setHeader("Ma", "H 1/\xC4\x91");  // a space, a slash and UTF-8 "đ"
  ex.message().setHeader("Q", "a%20b");
  ex.message().setHeader("Name", "plain");
  ASSERT_EQ(out.send(ex).status, Delivery::Status::kAccepted);
  const auto requests = peer.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].uri, "/hoso/H%201/%C4%91?q=a%20b");

  Exchange evil = exchange();
  evil.message().setHeader("Name", "x\r\nX-Injected: yes");
  Delivery d = out.send(evil);
  EXPECT_EQ(d.status, Delivery::Status::kRejected);
  EXPECT_NE(d.detail.find("X-Name"), std::string::npos) << d.detail;
  EXPECT_EQ(peer.requests().size(), 1u);  // nothing sent
}

TEST(HttpOutbound, ConcurrentSendsShareAPoolThatKeepsAtMostPoolIdleSessions) {
  RecordingPeer peer;
  HttpConnectionSettings cs;
  cs.url = peer.url();
  cs.pool = 2;
  auto connection = HttpConnection::create(cs).value();
  auto out = outbound(connection, "/p");
  std::atomic<int> wrong{0};
  std::vector<std::thread> senders;
  for (int t = 0; t < 6; ++t) {
    senders.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        const std::string body = std::to_string(t) + "/" + std::to_string(i);
        Exchange ex = exchange(body);
        Delivery d = out.send(ex);
        if (d.status != Delivery::Status::kAccepted || !d.reply || d.reply->body() != body) {
          ++wrong;
        }
      }
    });
  }
  for (auto& s : senders) s.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(peer.requests().size(), 60u);
  EXPECT_LE(connection->idleSessions(), 2u);
  EXPECT_LT(connection->sessionsCreated(), 60u);  // sessions were reused
}

TEST(HttpConnection, RefusesBadUrls) {
  for (const char* url :
       {"ftp://host/x", "http://", "http://h/x?q=1", "not a url", "http://user:pw@h/"}) {
    HttpConnectionSettings s;
    s.url = url;
    auto c = HttpConnection::create(s);
    EXPECT_FALSE(c.ok()) << url;
    if (!c.ok()) {
      EXPECT_EQ(c.error().code, ErrorCode::kInvalidConfig);
    }
  }
  HttpConnectionSettings s;
  s.url = "http://example.org:8081/api/v1/";
  auto c = HttpConnection::create(s);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.value()->origin(), "http://example.org:8081");
  EXPECT_EQ(c.value()->basePath(), "/api/v1");
  EXPECT_EQ(c.value()->describe(), "http connection http://example.org:8081/api/v1");
}

}  // namespace
}  // namespace lienthong::adapters::http
