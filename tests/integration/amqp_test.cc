// The amqp endpoints against a real RabbitMQ (AMQP 1.0 plugin), started for these tests by
// the CTest fixture (tests/fixtures/rabbitmq.sh): the daemon in process, on port 0.

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <future>
#include <set>

#include "adapters/http/http_listener.h"
#include "core/daemon.h"
#include "fakes/http_peer.h"
#include "integration/fixtures.h"
#include "integration/test_support.h"

namespace lienthong {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::httpCall;
using testing::HttpPeer;
using testing::TempHome;

std::string brokerDir() { return testing::fixtureDir("rabbitmq"); }

std::string brokerUrl() { return "amqp://127.0.0.1:" + testing::fixturePort(brokerDir()); }

long queueDepth(const std::string& queue) { return testing::queueDepth(brokerDir(), queue); }

class AmqpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (brokerDir().empty()) GTEST_SKIP() << "no broker: run through ctest (fixture rabbitmq)";
    static int n = 0;
    queue_ = "lienthong-test-" + std::to_string(::getpid()) + "-" + std::to_string(++n);
  }
  void TearDown() override {
    if (daemon_) daemon_->stop();
  }

  void start(const std::string& routes, const std::string& extra = "") {
    home_.write(
        "config.yaml",
        std::string("log: { level: ") +
            (std::getenv("LIENTHONG_TEST_LOG") ? std::getenv("LIENTHONG_TEST_LOG") : "warn") +
            " }\n"
            "engine: { workers: 4, queue: 256, drain-timeout: 5s }\n"
            "listeners:\n  public: { http: { port: 0 } }\n"
            "connections:\n"
            "  backend: { http: { url: \"" +
            peer_.url() +
            "\" } }\n"
            "  broker:\n"
            "    amqp:\n"
            "      url: " +
            (url_.empty() ? brokerUrl() : url_) +
            "\n"
            "      reconnect: { initial: 50ms, max: 500ms }\n"
            "      user: guest\n"
            "      password-env: LIENTHONG_TEST_AMQP_PASSWORD\n"
            "      sasl: { mechanisms: [PLAIN], allow-insecure: true }\n" +
            extra + "routes: [ routes ]\n");
    ::setenv("LIENTHONG_TEST_AMQP_PASSWORD", "guest", 1);
    home_.write("routes/r.yaml", routes);
    port_ = testing::startDaemon(home_.path("config.yaml"), daemon_);
    ASSERT_NE(port_, 0);
  }

  // Posts until the route takes it: 503 until the broker connection is up.
  void postWhenUp(const std::string& path, const std::string& body,
                  const std::map<std::string, std::string>& headers) {
    int status = 0;
    ASSERT_TRUE(eventually(
        [&] { return (status = httpCall(port_, "POST", path, body, headers).status) == 202; }, 20s))
        << status;
  }

  TempHome home_;
  HttpPeer peer_;
  std::unique_ptr<Daemon> daemon_;
  std::uint16_t port_ = 0;
  std::string queue_;
  std::string url_;  // "" = the fixture's broker
};

// HTTP -> queue -> HTTP: every message arrives, its headers travel as application
// properties, the ordering key as the group id.
TEST_F(AmqpTest, MessagesGoThroughAQueueWithTheirHeadersAndGroup) {
  start(
      "routes:\n"
      "  - id: in\n"
      "    pattern: one-way\n"
      "    from: { http: { listener: public, path: /in } }\n"
      "    delivery: { ordering: { key: \"${MaHoSo}\" } }\n"
      "    to: { amqp: { connection: broker, address: /queue/" +
      queue_ +
      " } }\n"
      "  - id: out\n"
      "    pattern: one-way\n"
      "    from: { amqp: { connection: broker, address: /queue/" +
      queue_ +
      ", credit: 10 } }\n"
      "    to: { http: { connection: backend, path: \"/hs/${amqp.group-id}\",\n"
      "                  forward-headers: [MaHoSo, TrangThai] } }\n");
  constexpr int kCount = 50;
  for (int i = 0; i < kCount; ++i) {
    postWhenUp("/in", "<TrangThai>" + std::to_string(i) + "</TrangThai>",
               {{"MaHoSo", "HS-" + std::to_string(i % 5)},
                {"TrangThai", std::to_string(i)},
                {"Content-Type", "application/xml"}});
  }
  ASSERT_TRUE(peer_.waitForRequests(kCount, 30s)) << peer_.requests().size();
  std::set<std::string> seen;
  for (const auto& r : peer_.requests()) {
    const std::string& dossier = r.headers.at("MaHoSo");
    EXPECT_EQ(r.uri, "/hs/" + dossier);  // the group id came back as amqp.group-id
    EXPECT_EQ(r.body, "<TrangThai>" + r.headers.at("TrangThai") + "</TrangThai>");
    EXPECT_NE(r.headers.at("Content-Type").find("application/xml"), std::string::npos);
    seen.insert(r.headers.at("TrangThai"));
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kCount));
  EXPECT_TRUE(eventually([&] { return queueDepth(queue_) == 0; }));  // all accepted
}

