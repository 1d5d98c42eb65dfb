// The http listener and inbound endpoint against a real POCO client, with a fake route.

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/String.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "adapters/http/http_inbound.h"
#include "adapters/http/http_listener.h"
#include "fakes/fake_inbound_context.h"
#include "unit/http/http_test_support.h"

namespace lienthong::adapters::http {
namespace {

using lienthong::testing::FakeInboundContext;
using lienthong::testing::http::Answer;
using lienthong::testing::http::Call;
using lienthong::testing::http::Latch;
using lienthong::testing::http::request;
using lienthong::testing::http::roundTrip;

Poco::JSON::Object::Ptr json(const std::string& text) {
  return Poco::JSON::Parser().parse(text).extract<Poco::JSON::Object::Ptr>();
}

std::string field(const std::string& body, const std::string& name) {
  auto object = json(body);
  return object->has(name) ? object->getValue<std::string>(name) : std::string("<absent>");
}

Call post(std::string uri, std::string body = "hello") {
  Call c;
  c.uri = std::move(uri);
  c.body = std::move(body);
  c.content_type = "text/plain";
  return c;
}

Outcome failed(ErrorCode code, std::string message, std::optional<Delivery> delivery = {}) {
  Outcome o;
  o.status = Outcome::Status::kFailed;
  o.error = Error(code, std::move(message));
  o.delivery = std::move(delivery);
  return o;
}

class HttpListenerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HttpListenerSettings s;
    s.port = 0;
    s.max_body = 1024;
    s.threads = 8;
    auto created = HttpListener::create("public", s);
    ASSERT_TRUE(created.ok()) << created.error().message;
    listener_ = std::move(created).value();
    auto started = listener_->start();
    ASSERT_TRUE(started.ok()) << started.error().message;
    ASSERT_NE(listener_->port(), 0);
  }
  void TearDown() override {
    if (listener_) listener_->stop();
  }

  std::uint16_t port() const { return listener_->port(); }

  std::shared_ptr<HttpListener> listener_;
};

TEST_F(HttpListenerTest, RequestReplyRoundTripCarriesTheMessageBothWays) {
  FakeInboundContext route(ExchangePattern::kRequestReply, "echo-route");
  route.setHandler([](const Message& m) {
    Outcome o;
    o.status = Outcome::Status::kDelivered;
    o.message = m;
    o.message.setBody("pong:" + m.body());
    o.message.setContentType("text/x-pong");
    return o;
  });
  HttpInboundSettings settings;
  settings.listener = listener_;
  settings.path = "/echo";
  settings.methods = {"POST", "PUT"};
  HttpInbound inbound(settings);
  ASSERT_TRUE(inbound.start(route).ok());

  Call call = post("/echo?a=1&b=2", "ping");
  call.headers = {
      {"X-Custom", "one"},       {"X-Correlation-Id", "corr-42"},   {"http.status", "299"},
      {"HTTP.method", "DELETE"}, {"Proxy-Authorization", "secret"}, {"X-Multi", "a"},
      {"X-Multi", "b"}};
  Answer a = request(port(), call);
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body, "pong:ping");
  EXPECT_EQ(a.content_type, "text/x-pong");

  const std::vector<Message> submitted = route.submitted();
  ASSERT_EQ(submitted.size(), 1u);
  const Message& m = submitted[0];
  EXPECT_EQ(m.body(), "ping");
  EXPECT_EQ(m.contentType(), "text/plain");
  EXPECT_EQ(m.correlationId(), "corr-42");
  auto header = [&](const char* name) {
    const std::string* v = m.header(name);
    return v ? *v : std::string("<absent>");
  };
  EXPECT_EQ(header("http.method"), "POST");
  EXPECT_EQ(header("http.path"), "/echo");
  EXPECT_EQ(header("http.query"), "a=1&b=2");
  EXPECT_EQ(header("X-Custom"), "one");
  EXPECT_EQ(header("X-Multi"), "a, b");
  // Hop-by-hop, framing and spoofed adapter headers are gone.
  EXPECT_EQ(header("http.status"), "<absent>");
  EXPECT_EQ(header("HTTP.method"), "<absent>");
  EXPECT_EQ(header("Proxy-Authorization"), "<absent>");
  EXPECT_EQ(header("Content-Length"), "<absent>");
  EXPECT_EQ(header("Connection"), "<absent>");
  inbound.stop();
}

