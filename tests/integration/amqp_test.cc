// The amqp endpoints against a real RabbitMQ (AMQP 1.0 plugin), started for these tests by
// the CTest fixture (tests/fixtures/rabbitmq.sh): the daemon in process, on port 0.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <future>
#include <set>

#include <proton/codec/map.hpp>
#include <proton/connection.hpp>
#include <proton/connection_options.hpp>
#include <proton/container.hpp>
#include <proton/message.hpp>
#include <proton/messaging_handler.hpp>
#include <proton/sender.hpp>
#include <proton/sender_options.hpp>
#include <proton/target_options.hpp>
#include <proton/tracker.hpp>

#include <proton/listen_handler.hpp>
#include <proton/listener.hpp>

#include "adapters/amqp/amqp_connection.h"
#include "adapters/http/http_listener.h"
#include "core/daemon.h"
#include "core/encoding.h"
#include "fakes/http_peer.h"
#include "integration/daemon_process.h"
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
    writeHome(routes, extra);
    port_ = testing::startDaemon(home_.path("config.yaml"), daemon_);
    ASSERT_NE(port_, 0);
  }

  // The test's, or `warn`: the in-process daemon's log is the test's output.
  static std::string logLevel() {
    return std::getenv("LIENTHONG_TEST_LOG") ? std::getenv("LIENTHONG_TEST_LOG") : "warn";
  }

  // The daemon's config (its log level, the backend, the broker connection) and routes.
  void writeHome(const std::string& routes, const std::string& extra = "",
                 const std::string& log_level = logLevel()) {
    home_.write("config.yaml", "log: { level: " + log_level +
                                   " }\n"
                                   "engine: { workers: 4, queue: 256, drain-timeout: 5s }\n"
                                   "listeners:\n  public: { http: { port: 0 } }\n"
                                   "connections:\n"
                                   "  backend: { http: { url: \"" +
                                   peer_.url() +
                                   "\" } }\n"
                                   "  broker:\n"
                                   "    amqp:\n"
                                   "      reconnect: { initial: 50ms, max: 500ms }\n" +
                                   (!connection_.empty()
                                        ? connection_
                                        : "      url: " + (url_.empty() ? brokerUrl() : url_) +
                                              "\n"
                                              "      user: guest\n"
                                              "      password-env: LIENTHONG_TEST_AMQP_PASSWORD\n"
                                              "      sasl: { mechanisms: [PLAIN], allow-insecure: "
                                              "true }\n") +
                                   extra + "routes: [ routes ]\n");
    ::setenv("LIENTHONG_TEST_AMQP_PASSWORD", "guest", 1);
    home_.write("routes/r.yaml", routes);
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
  std::string url_;         // "" = the fixture's broker
  std::string connection_;  // the amqp connection's settings; "" = url_, guest, PLAIN

  // A route pair through the test's queue: HTTP /in -> queue -> the backend. `in_more`:
  // lines of route `in` before its `to`; `source_more`: settings of the amqp input after
  // its address (", credit: 10"); `out_rest`: route `out`'s lines after its `from`.
  std::string throughQueue(const std::string& in_more = "", const std::string& source_more = "",
                           const std::string& out_rest =
                               "    to: { http: { connection: "
                               "backend } }\n") const {
    return "routes:\n"
           "  - id: in\n"
           "    pattern: one-way\n"
           "    from: { http: { listener: public, path: /in } }\n" +
           in_more + "    to: { amqp: { connection: broker, address: /queue/" + queue_ +
           " } }\n"
           "  - id: out\n"
           "    pattern: one-way\n"
           "    from: { amqp: { connection: broker, address: /queue/" +
           queue_ + source_more + " } }\n" + out_rest;
  }
  // An amqps:// connection to the fixture's broker, SASL EXTERNAL, with the broker's CA
  // `ca` and the client certificate `who` (client, unknown) of the fixture's PKI.
  static std::string tlsConnection(const std::string& ca, const std::string& who) {
    const std::string tls = brokerDir() + "/tls/";
    return "      url: amqps://localhost:" + testing::fixturePort(brokerDir(), "tls-port") +
           "\n"
           "      sasl: { mechanisms: [EXTERNAL] }\n"
           "      tls: { ca: " +
           tls + ca + ", cert: " + tls + who + ".pem, key: " + tls + who + "-key.pem }\n";
  }
  // The daemon, as a process, cannot connect and says why (`reason`, in its log); its
  // input takes nothing meanwhile (503) and no link ever attached (no queue declared).
  void expectCannotConnect(const std::string& reason) {
    writeHome(throughQueue(), "", "info");  // a process's log is read for its ready line
    testing::DaemonProcess daemon(home_.path("config.yaml"), home_.path("daemon.log"));
    const std::uint16_t port = daemon.waitReady();
    ASSERT_NE(port, 0) << daemon.output();
    ASSERT_TRUE(daemon.waitForOutput("amqp: connection broker cannot connect (" + reason))
        << daemon.output();
    EXPECT_EQ(httpCall(port, "POST", "/in", "refused").status, 503);
    EXPECT_EQ(queueDepth(queue_), testing::kNoSuchQueue);
    EXPECT_EQ(daemon.output().find("connection broker open"), std::string::npos);
  }
  bool delivered(const std::string& body) const {
    for (const auto& r : peer_.requests()) {
      if (r.body == body) return true;
    }
    return false;
  }
};