// Too large, or of a type the input does not take: rejected with the reason (the broker
// drops it), never redelivered; the messages after it go through.
TEST_F(AmqpTest, AMessageTheInputCannotTakeIsRejectedNotRedelivered) {
  start(
      "routes:\n"
      "  - id: in\n"
      "    pattern: one-way\n"
      "    from: { http: { listener: public, path: /in } }\n"
      "    to: { amqp: { connection: broker, address: /queue/" +
      queue_ +
      " } }\n"
      "  - id: out\n"
      "    pattern: one-way\n"
      "    from: { amqp: { connection: broker, address: /queue/" +
      queue_ +
      ", max-size: 1KiB, content-types: [application/xml] } }\n"
      "    to: { http: { connection: backend } }\n");
  postWhenUp("/in", std::string(4096, 'x'), {{"Content-Type", "application/xml"}});
  EXPECT_EQ(httpCall(port_, "POST", "/in", "{}", {{"Content-Type", "application/json"}}).status,
            202);
  EXPECT_EQ(httpCall(port_, "POST", "/in", "<ok/>", {{"Content-Type", "application/xml"}}).status,
            202);
  ASSERT_TRUE(peer_.waitForRequests(1, 30s));
  EXPECT_TRUE(eventually([&] { return queueDepth(queue_) == 0; }));
  EXPECT_EQ(peer_.requests().size(), 1u);
  EXPECT_EQ(peer_.requests()[0].body, "<ok/>");
}

// A reload while a message is being delivered: the old input keeps its link until the
// message's outcome is settled, so the broker does not hand it out again.
TEST_F(AmqpTest, AReloadLetsTheMessagesUnderWayFinishBeforeTheOldInputLetsGo) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  peer_.setHandler([released](const HttpPeer::Request& r) {
    if (r.body == "held") released.wait();
    return HttpPeer::Response{200, "ok", "text/plain"};
  });
  const std::string routes =
      "routes:\n"
      "  - id: in\n"
      "    pattern: one-way\n"
      "    from: { http: { listener: public, path: /in } }\n"
      "    to: { amqp: { connection: broker, address: /queue/" +
      queue_ +
      " } }\n"
      "  - id: out\n"
      "    pattern: one-way\n"
      "    from: { amqp: { connection: broker, address: /queue/" +
      queue_ +
      " } }\n"
      "    to: { http: { connection: backend } }\n";
  start(routes);
  postWhenUp("/in", "held", {});
  ASSERT_TRUE(peer_.waitForRequests(1, 20s));  // under way, settled by its outcome
  home_.write("routes/r.yaml", routes + "    description: reloaded\n");
  auto reloaded = std::async(std::launch::async, [&] {
    ConfigErrors errors;
    return daemon_->reload(errors);
  });
  // The reload waits for the held message (the old input's link stays attached).
  EXPECT_EQ(reloaded.wait_for(300ms), std::future_status::timeout);
  release.set_value();
  ASSERT_TRUE(reloaded.get());
  postWhenUp("/in", "after", {});
  ASSERT_TRUE(eventually(
      [&] {
        for (const auto& r : peer_.requests()) {
          if (r.body == "after") return true;
        }
        return false;
      },
      20s));
  int held = 0;
  for (const auto& r : peer_.requests()) held += r.body == "held" ? 1 : 0;
  EXPECT_EQ(held, 1) << "the message under way at the reload was delivered again";
}

// Runs the broker script on a broker of the test's own.
int broker(const std::string& command, const std::string& dir) {
  int status = 0;
  testing::runCommand(testing::fixtureScript("rabbitmq.sh") + " " + command + " " + dir, &status);
  return status;
}