TEST_F(HttpListenerTest, ReplyStatusComesFromTheHttpStatusHeader) {
  FakeInboundContext route;
  route.setHandler([](const Message&) {
    Outcome o;
    o.status = Outcome::Status::kDelivered;
    o.message.setBody("{}");
    o.message.setHeader("http.status", "201");
    return o;
  });
  auto token = listener_->bind("/created", {"POST"}, route);
  Answer a = request(port(), post("/created"));
  EXPECT_EQ(a.status, 201);
  EXPECT_EQ(a.body, "{}");
  EXPECT_EQ(a.content_type, "application/octet-stream");  // the message had none
  listener_->unbind(token);
}

TEST_F(HttpListenerTest, OneWayAnswers202WithTheMessageId) {
  FakeInboundContext route(ExchangePattern::kOneWay, "intake");
  auto token = listener_->bind("/intake", {"POST"}, route);
  Answer a = request(port(), post("/intake", "dossier"));
  EXPECT_EQ(a.status, 202);
  EXPECT_EQ(a.content_type, "application/json");
  ASSERT_EQ(route.submitted().size(), 1u);
  EXPECT_EQ(field(a.body, "id"), route.submitted()[0].id());
  EXPECT_FALSE(route.submitted()[0].id().empty());
  listener_->unbind(token);
}

TEST_F(HttpListenerTest, BusyOrStoppingEngineAnswers503WithRetryAfter) {
  FakeInboundContext route(ExchangePattern::kOneWay, "busy-route");
  auto token = listener_->bind("/in", {"POST"}, route);
  for (Admission admission : {Admission::kBusy, Admission::kStopping}) {
    route.setAdmission(admission);
    Answer a = request(port(), post("/in"));
    EXPECT_EQ(a.status, 503);
    EXPECT_EQ(a.headers["Retry-After"], "1");
    EXPECT_EQ(field(a.body, "route"), "busy-route");
    EXPECT_EQ(field(a.body, "code"), std::string(errorCodeName(ErrorCode::kBusy)));
  }
  EXPECT_TRUE(route.submitted().empty());
  listener_->unbind(token);
}

TEST_F(HttpListenerTest, UnknownPathIs404AndWrongMethodIs405WithAllow) {
  FakeInboundContext route(ExchangePattern::kRequestReply, "r");
  auto token = listener_->bind("/only", {"POST", "PUT"}, route);

  Answer missing = request(port(), post("/other"));
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.content_type, "application/json");
  EXPECT_EQ(field(missing.body, "code"), "not-found");
  EXPECT_NE(field(missing.body, "error"), "<absent>");

  Call get;
  get.method = "GET";
  get.uri = "/only";
  Answer wrong = request(port(), get);
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.headers["Allow"], "POST, PUT");
  EXPECT_EQ(field(wrong.body, "code"), "method-not-allowed");
  EXPECT_EQ(field(wrong.body, "route"), "r");
  EXPECT_TRUE(route.submitted().empty());
  listener_->unbind(token);
}

TEST_F(HttpListenerTest, BodyOverMaxBodyIs413ForLengthAndChunkedBodies) {
  FakeInboundContext route;
  auto token = listener_->bind("/up", {"POST"}, route);

  // Exactly max-body passes.
  Answer fits = request(port(), post("/up", std::string(1024, 'a')));
  EXPECT_EQ(fits.status, 200);
  EXPECT_EQ(fits.body.size(), 1024u);

  Answer big = request(port(), post("/up", std::string(1025, 'b')));
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(field(big.body, "code"), "too-large");

  Call chunked = post("/up", std::string(5000, 'c'));
  chunked.chunked = true;
  Answer big_chunked = request(port(), chunked);
  EXPECT_EQ(big_chunked.status, 413);

  Call small_chunked = post("/up", "tiny");
  small_chunked.chunked = true;
  Answer ok = request(port(), small_chunked);
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "tiny");

  ASSERT_EQ(route.submitted().size(), 2u);  // the 413s never reached the route
  listener_->unbind(token);
}