// HTTP -> queue -> HTTP: every message arrives, its headers travel as application
// properties, the ordering key as the group id.
TEST_F(AmqpTest, MessagesGoThroughAQueueWithTheirHeadersAndGroup) {
  start(throughQueue("    delivery: { ordering: { key: \"${MaHoSo}\" } }\n", ", credit: 10",
                     "    to: { http: { connection: backend, path: \"/hs/${amqp.group-id}\",\n"
                     "                  forward-headers: [MaHoSo, TrangThai] } }\n"));
  constexpr int kCount = 50;
  // The first one's caller gives its trace (W3C traceparent): it goes on through the queue.
  const std::string trace = "4bf92f3577b34da6a3ce929d0e0e4736";
  for (int i = 0; i < kCount; ++i) {
    std::map<std::string, std::string> headers{{"MaHoSo", "HS-" + std::to_string(i % 5)},
                                               {"TrangThai", std::to_string(i)},
                                               {"Content-Type", "application/xml"}};
    if (i == 0) headers["traceparent"] = "00-" + trace + "-00f067aa0ba902b7-01";
    postWhenUp("/in", "<TrangThai>" + std::to_string(i) + "</TrangThai>", headers);
  }
  ASSERT_TRUE(peer_.waitForRequests(kCount, 30s)) << peer_.requests().size();
  std::set<std::string> seen;
  for (const auto& r : peer_.requests()) {
    // Every message reaches the peer with a trace; the first one with its caller's.
    const std::string hop = r.headers.count("traceparent") ? r.headers.at("traceparent") : "";
    EXPECT_FALSE(traceIdOf(hop).empty()) << hop;
    EXPECT_EQ(traceIdOf(hop) == trace, r.headers.at("TrangThai") == "0") << hop;
    const std::string& dossier = r.headers.at("MaHoSo");
    EXPECT_EQ(r.uri, "/hs/" + dossier);  // the group id came back as amqp.group-id
    EXPECT_EQ(r.body, "<TrangThai>" + r.headers.at("TrangThai") + "</TrangThai>");
    EXPECT_NE(r.headers.at("Content-Type").find("application/xml"), std::string::npos);
    seen.insert(r.headers.at("TrangThai"));
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kCount));
  EXPECT_TRUE(eventually([&] { return queueDepth(queue_) == 0; }));  // all accepted
}