// The broker goes away and comes back. Without a store the HTTP input answers 503 while it
// is away (nothing is acknowledged that only this process would hold), and takes messages
// again once the connection is back, by itself; everything acknowledged arrives.
TEST_F(AmqpTest, WhileTheBrokerIsAwayOneWayInputsAnswer503AndResumeByThemselves) {
  const std::string dir = home_.path("broker").string();
  ASSERT_EQ(broker("start", dir), 0);
  struct Stop {
    std::string dir;
    ~Stop() { broker("stop", dir); }
  } stop{dir};
  url_ = "amqp://127.0.0.1:" + testing::fixturePort(dir);
  const std::string q = "/queue/" + queue_;
  start(
      "routes:\n"
      "  - id: in\n"
      "    pattern: one-way\n"
      "    from: { http: { listener: public, path: /in } }\n"
      "    to: { amqp: { connection: broker, address: " +
      q +
      " } }\n"
      "  - id: out\n"
      "    pattern: one-way\n"
      "    from: { amqp: { connection: broker, address: " +
      q +
      " } }\n"
      "    to: { http: { connection: backend } }\n");
  for (int i = 0; i < 5; ++i) postWhenUp("/in", "before-" + std::to_string(i), {});
  ASSERT_TRUE(peer_.waitForRequests(5, 30s));

  ASSERT_EQ(broker("stop", dir), 0);
  // Until the daemon sees the broker gone, a post may still be taken (202): it must
  // arrive. Once refused (503), it must never arrive.
  std::set<std::string> taken, refused;
  int n = 0;
  ASSERT_TRUE(eventually(
      [&] {
        const std::string body = "during-" + std::to_string(n++);
        const int status = httpCall(port_, "POST", "/in", body).status;
        (status == 202 ? taken : refused).insert(body);
        return status == 503;
      },
      20s));

  ASSERT_EQ(broker("resume", dir), 0);
  postWhenUp("/in", "after-0", {});
  for (int i = 1; i < 5; ++i) {
    EXPECT_EQ(httpCall(port_, "POST", "/in", "after-" + std::to_string(i)).status, 202);
  }
  ASSERT_TRUE(peer_.waitForRequests(10 + taken.size(), 30s)) << peer_.requests().size();
  std::set<std::string> bodies;
  for (const auto& r : peer_.requests()) bodies.insert(r.body);
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(bodies.count("before-" + std::to_string(i)));
    EXPECT_TRUE(bodies.count("after-" + std::to_string(i)));
  }
  for (const auto& b : taken) EXPECT_TRUE(bodies.count(b)) << b << " was acknowledged, then lost";
  for (const auto& b : refused) EXPECT_FALSE(bodies.count(b)) << b << " was refused, yet sent";
  daemon_->stop();  // before its broker goes
  daemon_.reset();
}

// Config errors are reported at their place, all at once, without dialing any broker.
TEST(AmqpConfig, BadSettingsAreReportedAtTheirPlace) {
  TempHome home;
  home.write("config.yaml",
             "listeners:\n  public: { http: { port: 0 } }\n"
             "connections:\n"
             "  broker:\n"
             "    amqp:\n"
             "      url: http://127.0.0.1:5672\n"
             "      sasl: { mechanisms: [KERBEROS] }\n"
             "  good: { amqp: { url: \"amqp://127.0.0.1:1\" } }\n"
             "  web: { http: { url: \"http://127.0.0.1:1\" } }\n"
             "routes: [ routes ]\n");
  home.write("routes/r.yaml",
             "routes:\n"
             "  - id: ask\n"
             "    pattern: request-reply\n"
             "    from: { amqp: { connection: good, address: /queue/q } }\n"
             "  - id: wrong-kind\n"
             "    pattern: one-way\n"
             "    from: { amqp: { connection: web, address: /queue/q } }\n"
             "  - id: bad-settle\n"
             "    pattern: one-way\n"
             "    from: { amqp: { connection: good, address: /queue/q, settle: always } }\n");
  ConfigErrors errors;
  auto daemon = Daemon::create(home.path("config.yaml").string(), errors);
  EXPECT_FALSE(daemon);
  const std::string text = errors.str();
  EXPECT_NE(text.find("config.yaml:7:27: unknown SASL mechanism 'KERBEROS'"), std::string::npos)
      << text;
  EXPECT_NE(
      text.find("config.yaml:6:12: 'http://127.0.0.1:5672' is not an amqp:// or amqps:// URL"),
      std::string::npos)
      << text;
  // The connection errors stop the load before the routes; fix them and look again.
  home.write("config.yaml",
             "listeners:\n  public: { http: { port: 0 } }\n"
             "connections:\n"
             "  good: { amqp: { url: \"amqp://127.0.0.1:1\" } }\n"
             "  web: { http: { url: \"http://127.0.0.1:1\" } }\n"
             "routes: [ routes ]\n");
  errors = ConfigErrors();
  daemon = Daemon::create(home.path("config.yaml").string(), errors);
  EXPECT_FALSE(daemon);
  const std::string routes = errors.str();
  EXPECT_NE(routes.find("r.yaml:4:19: an amqp input feeds one-way routes"), std::string::npos)
      << routes;
  EXPECT_NE(routes.find("r.yaml:7:33: connection 'web' is a http connection, not amqp"),
            std::string::npos)
      << routes;
  EXPECT_NE(routes.find("r.yaml:10:66: 'settle' must be one of: journalled, delivered"),
            std::string::npos)
      << routes;
}

}  // namespace
}  // namespace lienthong