TEST_F(HttpListenerTest, KeepAliveConnectionSurvivesErrorsWithBodies) {
  FakeInboundContext route;
  auto token = listener_->bind("/k", {"POST"}, route);
  Poco::Net::HTTPClientSession session("127.0.0.1", port());
  session.setTimeout(Poco::Timespan(10, 0));
  EXPECT_EQ(roundTrip(session, post("/nowhere", "body to drop")).status, 404);
  EXPECT_EQ(roundTrip(session, post("/k", std::string(2000, 'x'))).status, 413);
  Answer a = roundTrip(session, post("/k", "after"));
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body, "after");
  Answer b = roundTrip(session, post("/k", "again"));
  EXPECT_EQ(b.body, "again");
  listener_->unbind(token);
}

// One TCP connection carries many requests: the listener keeps it alive (a client that
// silently reconnects would hide a listener that closes after every answer).
TEST_F(HttpListenerTest, OneTcpConnectionServesManyRequests) {
  FakeInboundContext route;
  auto token = listener_->bind("/ka", {"POST"}, route);
  Poco::Net::StreamSocket socket(Poco::Net::SocketAddress("127.0.0.1", port()));
  socket.setReceiveTimeout(Poco::Timespan(10, 0));
  std::string pending;
  auto readAnswer = [&]() -> std::string {
    char buf[4096];
    std::size_t end;
    while ((end = pending.find("\r\n\r\n")) == std::string::npos) {
      int n = socket.receiveBytes(buf, sizeof buf);
      if (n <= 0) return "closed";
      pending.append(buf, static_cast<std::size_t>(n));
    }
    std::string head = pending.substr(0, end + 4);
    std::size_t at = Poco::toLower(head).find("content-length: ");
    std::size_t length = at == std::string::npos ? 0 : std::stoul(head.substr(at + 16));
    while (pending.size() < end + 4 + length) {
      int n = socket.receiveBytes(buf, sizeof buf);
      if (n <= 0) return "closed";
      pending.append(buf, static_cast<std::size_t>(n));
    }
    std::string body = pending.substr(end + 4, length);
    pending.erase(0, end + 4 + length);
    return head.substr(0, 12) + " " + body;
  };
  for (int i = 0; i < 5; ++i) {
    std::string body = "request-" + std::to_string(i);
    std::string req =
        "POST /ka HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\n\r\n" + body;
    socket.sendBytes(req.data(), static_cast<int>(req.size()));
    EXPECT_EQ(readAnswer(), "HTTP/1.1 200 " + body) << "request " << i;
  }
  // Two requests written at once (pipelined) are both answered, in order.
  std::string two =
      "POST /ka HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nA"
      "POST /ka HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nB";
  socket.sendBytes(two.data(), static_cast<int>(two.size()));
  EXPECT_EQ(readAnswer(), "HTTP/1.1 200 A");
  EXPECT_EQ(readAnswer(), "HTTP/1.1 200 B");
  EXPECT_EQ(route.submitted().size(), 7u);
  listener_->unbind(token);
}