// Sends one message to `address` as another client of the broker would (not through
// lienthong); whether the broker accepted it.
bool sendAsAnotherClient(const std::string& address, const proton::message& message) {
  struct Sender : proton::messaging_handler {
    std::string address;
    proton::message message;
    bool sent = false, accepted = false;
    void on_container_start(proton::container& c) override {
      proton::connection_options o;
      o.user("guest");
      o.password("guest");
      o.sasl_allowed_mechs("PLAIN");
      o.sasl_allow_insecure_mechs(true);
      c.connect(brokerUrl(), o);
    }
    void on_connection_open(proton::connection& c) override {
      c.open_sender(address,
                    proton::sender_options().target(proton::target_options().durability_mode(
                        proton::terminus::CONFIGURATION)));  // as lienthong's
    }
    void on_sendable(proton::sender& s) override {
      if (!std::exchange(sent, true)) s.send(message);
    }
    void on_tracker_settle(proton::tracker& t) override {
      accepted = t.state() == proton::transfer::ACCEPTED;
      t.connection().close();
    }
  } sender;
  sender.address = address;
  sender.message = message;
  proton::container container(sender);
  auto ran = std::async(std::launch::async, [&] { container.run(); });
  if (ran.wait_for(30s) != std::future_status::ready) {
    container.stop();  // no answer: not accepted
    ran.wait();
    return false;
  }
  return sender.accepted;
}

