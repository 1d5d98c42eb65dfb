// The daemon in process on port 0, against real HTTP peers and real folders.

#include "core/daemon.h"
#include "core/encoding.h"
#include "core/pki.h"
#include "core/store.h"
#include "core/xml_document.h"
#include "core/xmldsig.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <set>

#include "adapters/http/http_listener.h"
#include "fakes/http_peer.h"
#include "integration/test_support.h"

namespace lienthong {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::filesIn;
using testing::httpCall;
using testing::HttpPeer;
using testing::TempHome;

class DaemonTest : public ::testing::Test {
 protected:
  // Writes config.yaml with the public listener on port 0 and a `backend` connection.
  static constexpr const char* kEngine = "{ workers: 4, queue: 16, drain-timeout: 5s }";

  void writeConfig(const std::string& backend_url, const std::string& extra = "",
                   const std::string& engine = kEngine, const std::string& max_body = "1KiB") {
    home_.write("config.yaml",
                "log: { level: warn }\n"
                "engine: " +
                    engine +
                    "\n"
                    "listeners:\n"
                    "  public: { http: { port: 0, max-body: " +
                    max_body +
                    " } }\n"
                    "connections:\n"
                    "  backend: { http: { url: \"" +
                    backend_url + "\", connect-timeout: 1s, read-timeout: 2s } }\n" + extra +
                    "routes: [ routes ]\n");
  }

  void start() {
    port_ = testing::startDaemon(home_.path("config.yaml"), daemon_);
    ASSERT_NE(port_, 0);
  }

  void TearDown() override {
    if (daemon_) daemon_->stop();
  }

  // Starts a request-reply route /slow to a peer that holds every request until
  // release_ is set.
  void startWithHeldPeer(const std::string& engine = kEngine) {
    writeConfig(peer_.url(), "", engine);
    std::shared_future<void> released = release_.get_future().share();
    peer_.setHandler([released](const HttpPeer::Request& r) {
      released.wait();
      return HttpPeer::Response{200, r.body, "text/plain"};
    });
    home_.write("routes/r.yaml",
                "routes:\n"
                "  - id: slow\n"
                "    pattern: request-reply\n"
                "    from: { http: { listener: public, path: /slow } }\n"
                "    to: { http: { connection: backend } }\n");
    start();
  }