TEST_F(HttpListenerTest, FailedOutcomesMapToStatuses) {
  std::mutex mutex;  // before the route: its threads use these
  Outcome next;
  FakeInboundContext route(ExchangePattern::kRequestReply, "mapped");
  route.setHandler([&](const Message&) {
    std::lock_guard lock(mutex);
    return next;
  });
  auto token = listener_->bind("/m", {"POST"}, route);
  auto answerFor = [&](Outcome o) {
    {
      std::lock_guard lock(mutex);
      next = std::move(o);
    }
    return request(port(), post("/m"));
  };

  // The peer could not be reached / did not answer in time.
  Answer a = answerFor(failed(ErrorCode::kTransient, "connection refused",
                              Delivery::retry(Delivery::Failure::kConnect, "refused")));
  EXPECT_EQ(a.status, 502);
  EXPECT_EQ(field(a.body, "route"), "mapped");
  EXPECT_EQ(field(a.body, "error"), "connection refused");
  EXPECT_EQ(field(a.body, "code"), std::string(errorCodeName(ErrorCode::kTransient)));

  a = answerFor(failed(ErrorCode::kTimeout, "too slow",
                       Delivery::retry(Delivery::Failure::kTimeout, "read timed out")));
  EXPECT_EQ(a.status, 504);

  // The peer answered 404: its answer is passed through.
  Message reply;
  reply.setBody("no such dossier");
  reply.setContentType("text/plain");
  reply.setHeader("http.status", "404");
  Outcome dead =
      failed(ErrorCode::kPermanent, "HTTP 404", Delivery::rejected("HTTP 404 Not Found", reply));
  dead.status = Outcome::Status::kDeadLettered;
  a = answerFor(dead);
  EXPECT_EQ(a.status, 404);
  EXPECT_EQ(a.body, "no such dossier");
  EXPECT_EQ(a.content_type, "text/plain");

  // No delivery: by error code.
  const std::pair<ErrorCode, int> by_code[] = {
      {ErrorCode::kInvalidMessage, 400}, {ErrorCode::kUnauthorized, 401},
      {ErrorCode::kPermanent, 422},      {ErrorCode::kTimeout, 504},
      {ErrorCode::kTransient, 502},      {ErrorCode::kBusy, 503},
      {ErrorCode::kInternal, 500},
  };
  for (const auto& [code, status] : by_code) {
    a = answerFor(failed(code, "step said no"));
    EXPECT_EQ(a.status, status) << errorCodeName(code);
    EXPECT_EQ(field(a.body, "code"), std::string(errorCodeName(code)));
  }

  // The daemon stopped before delivering: come back later.
  Outcome abandoned;
  abandoned.status = Outcome::Status::kAbandoned;
  a = answerFor(abandoned);
  EXPECT_EQ(a.status, 503);
  EXPECT_EQ(a.headers["Retry-After"], "1");

  // A filter that stopped the route answers with the message as it is.
  Outcome stopped;
  stopped.status = Outcome::Status::kStopped;
  stopped.message.setBody("filtered");
  a = answerFor(stopped);
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body, "filtered");
  listener_->unbind(token);
}

TEST_F(HttpListenerTest, NoOutcomeWithinTheRouteTimeoutIs504) {
  Latch release;  // before the route: its thread waits on it
  FakeInboundContext route(ExchangePattern::kRequestReply, "slow-route");
  route.setTimeout(std::chrono::milliseconds(100));
  route.setHandler([&](const Message& m) {
    release.wait();
    Outcome o;
    o.message = m;
    return o;
  });
  auto token = listener_->bind("/slow", {"POST"}, route);
  Answer a = request(port(), post("/slow"));
  release.open();  // the late outcome lands in a slot nobody waits for
  EXPECT_EQ(a.status, 504);
  EXPECT_EQ(field(a.body, "route"), "slow-route");
  EXPECT_EQ(field(a.body, "code"), std::string(errorCodeName(ErrorCode::kTimeout)));
  listener_->unbind(token);
}

TEST_F(HttpListenerTest, LongestPrefixWins) {
  FakeInboundContext outer(ExchangePattern::kOneWay, "outer");
  FakeInboundContext inner(ExchangePattern::kOneWay, "inner");
  FakeInboundContext exact(ExchangePattern::kOneWay, "exact");
  auto t1 = listener_->bind("/api/*", {"POST"}, outer);
  auto t2 = listener_->bind("/api/v2/*", {"POST"}, inner);
  auto t3 = listener_->bind("/api/v2/ping", {"POST"}, exact);

  EXPECT_EQ(request(port(), post("/api/v2/x/y")).status, 202);
  EXPECT_EQ(request(port(), post("/api/v2")).status, 202);
  EXPECT_EQ(request(port(), post("/api/v1/x")).status, 202);
  EXPECT_EQ(request(port(), post("/api")).status, 202);
  EXPECT_EQ(request(port(), post("/api/v2/ping?x=1")).status, 202);
  EXPECT_EQ(request(port(), post("/apix")).status, 404);
  EXPECT_EQ(inner.submitted().size(), 2u);
  EXPECT_EQ(outer.submitted().size(), 2u);
  EXPECT_EQ(exact.submitted().size(), 1u);
  listener_->unbind(t3);
  listener_->unbind(t2);
  listener_->unbind(t1);
}