// Too large, or of a type the input does not take: rejected with the reason (the broker
// drops it), never redelivered; the messages after it go through.
TEST_F(AmqpTest, AMessageTheInputCannotTakeIsRejectedNotRedelivered) {
  start(throughQueue("", ", max-size: 1KiB, content-types: [application/xml]"));
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

// settle: delivered. A body that is not data (an AMQP map from another client) and an XML
// body that does not parse are rejected with the reason: the broker drops them (this queue
// has no dead-letter exchange) and never hands them out again; what follows is delivered.
TEST_F(AmqpTest, BodiesThatCannotBeReadOrParsedAreRejectedNotRedelivered) {
  start(throughQueue("", ", settle: delivered",
                     "    steps: [ { extract: { Number: /a/b } } ]\n"
                     "    to: { http: { connection: backend, forward-headers: [Number] } }\n"));
  const std::map<std::string, std::string> xml{{"Content-Type", "application/xml"}};
  postWhenUp("/in", "<a><b>1</b></a>", xml);
  ASSERT_TRUE(peer_.waitForRequests(1, 30s));  // both links are attached
  proton::message map_body;
  map_body.body(std::map<std::string, int>{{"MaHoSo", 1}});
  ASSERT_TRUE(sendAsAnotherClient("/queue/" + queue_, map_body));
  ASSERT_EQ(httpCall(port_, "POST", "/in", "<a><b>2</b", xml).status, 202);
  ASSERT_EQ(httpCall(port_, "POST", "/in", "<a><b>3</b></a>", xml).status, 202);
  ASSERT_TRUE(peer_.waitForRequests(2, 30s));
  // Ready plus unacknowledged: a message handed out again and again would stay counted.
  EXPECT_TRUE(eventually([&] { return queueDepth(queue_) == 0; }, 20s)) << queueDepth(queue_);
  ASSERT_EQ(peer_.requests().size(), 2u);
  EXPECT_EQ(peer_.requests()[1].headers.at("Number"), "3");
}

// The broker refuses the input's receiver while the connection stays up (a non-durable
// queue of that name exists; RabbitMQ ends the link's session): the other links of the
// connection go on (each link has a session of its own), the receiver is attached again,
// with backoff and without a reconnect, and once an operator removed that queue it
// attaches (declaring the queue durable) and takes messages.
TEST_F(AmqpTest, AReceiverTheBrokerDetachedIsAttachedAgainWithoutAReconnect) {
  const std::string ctl = testing::fixtureScript("rabbitmq.sh") + " ctl " + brokerDir();
  int status = 0;
  const std::string declared = testing::runCommand(
      ctl + " eval '{new, _} = rabbit_amqqueue:declare(rabbit_misc:r(<<\"/\">>, queue, <<\"" +
          queue_ + "-refused\">>), false, false, [], none, <<\"lienthong-tests\">>), ok.'",
      &status);
  ASSERT_EQ(status, 0) << declared;
  writeHome(throughQueue() +
                "  - id: refused\n"
                "    pattern: one-way\n"
                "    from: { amqp: { connection: broker, address: /queue/" +
                queue_ +
                "-refused } }\n"
                "    to: { http: { connection: backend } }\n",
            "", "info");  // a process's log is read for its ready line
  testing::DaemonProcess daemon(home_.path("config.yaml"), home_.path("daemon.log"));
  const std::uint16_t port = daemon.waitReady();
  ASSERT_NE(port, 0) << daemon.output();
  const std::string refused = queue_ + "-refused";
  ASSERT_TRUE(daemon.waitForOutput("the broker detached the receiver on /queue/" + refused +
                                   " (amqp:precondition-failed: PRECONDITION_FAILED - "
                                   "inequivalent arg 'durable'"))
      << daemon.output();
  // The refusal ended that link's session only: the other route's links carry on.
  int posted = 0;
  ASSERT_TRUE(eventually(
      [&] { return (posted = httpCall(port, "POST", "/in", "beside").status) == 202; }, 20s))
      << posted;
  ASSERT_TRUE(eventually([&] { return delivered("beside"); }, 30s)) << daemon.output();
  testing::runCommand(ctl + " delete_queue " + refused, &status);
  ASSERT_EQ(status, 0);
  // Declared again, durable, by the next attach (nothing else attaches to it).
  ASSERT_TRUE(eventually([&] { return queueDepth(refused) >= 0; }, 30s)) << daemon.output();
  proton::message m;
  m.body(proton::binary(std::string("after")));
  ASSERT_TRUE(sendAsAnotherClient("/queue/" + refused, m));
  EXPECT_TRUE(eventually([&] { return delivered("after"); }, 30s)) << daemon.output();
  EXPECT_EQ(daemon.output().find("connection broker lost"), std::string::npos) << daemon.output();
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
  const std::string routes = throughQueue();
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

// A broker of the test's own (not the fixture's), stopped when the test ends.
struct PrivateBroker {
  explicit PrivateBroker(std::string folder) : dir(std::move(folder)) {
    started = broker("start", dir) == 0;
  }
  ~PrivateBroker() { broker("stop", dir); }
  PrivateBroker(const PrivateBroker&) = delete;
  PrivateBroker& operator=(const PrivateBroker&) = delete;
  std::string dir;
  bool started = false;
};

// The broker goes away and comes back. Without a store the HTTP input answers 503 while it
// is away (nothing is acknowledged that only this process would hold), and takes messages
// again once the connection is back, by itself; everything acknowledged arrives.
TEST_F(AmqpTest, WhileTheBrokerIsAwayOneWayInputsAnswer503AndResumeByThemselves) {
  const std::string dir = home_.path("broker").string();
  PrivateBroker own(dir);
  ASSERT_TRUE(own.started);
  url_ = "amqp://127.0.0.1:" + testing::fixturePort(dir);
  start(throughQueue());
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

// Over TLS with a client certificate, logged in by SASL EXTERNAL as the certificate's
// name: the broker's certificate is checked against the CA given and its host name.
TEST_F(AmqpTest, TlsWithAClientCertificateLogsInAsItsNameBySaslExternal) {
  connection_ = tlsConnection("ca.pem", "client");
  start(throughQueue());
  postWhenUp("/in", "over-tls", {});
  ASSERT_TRUE(peer_.waitForRequests(1, 30s));
  EXPECT_EQ(peer_.requests()[0].body, "over-tls");
}

// A certificate of the same CA whose name is no broker user does not log in: the login is
// the certificate's name, nothing else. The input takes nothing (503).
TEST_F(AmqpTest, AClientCertificateWhoseNameIsNoUserDoesNotLogIn) {
  connection_ = tlsConnection("ca.pem", "unknown");
  expectCannotConnect("transport: amqp:unauthorized-access: Authentication failed [mech=EXTERNAL]");
}

// A broker whose certificate the configured CA did not sign is not trusted: the connection
// never comes up, so the input takes nothing (503) and nothing reaches the queue.
TEST_F(AmqpTest, ABrokerCertificateOfAnotherCaIsNotTrusted) {
  connection_ = tlsConnection("stranger-ca.pem", "client");
  expectCannotConnect("transport: amqp:connection:framing-error: SSL Failure: ");
}

// Failover: the URLs are tried in order; an unreachable first one is passed over, and when
// the broker in use goes away the connection moves to the next one by itself.
TEST_F(AmqpTest, TheConnectionFailsOverToTheNextUrl) {
  const std::string dir = home_.path("broker").string();
  PrivateBroker own(dir);
  ASSERT_TRUE(own.started);
  const std::string closed = "amqp://127.0.0.1:1";  // nothing listens there (a privileged port)
  connection_ = "      urls: [ \"" + closed +
                "\", \"amqp://127.0.0.1:" + testing::fixturePort(dir) + "\", \"" + brokerUrl() +
                "\" ]\n"
                "      user: guest\n"
                "      password-env: LIENTHONG_TEST_AMQP_PASSWORD\n"
                "      sasl: { mechanisms: [PLAIN], allow-insecure: true }\n";
  start(throughQueue());
  postWhenUp("/in", "first", {});
  ASSERT_TRUE(peer_.waitForRequests(1, 30s));
  EXPECT_EQ(queueDepth(queue_), testing::kNoSuchQueue)
      << "the fixture's broker was used before the second URL";
  ASSERT_EQ(broker("stop", dir), 0);
  // (A message the second broker acknowledged as it went stays in its queue, for when it
  // is back: these two brokers share nothing.) The links attach on the third URL's broker:
  ASSERT_TRUE(eventually([&] { return queueDepth(queue_) >= 0; }, 30s));
  postWhenUp("/in", "after-0", {});
  for (int i = 1; i < 5; ++i) {
    ASSERT_EQ(httpCall(port_, "POST", "/in", "after-" + std::to_string(i)).status, 202);
  }
  for (int i = 0; i < 5; ++i) {
    const std::string body = "after-" + std::to_string(i);
    EXPECT_TRUE(eventually([&] { return delivered(body); }, 30s)) << body << " was lost";
  }
  daemon_->stop();  // before its broker goes
  daemon_.reset();
}

// An AMQP peer (Qpid Proton) that closes the first `closes` connections it accepts with an
// error, right after opening them, and keeps the ones after that.
class ClosingPeer : public proton::messaging_handler, public proton::listen_handler {
 public:
  explicit ClosingPeer(int closes) : closes_(closes) {
    thread_ = std::thread([this] { container_.run(); });
  }
  ~ClosingPeer() override {
    container_.stop();
    thread_.join();
  }
  ClosingPeer(const ClosingPeer&) = delete;
  ClosingPeer& operator=(const ClosingPeer&) = delete;
  int port() { return port_.get_future().get(); }
  int opened() const { return opened_.load(); }

 private:
  void on_container_start(proton::container& c) override { c.listen("127.0.0.1:0", *this); }
  void on_open(proton::listener& l) override { port_.set_value(l.port()); }
  proton::connection_options on_accept(proton::listener&) override {
    return proton::connection_options().handler(*this);
  }
  void on_connection_open(proton::connection& c) override {
    c.open();
    if (++opened_ <= closes_) c.close(proton::error_condition("amqp:internal-error", "scripted"));
  }

  const int closes_;
  std::atomic<int> opened_{0};
  std::promise<int> port_;
  proton::container container_{*this};
  std::thread thread_;
};

// A connection the peer closed (an AMQP close with an error, not a lost transport, which
// Qpid Proton does not reconnect by itself) is dialed again, and stays up.
TEST(AmqpReconnect, AConnectionThePeerClosedIsDialedAgain) {
  ClosingPeer peer(2);
  adapters::amqp::AmqpConnectionSettings settings;
  settings.name = "peer";
  settings.urls = {"amqp://127.0.0.1:" + std::to_string(peer.port())};
  settings.reconnect_initial = 20ms;
  settings.reconnect_max = 200ms;
  auto connection = adapters::amqp::AmqpConnection::create(settings);
  ASSERT_TRUE(connection.ok()) << connection.error().message;
  (*connection)->start();
  EXPECT_TRUE(eventually([&] { return peer.opened() == 3 && (*connection)->connected(); }, 20s))
      << "opened " << peer.opened();
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