  TempHome home_;
  HttpPeer peer_;
  // After the peer: destroyed first, so a held handler wakes (broken promise) even when
  // a test failed before releasing it.
  std::promise<void> release_;
  std::unique_ptr<Daemon> daemon_;
  std::uint16_t port_ = 0;
};

TEST_F(DaemonTest, RequestReplyGoesThroughToARealPeerAndBack) {
  writeConfig(peer_.url());
  home_.write("routes/r.yaml",
              "routes:\n"
              "  - id: proxy\n"
              "    pattern: request-reply\n"
              "    from: { http: { listener: public, path: /proxy } }\n"
              "    steps:\n"
              "      - set-header: { X-Dossier: \"hs-${MaHoSo}\" }\n"
              "    to: { http: { connection: backend, path: \"/in/${MaHoSo}\","
              " headers: { X-Dossier: \"${X-Dossier}\" } } }\n");
  start();
  auto answer =
      httpCall(port_, "POST", "/proxy", "<HoSo/>",
               {{"MaHoSo", "000.00.01.H22-240315-0001"}, {"Content-Type", "application/xml"}});
  EXPECT_EQ(answer.status, 200);
  EXPECT_EQ(answer.body, "<HoSo/>");
  EXPECT_EQ(answer.headers["Content-Type"], "application/xml");
  ASSERT_EQ(peer_.requests().size(), 1u);
  auto seen = peer_.requests()[0];
  EXPECT_EQ(seen.uri, "/in/000.00.01.H22-240315-0001");
  EXPECT_EQ(seen.headers["X-Dossier"], "hs-000.00.01.H22-240315-0001");
}

// W3C trace context: a caller's traceparent keeps its trace id to the peer, with a new
// parent id; without one (or with a malformed one) the peer gets a new trace.
TEST_F(DaemonTest, TheCallersTraceGoesOnToThePeer) {
  writeConfig(peer_.url());
  home_.write("routes/r.yaml",
              "routes:\n"
              "  - id: proxy\n"
              "    pattern: request-reply\n"
              "    from: { http: { listener: public, path: /proxy } }\n"
              "    steps:\n"
              "      - set-header: { X-Trace: \"${trace.id}\" }\n"
              "    to: { http: { connection: backend, forward-headers: [ X-Trace ] } }\n");
  start();
  const std::string caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  EXPECT_EQ(httpCall(port_, "POST", "/proxy", "x", {{"traceparent", caller}}).status, 200);
  EXPECT_EQ(httpCall(port_, "POST", "/proxy", "x").status, 200);
  EXPECT_EQ(httpCall(port_, "POST", "/proxy", "x",
                     {{"traceparent", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"}})
                .status,
            200);
  ASSERT_EQ(peer_.requests().size(), 3u);
  const std::string first = peer_.requests()[0].headers["traceparent"];
  EXPECT_EQ(first.substr(0, 36), caller.substr(0, 36)) << first;  // "00-" and the trace id
  EXPECT_NE(first, caller);                                       // a new parent id
  EXPECT_EQ(traceIdOf(first), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(peer_.requests()[0].headers["X-Trace"], "4bf92f3577b34da6a3ce929d0e0e4736");
  for (std::size_t i = 1; i < 3; ++i) {
    const std::string fresh = peer_.requests()[i].headers["traceparent"];
    EXPECT_EQ(fresh.size(), 55u) << fresh;
    EXPECT_FALSE(traceIdOf(fresh).empty()) << fresh;
    EXPECT_NE(traceIdOf(fresh), "4bf92f3577b34da6a3ce929d0e0e4736");
    EXPECT_EQ(peer_.requests()[i].headers["X-Trace"], traceIdOf(fresh));
  }
}

TEST_F(DaemonTest, BackendDownAnswers502NamingTheRoute) {
  writeConfig("http://127.0.0.1:1");  // nothing listens on port 1
  home_.write("routes/r.yaml",
              "routes:\n"
              "  - id: proxy-down\n"
              "    pattern: request-reply\n"
              "    from: { http: { listener: public, path: /proxy } }\n"
              "    to: { http: { connection: backend } }\n");
  start();
  auto answer = httpCall(port_, "POST", "/proxy", "x");
  EXPECT_EQ(answer.status, 502);
  EXPECT_NE(answer.body.find("\"route\":\"proxy-down\""), std::string::npos) << answer.body;
  EXPECT_NE(answer.headers["Content-Type"].find("application/json"), std::string::npos);
}

TEST_F(DaemonTest, SlowBackendAnswers504) {
  writeConfig(peer_.url());
  peer_.setHandler([](const HttpPeer::Request&) {
    std::this_thread::sleep_for(1500ms);  // the peer is slow; the route gives up at 300ms
    return HttpPeer::Response{200, "late", "text/plain"};
  });
  home_.write("routes/r.yaml",
              "routes:\n"
              "  - id: proxy-slow\n"
              "    pattern: request-reply\n"
              "    timeout: 300ms\n"
              "    from: { http: { listener: public, path: /proxy } }\n"
              "    to: { http: { connection: backend } }\n");
  start();
  auto answer = httpCall(port_, "POST", "/proxy", "x");
  EXPECT_EQ(answer.status, 504);
  EXPECT_NE(answer.body.find("proxy-slow"), std::string::npos) << answer.body;
}

TEST_F(DaemonTest, PeerRejectionIsPassedThrough) {
  writeConfig(peer_.url());
  peer_.setHandler([](const HttpPeer::Request&) {
    return HttpPeer::Response{404, "{\"error_code\":\"404\"}", "application/json"};
  });
  home_.write("routes/r.yaml",
              "routes:\n"
              "  - id: lookup\n"
              "    pattern: request-reply\n"
              "    from: { http: { listener: public, path: /lookup } }\n"
              "    to: { http: { connection: backend } }\n");
  start();
  auto answer = httpCall(port_, "POST", "/lookup", "x");
  EXPECT_EQ(answer.status, 404);
  EXPECT_EQ(answer.body, "{\"error_code\":\"404\"}");
}

TEST_F(DaemonTest, UnknownPathIs404AndOversizedBodyIs413) {
  writeConfig(peer_.url());
  home_.write("routes/r.yaml",
              "routes:\n"
              "  - id: echo\n"
              "    pattern: request-reply\n"
              "    from: { http: { listener: public, path: /echo } }\n");
  start();
  EXPECT_EQ(httpCall(port_, "POST", "/nowhere", "x").status, 404);
  EXPECT_EQ(httpCall(port_, "POST", "/echo", std::string(2048, 'x')).status, 413);
  auto ok = httpCall(port_, "POST", "/echo", "small");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "small");
  EXPECT_TRUE(peer_.requests().empty());
}

TEST_F(DaemonTest, OneWayHttpToFile) {
  writeConfig(peer_.url());
  home_.write("routes/r.yaml",
              "routes:\n"
              "  - id: archive\n"
              "    pattern: one-way\n"
              "    from: { http: { listener: public, path: /archive } }\n"
              "    to: { file: { dir: var/archive, name: \"${MaHoSo}.xml\" } }\n");
  start();
  auto answer = httpCall(port_, "POST", "/archive", "<HoSo>1</HoSo>", {{"MaHoSo", "HS-1"}});
  EXPECT_EQ(answer.status, 202);
  EXPECT_NE(answer.body.find("\"id\""), std::string::npos);
  auto target = home_.path("var/archive/HS-1.xml");
  ASSERT_TRUE(eventually([&] { return std::filesystem::exists(target); }));
  EXPECT_EQ(home_.read(target), "<HoSo>1</HoSo>");
  EXPECT_EQ(filesIn(home_.path("var/archive")).size(), 1u);  // no temporary left behind
}

TEST_F(DaemonTest, FileToHttpThenDone) {
  writeConfig(peer_.url());
  home_.write("routes/r.yaml",
              "routes:\n"
              "  - id: inbox\n"
              "    pattern: one-way\n"
              "    from: { file: { dir: var/inbox, include: \"*.xml\", interval: 20ms,"
              " stable-for: 50ms } }\n"
              "    to: { http: { connection: backend, path: \"/files/${file.name}\" } }\n");
  start();
  home_.put("var/inbox/hs-7.xml", "<HoSo>7</HoSo>");
  home_.put("var/inbox/ignored.txt", "not xml");
  ASSERT_TRUE(peer_.waitForRequests(1, 10s));
  auto seen = peer_.requests()[0];
  EXPECT_EQ(seen.uri, "/files/hs-7.xml");
  EXPECT_EQ(seen.body, "<HoSo>7</HoSo>");
  ASSERT_TRUE(
      eventually([&] { return std::filesystem::exists(home_.path("var/inbox/done/hs-7.xml")); }));
  EXPECT_TRUE(std::filesystem::exists(home_.path("var/inbox/ignored.txt")));
  EXPECT_EQ(peer_.requests().size(), 1u);
}

TEST_F(DaemonTest, OneWayIsRetriedUntilThePeerRecovers) {
  writeConfig(peer_.url());
  auto calls = std::make_shared<std::atomic<int>>(0);
  peer_.setHandler([calls](const HttpPeer::Request& r) {
    if (calls->fetch_add(1) < 2) return HttpPeer::Response{503, "busy", "text/plain"};
    return HttpPeer::Response{200, r.body, "text/plain"};
  });
  home_.write("routes/r.yaml",
              "routes:\n"
              "  - id: status\n"
              "    pattern: one-way\n"
              "    delivery: { retry: { backoff: fixed, initial: 20ms, max: 20ms } }\n"
              "    from: { http: { listener: public, path: /status } }\n"
              "    to: { http: { connection: backend } }\n");
  start();
  EXPECT_EQ(httpCall(port_, "POST", "/status", "TrangThai=4").status, 202);
  ASSERT_TRUE(peer_.waitForRequests(3, 10s));
  ASSERT_TRUE(eventually([&] { return daemon_->engine().stats().delivered == 1; }));
  EXPECT_EQ(daemon_->engine().stats().retries, 2u);
  for (const auto& r : peer_.requests()) EXPECT_EQ(r.body, "TrangThai=4");
}

// Aggregation through the engine: a group completes on size on a worker, a group whose
// time runs out re-enters the route after the aggregate step, a reload hands open groups
// to the new version, and a stop delivers what is still open.
TEST_F(DaemonTest, AggregateCompletesOnSizeTimeoutReloadAndStop) {
  writeConfig(peer_.url());
  auto route = [](const std::string& timeout) {
    return "routes:\n"
           "  - id: gom\n"
           "    pattern: one-way\n"
           "    from: { http: { listener: public, path: /gom } }\n"
           "    steps:\n"
           "      - aggregate: { key: \"${Lo}\", size: 2, timeout: " +
           timeout +
           ", combine: concat, separator: \"+\" }\n"
           "      - set-header: { Xong: \"${aggregate.completed-by}\" }\n"
           "    to: { http: { connection: backend, path: \"/in/${aggregate.key}/${Xong}\" } }\n";
  };
  // Long enough for a and b to meet however slow the machine; which group reaches the
  // peer first is not the point.
  home_.write("routes/r.yaml", route("2s"));
  start();
  EXPECT_EQ(httpCall(port_, "POST", "/gom", "a", {{"Lo", "L1"}}).status, 202);
  EXPECT_EQ(httpCall(port_, "POST", "/gom", "x", {{"Lo", "L2"}}).status, 202);
  EXPECT_EQ(httpCall(port_, "POST", "/gom", "b", {{"Lo", "L1"}}).status, 202);
  ASSERT_TRUE(peer_.waitForRequests(2, 10s));
  auto seen = peer_.requests();
  std::sort(seen.begin(), seen.begin() + 2,
            [](const auto& l, const auto& r) { return l.uri < r.uri; });
  EXPECT_EQ(seen[0].uri, "/in/L1/size");
  EXPECT_EQ(seen[0].body, "a+b");
  EXPECT_EQ(seen[1].uri, "/in/L2/timeout");  // through the steps after the aggregate
  EXPECT_EQ(seen[1].body, "x");

  // A group opened on a version with a long timeout survives a reload of the route.
  home_.write("routes/r.yaml", route("1h"));
  ConfigErrors errors;
  ASSERT_TRUE(daemon_->reload(errors)) << errors.str();
  EXPECT_EQ(httpCall(port_, "POST", "/gom", "c", {{"Lo", "L3"}}).status, 202);
  // a, x, b and c held in their groups; L1 and L2 delivered.
  ASSERT_TRUE(eventually([&] {
    const auto s = daemon_->engine().stats();
    return s.held >= 4 && s.delivered >= 2;
  }));
  ASSERT_TRUE(daemon_->reload(errors)) << errors.str();
  EXPECT_EQ(httpCall(port_, "POST", "/gom", "d", {{"Lo", "L3"}}).status, 202);
  ASSERT_TRUE(peer_.waitForRequests(3, 10s));
  EXPECT_EQ(peer_.requests()[2].uri, "/in/L3/size");
  EXPECT_EQ(peer_.requests()[2].body, "c+d");

  EXPECT_EQ(httpCall(port_, "POST", "/gom", "e", {{"Lo", "L4"}}).status, 202);
  ASSERT_TRUE(eventually([&] {
    const auto s = daemon_->engine().stats();
    return s.held >= 6 && s.delivered >= 3;
  }));
  EXPECT_EQ(daemon_->stop(), 0u);
  daemon_.reset();
  ASSERT_EQ(peer_.requests().size(), 4u);
  EXPECT_EQ(peer_.requests()[3].uri, "/in/L4/stop");
  EXPECT_EQ(peer_.requests()[3].body, "e");
}

// With a store, an accepted one-way message is journalled before the 202: a stop while
// the backend is down keeps it, the next start delivers it; a refusal is a dead letter
// in the store with its reason.
TEST_F(DaemonTest, JournalKeepsOneWayMessagesAcrossARestart) {
  writeConfig(peer_.url(), "store: { path: var/lienthong.db }\n",
              "{ workers: 4, queue: 16, drain-timeout: 200ms }");
  auto up = std::make_shared<std::atomic<bool>>(false);
  peer_.setHandler([up](const HttpPeer::Request& r) {
    if (r.body == "refused") return HttpPeer::Response{400, "no", "text/plain"};
    if (!up->load()) return HttpPeer::Response{503, "down", "text/plain"};
    return HttpPeer::Response{200, "ok", "text/plain"};
  });
  home_.write("routes/r.yaml",
              "routes:\n"
              "  - id: status\n"
              "    pattern: one-way\n"
              "    delivery: { retry: { backoff: fixed, initial: 20ms, max: 20ms } }\n"
              "    from: { http: { listener: public, path: /status } }\n"
              "    to: { http: { connection: backend } }\n");
  start();
  for (const char* body : {"TrangThai=4", "TrangThai=5", "refused"}) {
    EXPECT_EQ(httpCall(port_, "POST", "/status", body, {{"MaHoSo", "HS-1"}}).status, 202);
  }
  ASSERT_TRUE(eventually([&] { return daemon_->engine().stats().dead_lettered == 1; }));
  ASSERT_TRUE(peer_.waitForRequests(6, 10s));  // the two others keep being retried
  auto figures = daemon_->storeFigures();
  ASSERT_TRUE(figures.ok()) << figures.error().message;
  EXPECT_EQ((*figures)["status"].depth, 2u);
  EXPECT_TRUE((*figures)["status"].oldest);
  EXPECT_EQ((*figures)["status"].dead_letters, 1u);
  // Abandoned at the stop (the count varies: one may be mid-attempt): both stay journalled.
  daemon_->stop();
  daemon_.reset();

  {
    auto store = openSqliteStore(home_.path("var/lienthong.db").string());
    ASSERT_TRUE(store.ok()) << store.error().message;
    auto pending = (*store)->pending();
    ASSERT_EQ(pending->size(), 2u);
    EXPECT_EQ((*pending)[0].message.body(), "TrangThai=4");
    EXPECT_EQ(*(*pending)[1].message.header("MaHoSo"), "HS-1");
    auto dead = (*store)->deadLetters({});
    ASSERT_EQ(dead->size(), 1u);
    EXPECT_EQ((*dead)[0].message.body(), "refused");
    EXPECT_NE((*dead)[0].reason.find("HTTP 400"), std::string::npos) << (*dead)[0].reason;
  }

  up->store(true);
  const std::size_t before = peer_.requests().size();
  start();  // the same home: the journal is taken up again
  ASSERT_TRUE(peer_.waitForRequests(before + 2, 10s));
  ASSERT_TRUE(eventually([&] { return daemon_->engine().stats().delivered == 2; }));
  std::vector<std::string> delivered;
  for (std::size_t i = before; i < peer_.requests().size(); ++i) {
    delivered.push_back(peer_.requests()[i].body);
  }
  EXPECT_NE(std::find(delivered.begin(), delivered.end(), "TrangThai=4"), delivered.end());
  EXPECT_NE(std::find(delivered.begin(), delivered.end(), "TrangThai=5"), delivered.end());
  daemon_->stop();
  daemon_.reset();
  auto store = openSqliteStore(home_.path("var/lienthong.db").string());
  ASSERT_TRUE(store.ok());
  EXPECT_TRUE((*store)->pending()->empty());
}

// An idempotent route: the same status event twice reaches the backend once; an event
// whose key cannot be computed is a dead letter with that reason.
TEST_F(DaemonTest, IdempotencyKeysDropDuplicates) {
  writeConfig(peer_.url(), "store: { path: var/lienthong.db }\n");
  home_.write("routes/r.yaml",
              "routes:\n"
              "  - id: status\n"
              "    pattern: one-way\n"
              "    delivery: { idempotency: { key: \"${MaHoSo}-${TrangThai}\", keep: 1d } }\n"
              "    from: { http: { listener: public, path: /status } }\n"
              "    to: { http: { connection: backend } }\n");
  start();
  const std::map<std::string, std::string> event = {{"MaHoSo", "HS-1"}, {"TrangThai", "4"}};
  EXPECT_EQ(httpCall(port_, "POST", "/status", "first", event).status, 202);
  EXPECT_EQ(httpCall(port_, "POST", "/status", "again", event).status, 202);
  EXPECT_EQ(
      httpCall(port_, "POST", "/status", "next", {{"MaHoSo", "HS-1"}, {"TrangThai", "5"}}).status,
      202);
  EXPECT_EQ(httpCall(port_, "POST", "/status", "no key").status, 202);
  ASSERT_TRUE(eventually([&] {
    auto s = daemon_->engine().stats();
    return s.delivered == 2 && s.duplicates == 1 && s.dead_lettered == 1;
  }));
  ASSERT_EQ(peer_.requests().size(), 2u);
  EXPECT_EQ(peer_.requests()[0].body, "first");
  EXPECT_EQ(peer_.requests()[1].body, "next");
  daemon_->stop();
  daemon_.reset();
  auto store = openSqliteStore(home_.path("var/lienthong.db").string());
  ASSERT_TRUE(store.ok());
  auto dead = (*store)->deadLetters({});
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_NE((*dead)[0].reason.find(
                "the idempotency key '${MaHoSo}-${TrangThai}' cannot be computed for this "
                "message (no MaHoSo, TrangThai)"),
            std::string::npos)
      << (*dead)[0].reason;
}

TEST_F(DaemonTest, IdempotencyNeedsAStoreAndAOneWayRoute) {
  writeConfig(peer_.url());
  home_.write("routes/r.yaml",
              "routes:\n"
              "  - id: a\n"
              "    pattern: one-way\n"
              "    delivery: { idempotency: { key: \"${MaHoSo}\" } }\n"
              "    from: { http: { listener: public, path: /a } }\n"
              "  - id: b\n"
              "    pattern: request-reply\n"
              "    delivery: { idempotency: { key: \"${MaHoSo}\" } }\n"
              "    from: { http: { listener: public, path: /b } }\n");
  ConfigErrors errors;
  EXPECT_FALSE(Daemon::create(home_.path("config.yaml").string(), errors));
  const std::string text = errors.str();
  EXPECT_NE(text.find("r.yaml:4:30: idempotency needs a store in the daemon config"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("r.yaml:8:30: idempotency is for one-way routes"), std::string::npos) << text;
}

// A store that is damaged, or held by another process: the daemon runs, refuses one-way
// messages (503) rather than accept what it could not keep, serves request-reply routes,
// and opens the store once the cause is gone, taking one-way messages again.
TEST_F(DaemonTest, ADamagedOrBusyStoreRefusesOneWayMessagesUntilItOpens) {
  writeConfig(peer_.url(), "store: { path: var/lienthong.db, reopen-every: 50ms }\n");
  home_.write("routes/r.yaml",
              "routes:\n"
              "  - id: status\n"
              "    pattern: one-way\n"
              "    from: { http: { listener: public, path: /status } }\n"
              "    delivery: { ordering: { key: \"${MaHoSo:-one}\" } }\n"
              "    to: { http: { connection: backend } }\n"
              "  - id: lookup\n"
              "    pattern: request-reply\n"
              "    from: { http: { listener: public, path: /lookup } }\n"
              "    to: { http: { connection: backend } }\n");
  home_.write("var/lienthong.db", std::string(4096, 'x'));
  start();
  auto refused = httpCall(port_, "POST", "/status", "TrangThai=4");
  EXPECT_EQ(refused.status, 503);
  EXPECT_NE(refused.body.find("the message cannot be kept now"), std::string::npos) << refused.body;
  EXPECT_EQ(refused.headers["Retry-After"], "1");
  EXPECT_EQ(httpCall(port_, "POST", "/lookup", "q").status, 200);  // the rest runs
  // The operator moves the damaged file aside: the store opens.
  std::filesystem::rename(home_.path("var/lienthong.db"), home_.path("var/damaged.db"));
  ASSERT_TRUE(eventually([&] { return httpCall(port_, "POST", "/status", "A").status == 202; }));
  ASSERT_TRUE(peer_.waitForRequests(2, 10s));
  daemon_->stop();
  daemon_.reset();

  auto holder = openSqliteStore(home_.path("var/lienthong.db").string());  // another process
  ASSERT_TRUE(holder.ok());
  Message journalled;
  journalled.setBody("X");
  ASSERT_TRUE((*holder)->append("status", journalled).ok());  // left by the last run
  start();
  EXPECT_EQ(httpCall(port_, "POST", "/status", "B").status, 503);
  holder->reset();  // it lets go: the daemon opens the store and takes up its journal
  ASSERT_TRUE(eventually([&] { return httpCall(port_, "POST", "/status", "C").status == 202; }));
  ASSERT_TRUE(peer_.waitForRequests(4, 10s));
  std::vector<std::string> bodies;
  for (const auto& r : peer_.requests()) bodies.push_back(r.body);
  // The journalled X before C; B was refused and never arrives.
  EXPECT_EQ(bodies, (std::vector<std::string>{"q", "A", "X", "C"}));
}

// A group an aggregation completed is journalled where it resumes (after the aggregate):
// taken up after a restart, it is delivered as the group, not aggregated again.
TEST_F(DaemonTest, AJournalledGroupResumesAfterItsAggregate) {
  writeConfig(peer_.url(), "store: { path: var/lienthong.db }\n",
              "{ workers: 4, queue: 16, drain-timeout: 200ms }");
  auto up = std::make_shared<std::atomic<bool>>(false);
  peer_.setHandler([up](const HttpPeer::Request&) {
    return up->load() ? HttpPeer::Response{200, "ok", "text/plain"}
                      : HttpPeer::Response{503, "down", "text/plain"};
  });
  home_.write("routes/r.yaml",
              "routes:\n"
              "  - id: gom\n"
              "    pattern: one-way\n"
              "    delivery: { retry: { backoff: fixed, initial: 20ms, max: 20ms } }\n"
              "    from: { http: { listener: public, path: /gom } }\n"
              "    steps:\n"
              "      - aggregate: { key: \"${Lo}\", size: 2, timeout: 1h, combine: concat, "
              "separator: \"+\" }\n"
              "    to: { http: { connection: backend, path: \"/in/${aggregate.key}\" } }\n");
  start();
  EXPECT_EQ(httpCall(port_, "POST", "/gom", "a", {{"Lo", "L1"}}).status, 202);
  EXPECT_EQ(httpCall(port_, "POST", "/gom", "b", {{"Lo", "L1"}}).status, 202);
  ASSERT_TRUE(peer_.waitForRequests(2, 10s));  // the group, refused and retried
  daemon_->stop();
  daemon_.reset();

  up->store(true);
  const std::size_t before = peer_.requests().size();
  start();
  ASSERT_TRUE(peer_.waitForRequests(before + 1, 10s));
  EXPECT_EQ(peer_.requests()[before].uri, "/in/L1");
  EXPECT_EQ(peer_.requests()[before].body, "a+b");
  // On the audit chain: each part held by the aggregate, with its own body's hash, and the
  // group delivered.
  std::vector<AuditRecord> records;
  ASSERT_TRUE(eventually([&] {
    auto r = daemon_->storeIfOpen()->auditRecords("local", 0, 1000);
    records = r.ok() ? *r : std::vector<AuditRecord>();
    return std::any_of(records.begin(), records.end(), [](const AuditRecord& x) {
      return x.actor == "route:gom" && x.action == "delivered";
    });
  }));
  std::set<std::string> held;
  for (const AuditRecord& x : records) {
    if (x.actor == "route:gom" && x.action == "held") held.insert(x.digest);
  }
  EXPECT_EQ(held, (std::set<std::string>{pki::sha256Hex("a"), pki::sha256Hex("b")}));
}

TEST_F(DaemonTest, FullEngineAnswers503WithRetryAfter) {
  startWithHeldPeer("{ workers: 1, queue: 1, drain-timeout: 5s, admission-wait: 0s }");
  auto first =
      std::async(std::launch::async, [&] { return httpCall(port_, "POST", "/slow", "1"); });
  ASSERT_TRUE(peer_.waitForRequests(1, 10s));  // the only worker is busy
  auto second =
      std::async(std::launch::async, [&] { return httpCall(port_, "POST", "/slow", "2"); });
  ASSERT_TRUE(eventually([&] { return daemon_->engine().stats().queued == 1; }));
  const auto asked = std::chrono::steady_clock::now();
  auto third = httpCall(port_, "POST", "/slow", "3");
  EXPECT_EQ(third.status, 503);
  EXPECT_EQ(third.headers["Retry-After"], "1");
  // No admission wait: a wait (the default's 1 s, had the 0 s been ignored) would take
  // at least a second; the answer alone takes milliseconds.
  EXPECT_LT(std::chrono::steady_clock::now() - asked, 1s);
  release_.set_value();
  EXPECT_EQ(first.get().status, 200);
  EXPECT_EQ(second.get().status, 200);
}

// With an admission wait, a request that finds the engine full waits for a place and is
// served once one frees up, instead of a 503.
TEST_F(DaemonTest, AFullEngineMakesARequestWaitUpToAdmissionWait) {
  startWithHeldPeer("{ workers: 1, queue: 1, drain-timeout: 5s, admission-wait: 20s }");
  auto first =
      std::async(std::launch::async, [&] { return httpCall(port_, "POST", "/slow", "1"); });
  ASSERT_TRUE(peer_.waitForRequests(1, 10s));
  auto second =
      std::async(std::launch::async, [&] { return httpCall(port_, "POST", "/slow", "2"); });
  ASSERT_TRUE(eventually([&] { return daemon_->engine().stats().queued == 1; }));
  auto third =
      std::async(std::launch::async, [&] { return httpCall(port_, "POST", "/slow", "3"); });
  ASSERT_TRUE(eventually([&] { return daemon_->engine().stats().waiting_for_room == 1; }));
  release_.set_value();
  EXPECT_EQ(first.get().status, 200);
  EXPECT_EQ(second.get().status, 200);
  EXPECT_EQ(third.get().status, 200);
  EXPECT_EQ(daemon_->engine().stats().refused, 0u);
}

TEST_F(DaemonTest, ReloadSwapsValidRoutesAndKeepsTheRunningSetOtherwise) {
  writeConfig(peer_.url());
  home_.write("routes/r.yaml",
              "routes:\n"
              "  - id: v1\n"
              "    pattern: request-reply\n"
              "    from: { http: { listener: public, path: /v1 } }\n");
  start();
  std::uint64_t first_version = daemon_->routes()->version;
  EXPECT_EQ(httpCall(port_, "POST", "/v1", "a").status, 200);

  home_.write("routes/r.yaml",
              "routes:\n"
              "  - id: v2\n"
              "    pattern: request-reply\n"
              "    from: { http: { listener: public, path: /v2 } }\n"
              "  - id: broken\n"
              "    pattern: whenever\n"
              "    from: { http: { listener: nowhere, path: /b } }\n");
  ConfigErrors errors;
  EXPECT_FALSE(daemon_->reload(errors));
  EXPECT_EQ(errors.size(), 2u) << errors.str();
  EXPECT_EQ(daemon_->routes()->version, first_version);
  EXPECT_EQ(httpCall(port_, "POST", "/v1", "a").status, 200);
  EXPECT_EQ(httpCall(port_, "POST", "/v2", "a").status, 404);

  home_.write("routes/r.yaml",
              "routes:\n"
              "  - id: v2\n"
              "    pattern: request-reply\n"
              "    from: { http: { listener: public, path: /v2 } }\n");
  ConfigErrors none;
  EXPECT_TRUE(daemon_->reload(none)) << none.str();
  EXPECT_GT(daemon_->routes()->version, first_version);
  EXPECT_EQ(httpCall(port_, "POST", "/v2", "b").status, 200);
  EXPECT_EQ(httpCall(port_, "POST", "/v1", "a").status, 404);
}

// A reload or a stop must not wait behind a request-reply exchange in flight (the caller's
// thread runs it): the old route finishes it after its input stopped.
TEST_F(DaemonTest, ReloadDoesNotWaitForExchangesInFlight) {
  startWithHeldPeer();
  auto inflight =
      std::async(std::launch::async, [&] { return httpCall(port_, "POST", "/slow", "kept"); });
  ASSERT_TRUE(peer_.waitForRequests(1, 10s));
  home_.write("routes/r.yaml",
              "routes:\n"
              "  - id: slow-v2\n"
              "    pattern: request-reply\n"
              "    from: { http: { listener: public, path: /slow } }\n"
              "    to: { http: { connection: backend } }\n");
  auto reload = std::async(std::launch::async, [&] {
    ConfigErrors errors;
    return daemon_->reload(errors);
  });
  // The peer holds the exchange until after this: any wait proves the point.
  ASSERT_EQ(reload.wait_for(20s), std::future_status::ready) << "reload waited for the exchange";
  EXPECT_TRUE(reload.get());
  release_.set_value();
  auto answer = inflight.get();
  EXPECT_EQ(answer.status, 200);
  EXPECT_EQ(answer.body, "kept");
}

TEST_F(DaemonTest, StoppingDaemonAnswers503NotFound) {
  startWithHeldPeer();
  auto inflight =
      std::async(std::launch::async, [&] { return httpCall(port_, "POST", "/slow", "first"); });
  ASSERT_TRUE(peer_.waitForRequests(1, 10s));
  auto stopping = std::async(std::launch::async, [&] { return daemon_->stop(); });
  // Once the drain began (not before: the peer would hold a request that got in first).
  ASSERT_TRUE(eventually([&] { return !daemon_->engine().accepting(); }));
  auto late = httpCall(port_, "POST", "/slow", "late");
  EXPECT_EQ(late.status, 503);
  EXPECT_EQ(late.headers["Retry-After"], "1");
  release_.set_value();
  EXPECT_EQ(inflight.get().body, "first");
  EXPECT_EQ(stopping.get(), 0u);
  daemon_.reset();
}

// The shipped XML example route, end to end: validation (400 with every violation and its
// line), extraction, content-based routing on the body, XSLT, file outputs.
TEST_F(DaemonTest, ShippedStatusRouteValidatesRoutesAndTransforms) {
  writeConfig(peer_.url());
  const std::filesystem::path src = LIENTHONG_SOURCE_DIR;
  for (const char* rel :
       {"routes/examples/xsd/trang-thai.xsd", "routes/examples/xslt/tien-do.xsl"}) {
    std::filesystem::create_directories(home_.path(rel).parent_path());
    std::filesystem::copy_file(src / rel, home_.path(rel));
  }
  std::filesystem::copy_file(src / "routes/examples/status.yaml", home_.path("routes/status.yaml"));
  start();

  const std::string ns = "xmlns=\"urn:lienthong:hoso:1\"";
  auto ok = httpCall(port_, "POST", "/hoso/status",
                     "<TrangThaiHoSo " + ns +
                         "><MaHoSo>000.00.01.H22-240315-0001</MaHoSo>"
                         "<TrangThai>9</TrangThai><ThoiDiem>20240320100000</ThoiDiem>"
                         "<NoiDung>Đã giải quyết</NoiDung></TrangThaiHoSo>",
                     {{"X-Nguoi-Xu-Ly", "can-bo-1"}});
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.body, "{\"MaHoSo\":\"000.00.01.H22-240315-0001\",\"TrangThai\":\"9\"}");
  EXPECT_TRUE(std::filesystem::exists(home_.path("var/results/000.00.01.H22-240315-0001-9.xml")));
  auto progress = filesIn(home_.path("var/progress"));
  ASSERT_EQ(progress.size(), 1u);
  std::string record = home_.read(progress[0]);
  EXPECT_NE(record.find("<NguoiXuLy>can-bo-1</NguoiXuLy>"), std::string::npos) << record;
  EXPECT_NE(record.find("<NoiDungXuLy>Đã giải quyết</NoiDungXuLy>"), std::string::npos) << record;

  auto in_process = httpCall(port_, "POST", "/hoso/status",
                             "<TrangThaiHoSo " + ns +
                                 "><MaHoSo>000.00.01.H22-240315-0002</MaHoSo>"
                                 "<TrangThai>4</TrangThai><ThoiDiem>x</ThoiDiem></TrangThaiHoSo>");
  EXPECT_EQ(in_process.status, 200);
  EXPECT_EQ(filesIn(home_.path("var/results")).size(), 1u);  // status 4 is not a result
  EXPECT_EQ(filesIn(home_.path("var/progress")).size(), 2u);

  auto invalid = httpCall(port_, "POST", "/hoso/status",
                          "<TrangThaiHoSo " + ns +
                              ">\n<MaHoSo>bad</MaHoSo>\n"
                              "<TrangThai>11</TrangThai>\n<ThoiDiem>x</ThoiDiem></TrangThaiHoSo>");
  EXPECT_EQ(invalid.status, 400);
  EXPECT_NE(invalid.body.find("2 violation(s)"), std::string::npos) << invalid.body;
  EXPECT_NE(invalid.body.find("line 2"), std::string::npos) << invalid.body;
  EXPECT_NE(invalid.body.find("line 3"), std::string::npos) << invalid.body;

  auto xxe = httpCall(port_, "POST", "/hoso/status",
                      "<!DOCTYPE d [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><d>&x;</d>");
  EXPECT_EQ(xxe.status, 400);
  EXPECT_NE(xxe.body.find("DOCTYPE is not accepted"), std::string::npos) << xxe.body;
  EXPECT_EQ(httpCall(port_, "POST", "/hoso/status", "<unclosed>").status, 400);
  EXPECT_EQ(filesIn(home_.path("var/progress")).size(), 2u);  // nothing of the bad ones
}

// The shipped plugin through the shipped route: a Windows-1258 fixed-width export dropped
// in a folder becomes the canonical dossier list.
// Signatures through a running daemon: verify on the way in (401 with the reason when it
// fails), sign on the way out; the answer verifies with the same code.
TEST_F(DaemonTest, VerifyOnTheWayInSignOnTheWayOut) {
  const std::string pki = std::string(LIENTHONG_BINARY_DIR) + "/tests/pki/";
  writeConfig(peer_.url(),
              "keys:\n  node: { key: \"" + pki + "agency-key.pem\", cert: \"" + pki +
                  "agency-chain.pem\" }\n"
                  "  province: { key: \"" +
                  pki + "ec-key.pem\", cert: \"" + pki +
                  "ec-chain.pem\" }\n"
                  "trust:\n  agencies: { ca: \"" +
                  pki + "root.pem\" }\n",
              kEngine, "64KiB");
  home_.write("routes/r.yaml",
              "namespaces: { h: \"urn:lienthong:hoso:1\" }\n"
              "routes:\n"
              "  - id: ket-qua\n"
              "    pattern: request-reply\n"
              "    from: { http: { listener: public, path: /ket-qua } }\n"
              "    steps:\n"
              "      - verify: { trust: agencies, signed: /h:KetQua, strip: true }\n"
              "      - sign: { key: node }\n");
  start();
  auto doc = XmlDocument::parse(
      "<KetQua xmlns=\"urn:lienthong:hoso:1\"><MaHoSo>000.00.01.H22-240315-0001</MaHoSo>"
      "<TrangThai>10</TrangThai></KetQua>");
  ASSERT_TRUE(doc.ok());
  const auto& province = daemon_->config().keys.at("province");
  auto signed_in = xmldsig::sign((*doc)->doc(), *province, {}, std::time(nullptr));
  ASSERT_TRUE(signed_in.ok()) << signed_in.error().message;

  auto answer =
      httpCall(port_, "POST", "/ket-qua", *signed_in, {{"Content-Type", "application/xml"}});
  ASSERT_EQ(answer.status, 200) << answer.body;
  auto out = XmlDocument::parse(answer.body);
  ASSERT_TRUE(out.ok()) << answer.body;
  // One signature: the province's was checked and stripped, the node signed anew.
  auto v = xmldsig::verify((*out)->doc(), *daemon_->config().trust.at("agencies"), {},
                           std::time(nullptr));
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_NE(v->cert->subject.find("So Tu phap"), std::string::npos);

  std::string altered = *signed_in;
  altered.replace(altered.find("<TrangThai>10"), 13, "<TrangThai>9");
  auto refused =
      httpCall(port_, "POST", "/ket-qua", altered, {{"Content-Type", "application/xml"}});
  EXPECT_EQ(refused.status, 401);
  EXPECT_NE(refused.body.find("the signed content was changed"), std::string::npos) << refused.body;
  auto unsigned_doc =
      httpCall(port_, "POST", "/ket-qua", "<KetQua xmlns=\"urn:lienthong:hoso:1\"/>");
  EXPECT_EQ(unsigned_doc.status, 401);
  EXPECT_NE(unsigned_doc.body.find("not signed"), std::string::npos);
}

TEST_F(DaemonTest, ShippedLegacyExportRouteRunsThePlugin) {
  writeConfig(peer_.url(), "plugins: [ \"" + std::string(LIENTHONG_BINARY_DIR) + "/plugins\" ]\n");
  std::string route = home_.read(std::filesystem::path(LIENTHONG_SOURCE_DIR) /
                                 "routes/examples/legacy-export.yaml");
  route.replace(route.find("interval: 1s"), 12, "interval: 20ms");
  route.replace(route.find("stable-for: 1s"), 14, "stable-for: 50ms");
  home_.write("routes/legacy.yaml", route);
  start();
  std::string name =
      "Tr\xE2\xCCn V\xE3n \xD0\xFD\xEC"
      "c";  // "Trần Văn Đức", Windows-1258
  name.resize(40, ' ');
  std::string line =
      "000.00.01.H22" + std::string("000.00.01.H22-240315-0001") + name + "1503202422032024 2\r\n";
  home_.put("var/legacy/export-1.txt", line);
  auto out = home_.path("var/dossiers/export-1.txt.xml");
  ASSERT_TRUE(eventually([&] { return std::filesystem::exists(out); }));
  std::string xml = home_.read(out);
  EXPECT_NE(xml.find("<ChuHoSo>Trần Văn Đức</ChuHoSo>"), std::string::npos) << xml;
  EXPECT_NE(xml.find("<MaHoSo>000.00.01.H22-240315-0001</MaHoSo>"), std::string::npos) << xml;
  EXPECT_TRUE(std::filesystem::exists(home_.path("var/legacy/done/export-1.txt")));
}

}  // namespace
}  // namespace lienthong