TEST_F(HttpListenerTest, RebindReplacesThePathAndAStaleUnbindDoesNothing) {
  FakeInboundContext old_route(ExchangePattern::kOneWay, "v1");
  FakeInboundContext new_route(ExchangePattern::kOneWay, "v2");
  auto old_token = listener_->bind("/r", {"POST"}, old_route);
  EXPECT_EQ(request(port(), post("/r")).status, 202);

  // A reload: the new route binds first, then the old one unbinds.
  auto new_token = listener_->bind("/r", {"POST"}, new_route);
  EXPECT_EQ(request(port(), post("/r")).status, 202);
  listener_->unbind(old_token);
  EXPECT_EQ(request(port(), post("/r")).status, 202);
  EXPECT_EQ(old_route.submitted().size(), 1u);
  EXPECT_EQ(new_route.submitted().size(), 2u);

  listener_->unbind(new_token);
  EXPECT_EQ(request(port(), post("/r")).status, 404);
  listener_->unbind(new_token);  // twice: ignored
}

// A reload binds the new route over the old one; if the reload is then refused, unbinding
// the new route gives the path back to the old one instead of leaving it unbound.
TEST_F(HttpListenerTest, UnbindingAReplacementRestoresThePreviousBinding) {
  FakeInboundContext old_route(ExchangePattern::kRequestReply, "old");
  FakeInboundContext new_route(ExchangePattern::kRequestReply, "new");
  auto old_token = listener_->bind("/r", {"POST"}, old_route);
  auto new_token = listener_->bind("/r", {"POST"}, new_route);
  EXPECT_EQ(request(port(), post("/r")).status, 200);
  EXPECT_EQ(new_route.submitted().size(), 1u);
  listener_->unbind(new_token);  // the refused reload rolls back
  EXPECT_EQ(request(port(), post("/r")).status, 200);
  EXPECT_EQ(old_route.submitted().size(), 1u);
  listener_->unbind(old_token);
  EXPECT_EQ(request(port(), post("/r")).status, 404);
}

TEST_F(HttpListenerTest, InboundStopUnbindsAndPortIsZeroAfterStop) {
  FakeInboundContext route(ExchangePattern::kOneWay, "r");
  HttpInboundSettings settings;
  settings.listener = listener_;
  settings.path = "/life";
  HttpInbound inbound(settings);
  EXPECT_EQ(inbound.describe(), "http POST /life on listener public");
  EXPECT_EQ(inbound.exclusiveKey(), "http public /life");
  ASSERT_TRUE(inbound.start(route).ok());
  EXPECT_EQ(request(port(), post("/life")).status, 202);
  inbound.stop();
  EXPECT_EQ(request(port(), post("/life")).status, 404);
  listener_->stop();
  EXPECT_EQ(listener_->port(), 0);
}

TEST_F(HttpListenerTest, HeadRequestGetsHeadersOnlyAndTheConnectionCarriesOn) {
  FakeInboundContext route;
  route.setHandler([](const Message&) {
    Outcome o;
    o.message.setBody("some body");
    return o;
  });
  auto token = listener_->bind("/h", {"HEAD", "POST"}, route);
  Poco::Net::HTTPClientSession session("127.0.0.1", port());
  session.setTimeout(Poco::Timespan(3, 0));
  Call head;
  head.method = "HEAD";
  head.uri = "/h";
  Answer a = roundTrip(session, head);
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body, "");
  Answer b = roundTrip(session, post("/h", "x"));
  EXPECT_EQ(b.status, 200);
  EXPECT_EQ(b.body, "some body");
  listener_->unbind(token);
}

TEST_F(HttpListenerTest, ConcurrentRequestRepliesEachGetTheirOwnAnswer) {
  FakeInboundContext route(ExchangePattern::kRequestReply, "many");
  route.setHandler([](const Message& m) {
    Outcome o;
    o.message.setBody("re:" + m.body());
    return o;
  });
  auto token = listener_->bind("/many", {"POST"}, route);
  std::atomic<int> wrong{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 6; ++c) {
    clients.emplace_back([&, c] {
      try {
        Poco::Net::HTTPClientSession session("127.0.0.1", port());
        session.setTimeout(Poco::Timespan(10, 0));
        for (int i = 0; i < 10; ++i) {
          const std::string body = std::to_string(c) + "-" + std::to_string(i);
          Answer a = roundTrip(session, post("/many", body));
          if (a.status != 200 || a.body != "re:" + body) ++wrong;
        }
      } catch (const std::exception&) {
        ++wrong;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(route.submitted().size(), 60u);
  listener_->unbind(token);
}

TEST_F(HttpListenerTest, RequestsDuringReloadsAreServedAndNeverReachAnUnboundRoute) {
  std::vector<std::unique_ptr<FakeInboundContext>> routes;
  routes.push_back(std::make_unique<FakeInboundContext>(ExchangePattern::kOneWay, "gen0"));
  auto token = listener_->bind("/reload", {"POST"}, *routes.back());

  std::atomic<bool> stop{false};
  std::atomic<int> served{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&] {
      try {
        Poco::Net::HTTPClientSession session("127.0.0.1", port());
        session.setTimeout(Poco::Timespan(10, 0));
        while (!stop.load()) {
          if (roundTrip(session, post("/reload")).status == 202) {
            ++served;
          } else {
            ++refused;
          }
        }
      } catch (const std::exception&) {
        ++refused;
      }
    });
  }

  std::vector<std::size_t> at_unbind;
  for (int gen = 1; gen <= 20; ++gen) {
    ASSERT_TRUE(routes.back()->waitForSubmitted(1, std::chrono::seconds(10)));
    routes.push_back(std::make_unique<FakeInboundContext>(ExchangePattern::kOneWay,
                                                          "gen" + std::to_string(gen)));
    auto next = listener_->bind("/reload", {"POST"}, *routes.back());
    listener_->unbind(token);  // the old route: nothing reaches it once this returns
    at_unbind.push_back(routes[routes.size() - 2]->submitted().size());
    token = next;
  }
  ASSERT_TRUE(routes.back()->waitForSubmitted(1, std::chrono::seconds(10)));
  stop = true;
  for (auto& t : clients) t.join();

  EXPECT_EQ(refused.load(), 0);
  EXPECT_GT(served.load(), 20);
  for (std::size_t gen = 0; gen < at_unbind.size(); ++gen) {
    EXPECT_EQ(routes[gen]->submitted().size(), at_unbind[gen]) << "generation " << gen;
  }
  listener_->unbind(token);
}

// A client that stops half-way through its headers, or stays idle past idle-timeout, is
// disconnected; one that keeps talking is not.
TEST(HttpListener, HeaderAndIdleTimeoutsCloseTheConnection) {
  HttpListenerSettings s;
  s.port = 0;
  s.header_timeout = std::chrono::milliseconds(300);
  s.idle_timeout = std::chrono::milliseconds(300);
  auto created = HttpListener::create("timeouts", s);
  ASSERT_TRUE(created.ok());
  auto listener = std::move(created).value();
  ASSERT_TRUE(listener->start().ok());
  FakeInboundContext route;
  auto token = listener->bind("/t", {"POST"}, route);
  auto closedWithin = [](Poco::Net::StreamSocket& socket, std::chrono::milliseconds limit) {
    socket.setReceiveTimeout(Poco::Timespan(5, 0));
    auto start = std::chrono::steady_clock::now();
    char buf[4096];
    int n = 0;
    try {
      while ((n = socket.receiveBytes(buf, sizeof buf)) > 0) {
      }
    } catch (const Poco::Exception&) {
      return false;  // still open after 5 s
    }
    return std::chrono::steady_clock::now() - start < limit;
  };

  Poco::Net::StreamSocket partial(Poco::Net::SocketAddress("127.0.0.1", listener->port()));
  std::string head = "POST /t HTTP/1.1\r\nHost: x\r\n";  // and never the blank line
  partial.sendBytes(head.data(), static_cast<int>(head.size()));
  EXPECT_TRUE(closedWithin(partial, std::chrono::seconds(3)));

  Poco::Net::StreamSocket idle(Poco::Net::SocketAddress("127.0.0.1", listener->port()));
  std::string req = "POST /t HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi";
  idle.sendBytes(req.data(), static_cast<int>(req.size()));
  EXPECT_TRUE(closedWithin(idle, std::chrono::seconds(3)));  // answered, then dropped when idle
  EXPECT_EQ(route.submitted().size(), 1u);
  listener->unbind(token);
  listener->stop();
}

TEST(HttpListener, SecondListenerOnTheSamePortFails) {
  HttpListenerSettings s;
  s.port = 0;
  auto first = HttpListener::create("a", s).value();
  ASSERT_TRUE(first->start().ok());
  s.port = first->port();
  auto second = HttpListener::create("b", s).value();
  Result<void> r = second->start();
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("cannot listen"), std::string::npos);
}

}  // namespace
}  // namespace lienthong::adapters::http
