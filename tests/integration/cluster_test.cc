// Cluster mode: two real lienthongd nodes share a RabbitMQ queue and a PostgreSQL store
// (both started by the CTest fixtures), and one of them is killed mid-stream. Also the
// shared store on its own: keys seen by every node, one daemon per node name, and the
// journal of a node that is gone taken over by one that lives.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <regex>
#include <set>

#include "core/pki.h"
#include "core/store.h"
#include "fakes/http_peer.h"
#include "integration/audit_tampering.h"
#include "integration/daemon_process.h"
#include "integration/fixtures.h"
#include "integration/test_support.h"
#include "unit/core/dossier_tracking.h"

namespace lienthong {
namespace {

using namespace std::chrono_literals;
using testing::DaemonProcess;
using testing::HttpPeer;
using testing::post;
using testing::readText;
using testing::TempHome;

using testing::fixtureDir;
using testing::fixturePort;
using testing::runCommand;

std::string script(const char* name) { return testing::fixtureScript(name); }

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pg_ = fixtureDir("postgresql");
    broker_ = fixtureDir("rabbitmq");
    if (pg_.empty() || broker_.empty()) {
      GTEST_SKIP() << "no database or broker: run through ctest (fixtures postgresql, rabbitmq)";
    }
    static int n = 0;
    const std::string name = "t" + std::to_string(::getpid()) + "_" + std::to_string(++n);
    const std::string made = runCommand(script("postgresql.sh") + " psql " + pg_ +
                                        " -q -c 'CREATE DATABASE " + name + "'");
    ASSERT_EQ(made, "") << made;
    settings_.url = "postgresql://postgres@127.0.0.1:" + fixturePort(pg_) + "/" + name;
    queue_ = "cluster-" + name;
  }

  // A count from the test's database.
  long count(const std::string& sql) {
    const std::string db = settings_.url.substr(settings_.url.rfind('/') + 1);
    const std::string out = runCommand(script("postgresql.sh") + " psql " + pg_ + " -d " + db +
                                       " -tA -c \"" + sql + "\"");
    return std::atol(out.c_str());
  }

  StoreSettings node(const std::string& name) const {
    StoreSettings s = settings_;
    s.node = name;
    return s;
  }

  std::string pg_;
  std::string broker_;
  std::string queue_;
  StoreSettings settings_;
};

Message status(const std::string& id) {
  Message m(id);
  m.setBody("<TrangThai>" + id + "</TrangThai>");
  m.setHeader("MaHoSo", "H22-" + id);
  return m;
}

// The dossiers' latest states, kept in the shared store for every node's figures.
TEST_F(ClusterTest, TheSharedStoreKeepsEachDossiersLatestState) {
  auto store = openStore(node("tracker"));
  ASSERT_TRUE(store.ok()) << store.error().message;
  testing::expectDossierTracking(**store);
}

// Each node writes its own audit chain in the shared store (a tool beside it writes to the
// same one in turn); `lienthongctl audit verify` reads them from the database and names
// the first bad record of a chain tampered with, for each kind of tampering.
TEST_F(ClusterTest, EachNodeKeepsItsOwnAuditChainAndATamperedOneIsFound) {
  pki::SigningKey::Settings ks;
  ks.name = "node";
  ks.key_file = std::string(LIENTHONG_BINARY_DIR) + "/tests/pki/agency-key.pem";
  ks.cert_file = std::string(LIENTHONG_BINARY_DIR) + "/tests/pki/agency-chain.pem";
  auto key = pki::SigningKey::load(ks);
  ASSERT_TRUE(key.ok()) << key.error().message;
  // Six records and a checkpoint of the last, on the chain of node `name`.
  auto chainOf = [&](const std::string& name) {
    auto store = openStore(node(name));
    ASSERT_TRUE(store.ok()) << store.error().message;
    EXPECT_EQ((*store)->auditChain(), name);
    for (int i = 1; i <= 6; ++i) {
      AuditRecord r;
      r.actor = i % 2 ? "route:relay" : "token:van-hanh";
      r.action = i % 2 ? "delivered" : "POST /v1/reload";
      r.subject = "000.00.01.H22-261127-000" + std::to_string(i);
      ASSERT_TRUE((*store)->audit(r).ok());
    }
    auto head = (*store)->auditHead(name);
    ASSERT_TRUE(head.ok());
    ASSERT_EQ(head->first, 6);
    auto cp = signCheckpoint(**key, name, head->first, head->second, toEpochMs(SystemClock::now()));
    ASSERT_TRUE(cp.ok()) << cp.error().message;
    ASSERT_TRUE((*store)->addAuditCheckpoint(*cp).ok());
  };
  chainOf("a");
  chainOf("b");
  {
    // A tool (no node) named like node a writes to a's chain, after it.
    auto tool = openStore(node("a"), false);
    ASSERT_TRUE(tool.ok()) << tool.error().message;
    AuditRecord r;
    r.actor = "tool";
    r.action = "dlq purge";
    ASSERT_TRUE((*tool)->audit(r).ok());
    auto records = (*tool)->auditRecords("a", 0, 100);
    ASSERT_TRUE(records.ok());
    ASSERT_EQ(records->size(), 7u);
    EXPECT_EQ(records->back().prev, (*records)[5].hash);
    auto chains = (*tool)->auditChains();
    ASSERT_TRUE(chains.ok());
    EXPECT_EQ(*chains, (std::vector<std::string>{"a", "b"}));
  }

  TempHome home;
  home.write("config.yaml", "store:\n  postgresql: { url: \"" + settings_.url +
                                "\", node: ctl }\n"
                                "keys:\n  node: { key: " +
                                ks.key_file + ", cert: " + ks.cert_file +
                                " }\n"
                                "audit: { key: node }\n");
  const std::string ctl = std::string(LIENTHONG_BINARY_DIR) + "/apps/lienthongctl/lienthongctl";
  const std::string verify = ctl + " audit verify --config " + home.path("config.yaml").string();
  int rc = -1;
  std::string out = runCommand(verify, &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("chain a: intact: 7 record(s)"), std::string::npos) << out;
  EXPECT_NE(out.find("chain b: intact: 6 record(s) (1 to 6), 1 checkpoint(s), the last of "
                     "record 6"),
            std::string::npos)
      << out;

  const std::string db = settings_.url.substr(settings_.url.rfind('/') + 1);
  for (const std::string kind : {"modified", "deleted", "inserted", "reordered"}) {
    const std::string chain = "n-" + kind;
    chainOf(chain);
    AuditRecord second;
    {
      auto store = openStore(node(chain), false);
      ASSERT_TRUE(store.ok());
      auto records = (*store)->auditRecords(chain, 1, 1);
      ASSERT_TRUE(records.ok() && records->size() == 1);
      second = records->front();
    }
    for (const auto& t : testing::tamperings("lienthong_audit", chain, second)) {
      if (t.kind != kind) continue;
      std::string sql;
      for (const std::string& s : t.sql) sql += s + ";\n";
      home.write("tamper.sql", sql);
      const std::string done =
          runCommand(script("postgresql.sh") + " psql " + pg_ + " -d " + db +
                     " -q -v ON_ERROR_STOP=1 -f " + home.path("tamper.sql").string());
      ASSERT_EQ(done, "") << done;
      out = runCommand(verify + " --chain " + chain, &rc);
      EXPECT_EQ(WEXITSTATUS(rc), 1) << kind << ": " << out;
      EXPECT_NE(out.find("chain " + chain + ": BROKEN at record " + std::to_string(t.first_bad) +
                         " (" + kind + ")"),
                std::string::npos)
          << kind << ": " << out;
    }
  }
  out = runCommand(verify + " --chain b", &rc);
  EXPECT_EQ(rc, 0) << "one chain tampered with leaves the others intact: " << out;
}

// Keys are shared; a node name is one daemon's; a node that is gone leaves its journal
// to the next look but one of a live node; replays belong to whoever claims them.
TEST_F(ClusterTest, TheSharedStoreHandsTheJournalOfAGoneNodeToALiveOne) {
  auto a = openStore(node("a"));
  ASSERT_TRUE(a.ok()) << a.error().message;
  auto b = openStore(node("b"));
  ASSERT_TRUE(b.ok()) << b.error().message;
  auto again = openStore(node("a"));
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find("node 'a' is in use"), std::string::npos)
      << again.error().message;

  const auto keep = SystemClock::now() + 1h;
  auto first = (*a)->appendOnce("intake", status("m1"), "m1", keep);
  ASSERT_TRUE(first.ok() && first->has_value());
  auto dup = (*b)->appendOnce("intake", status("m1-again"), "m1", keep);
  ASSERT_TRUE(dup.ok());
  EXPECT_FALSE(dup->has_value()) << "node b must see node a's key";
  auto seen = (*b)->known("intake", "m1", SystemClock::now());
  ASSERT_TRUE(seen.ok());
  EXPECT_TRUE(*seen);
  ASSERT_TRUE((*a)->append("intake", status("m2")).ok());
  auto dead = (*a)->append("intake", status("m3"));
  ASSERT_TRUE(dead.ok());
  // Accepted with no dossier key: the one its route found is kept with the dead letter.
  ASSERT_TRUE((*a)->deadLetter(*dead, "Permanent: HTTP 400", "000.00.01.H22-240315-0003").ok());

  auto none = (*b)->takeOver();
  ASSERT_TRUE(none.ok()) << none.error().message;
  EXPECT_TRUE(none->empty()) << "node a lives";
  a->reset();  // node a is gone: its session and its lock with it
  auto look = (*b)->takeOver();
  ASSERT_TRUE(look.ok());
  EXPECT_TRUE(look->empty()) << "a node is taken over at the second look that finds it gone";
  // The server lets go of a's lock when its backend has ended, a moment after the close.
  Result<std::vector<StoredMessage>> taken = std::vector<StoredMessage>();
  ASSERT_TRUE(testing::eventually(
      [&] {
        taken = (*b)->takeOver();
        return !taken.ok() || !taken->empty();
      },
      10s));
  ASSERT_TRUE(taken.ok()) << taken.error().message;
  ASSERT_EQ(taken->size(), 2u);
  EXPECT_EQ((*taken)[0].message.id(), "m1");
  EXPECT_EQ((*taken)[1].message.id(), "m2");
  auto mine = (*b)->pending();
  ASSERT_TRUE(mine.ok());
  EXPECT_EQ(mine->size(), 2u);

  // An operator replays the dead letter from a tool (no node): a live node claims it.
  auto tool = openStore(settings_, false);
  ASSERT_TRUE(tool.ok()) << tool.error().message;
  auto letters = (*tool)->deadLetters({});
  ASSERT_TRUE(letters.ok());
  ASSERT_EQ(letters->size(), 1u);
  EXPECT_EQ((*letters)[0].message.dossierKey(), "000.00.01.H22-240315-0003");
  ASSERT_TRUE((*tool)->replay((*letters)[0].seq, "", "operator").ok());
  auto replayed = (*b)->takeOver();
  ASSERT_TRUE(replayed.ok());
  ASSERT_EQ(replayed->size(), 1u);
  EXPECT_EQ((*replayed)[0].message.id(), "m3");
  auto depths = (*tool)->depths();
  ASSERT_TRUE(depths.ok());
  EXPECT_EQ((*depths)["intake"].depth, 3u);
  EXPECT_EQ((*depths)["intake"].dead_letters, 0u);
}

// The daemon side of a take-over: a node that is gone left a journalled message; the
// live daemon claims it (at its second look) and delivers it through the route.
TEST_F(ClusterTest, ADaemonDeliversTheJournalOfANodeThatIsGone) {
  {
    auto gone = openStore(node("gone"));
    ASSERT_TRUE(gone.ok()) << gone.error().message;
    ASSERT_TRUE((*gone)->append("relay", status("left-behind")).ok());
  }  // its session ends: its lock is free
  HttpPeer backend;
  TempHome home;
  home.write("config.yaml",
             "log: { level: warn }\n"
             "listeners:\n  public: { http: { port: 0 } }\n"
             "connections:\n  backend: { http: { url: \"" +
                 backend.url() +
                 "\" } }\n"
                 "store:\n  postgresql: { url: \"" +
                 settings_.url +
                 "\", node: live, take-over-every: 100ms }\n"
                 "routes: [ routes ]\n");
  home.write("routes/relay.yaml",
             "routes:\n"
             "  - id: relay\n"
             "    pattern: one-way\n"
             "    from: { http: { listener: public, path: /relay } }\n"
             "    to: { http: { connection: backend, path: /in } }\n");
  std::unique_ptr<Daemon> daemon;
  ASSERT_NE(testing::startDaemon(home.path("config.yaml"), daemon), 0u);
  ASSERT_TRUE(backend.waitForRequests(1, 30s)) << "the gone node's message was not taken over";
  EXPECT_EQ(backend.requests()[0].body, "<TrangThai>left-behind</TrangThai>");
  ASSERT_TRUE(testing::eventually([&] {
    return count("SELECT count(*) FROM lienthong_journal") == 0;
  })) << "delivered, but still journalled";
  daemon->stop();
}

// `settle: delivered`: the broker keeps the message until it is delivered, nothing is
// journalled, and an idempotency key recorded before (by any node) drops the message.
TEST_F(ClusterTest, AnInputThatSettlesOnDeliveryDropsAKeyAnyNodeRecorded) {
  HttpPeer backend;
  {
    auto tool = openStore(settings_, false);
    ASSERT_TRUE(tool.ok()) << tool.error().message;
    ASSERT_TRUE((*tool)->remember("deliver", "seen-before", SystemClock::now() + 1h).ok());
  }
  ::setenv("LIENTHONG_TEST_AMQP_PASSWORD", "guest", 1);
  TempHome home;
  home.write("config.yaml",
             "log: { level: warn }\n"
             "listeners:\n  public: { http: { port: 0 } }\n"
             "connections:\n"
             "  backend: { http: { url: \"" +
                 backend.url() +
                 "\" } }\n"
                 "  broker: { amqp: { url: \"amqp://127.0.0.1:" +
                 fixturePort(broker_) +
                 "\", user: guest, password-env: LIENTHONG_TEST_AMQP_PASSWORD,\n"
                 "                    sasl: { mechanisms: [PLAIN], allow-insecure: true } } }\n"
                 "store:\n  postgresql: { url: \"" +
                 settings_.url +
                 "\", node: only }\n"
                 "routes: [ routes ]\n");
  home.write("routes/r.yaml",
             "routes:\n"
             "  - id: intake\n"
             "    pattern: request-reply\n"
             "    from: { http: { listener: public, path: /status } }\n"
             "    to: { amqp: { connection: broker, address: /queue/" +
                 queue_ +
                 " } }\n"
                 "  - id: deliver\n"
                 "    pattern: one-way\n"
                 "    from: { amqp: { connection: broker, address: /queue/" +
                 queue_ +
                 ", settle: delivered } }\n"
                 "    delivery: { idempotency: { key: \"${MaThongDiep}\" } }\n"
                 "    to: { http: { connection: backend, path: /in,\n"
                 "                  forward-headers: [MaThongDiep] } }\n");
  std::unique_ptr<Daemon> daemon;
  const std::uint16_t port = testing::startDaemon(home.path("config.yaml"), daemon);
  ASSERT_NE(port, 0u);
  auto send = [&](const std::string& key) {
    return testing::httpCall(port, "POST", "/status", key, {{"MaThongDiep", key}}).status;
  };
  ASSERT_TRUE(testing::eventually([&] { return send("seen-before") == 200; }, 20s));
  ASSERT_EQ(send("new"), 200);
  ASSERT_TRUE(backend.waitForRequests(1, 20s));
  // Both left the queue: the duplicate acknowledged, not delivered.
  ASSERT_TRUE(testing::eventually(
      [&] {
        return testing::queueDepth(broker_, queue_) == 0 &&
               daemon->engine().stats().duplicates == 1;
      },
      20s));
  ASSERT_EQ(backend.requests().size(), 1u);
  EXPECT_EQ(backend.requests()[0].headers.at("MaThongDiep"), "new");
  EXPECT_EQ(count("SELECT count(*) FROM lienthong_journal"), 0) << "nothing is journalled";
  EXPECT_EQ(count("SELECT count(*) FROM lienthong_idempotency WHERE key = 'new'"), 1)
      << "a delivered message's key is recorded";
  daemon->stop();
}

// Two nodes take dossier status messages over HTTP and hand them to a single-active-
// consumer quorum queue before answering; the consumer delivers them to the one-stop
// system with idempotency keys in PostgreSQL. The node that consumes is SIGKILLed
// mid-stream: every acknowledged message arrives, each dossier's in order, duplicates
// only for what was under way at the kill.
TEST_F(ClusterTest, TwoNodesOneKilledNothingLostOrderKept) {
  constexpr int kDossiers = 40;
  constexpr int kPerDossier = 250;  // 10,000 messages
  constexpr int kClients = 8;
  ASSERT_EQ(
      runCommand(script("rabbitmq.sh") + " declare " + broker_ + " " + queue_ + " >/dev/null"), "");

  struct Received {
    std::string dossier;
    int seq;
    std::string id;
    std::string node;  // which node delivered it
  };
  std::mutex received_mutex;
  std::vector<Received> received;
  HttpPeer backend;
  backend.setHandler([&](const HttpPeer::Request& r) {
    auto header = [&](const char* name) {
      auto it = r.headers.find(name);
      return it == r.headers.end() ? std::string() : it->second;
    };
    std::lock_guard lock(received_mutex);
    received.push_back({header("MaHoSo"), std::atoi(header("ThuTu").c_str()), header("MaThongDiep"),
                        header("X-Node")});
    return HttpPeer::Response{200, "ok", "text/plain"};
  });
  auto delivered = [&] {
    std::lock_guard lock(received_mutex);
    return received.size();
  };

  ::setenv("LIENTHONG_TEST_AMQP_PASSWORD", "guest", 1);
  TempHome home_a, home_b;
  auto configure = [&](TempHome& home, const std::string& name) {
    home.write("config.yaml",
               "log: { level: info }\n"
               "engine: { workers: 16 }\n"
               "listeners:\n  public: { http: { port: 0, threads: 32 } }\n"
               "connections:\n"
               "  backend: { http: { url: \"" +
                   backend.url() +
                   "\", pool: 16 } }\n"
                   "  broker: { amqp: { url: \"amqp://127.0.0.1:" +
                   fixturePort(broker_) +
                   "\", user: guest, password-env: LIENTHONG_TEST_AMQP_PASSWORD,\n"
                   "                    sasl: { mechanisms: [PLAIN], allow-insecure: true },\n"
                   "                    reconnect: { initial: 50ms, max: 1s } } }\n"
                   "store:\n  postgresql: { url: \"" +
                   settings_.url + "\", node: " + name +
                   ", take-over-every: 500ms }\n"
                   "routes: [ routes ]\n");
    home.write("routes/cluster.yaml",
               "routes:\n"
               "  - id: intake\n"
               "    pattern: request-reply\n"
               "    from: { http: { listener: public, path: /status } }\n"
               "    delivery: { retry: { attempts: 3, initial: 50ms } }\n"
               "    to: { amqp: { connection: broker, address: /amq/queue/" +
                   queue_ +
                   ", group-id: \"${MaHoSo}\" } }\n"
                   "  - id: deliver\n"
                   "    pattern: one-way\n"
                   "    from: { amqp: { connection: broker, address: /amq/queue/" +
                   queue_ +
                   ", settle: delivered, credit: 200 } }\n"
                   "    delivery:\n"
                   "      retry: { initial: 20ms, max: 200ms }\n"
                   "      idempotency: { key: \"${MaThongDiep}\", keep: 1d }\n"
                   "      ordering: { key: \"${MaHoSo}\" }\n"
                   "    steps: [ { set-header: { X-Node: " +
                   name +
                   " } } ]\n"
                   "    to: { http: { connection: backend, path: /in,\n"
                   "                  forward-headers: [MaHoSo, ThuTu, MaThongDiep, X-Node] } }\n");
  };
  configure(home_a, "node-a");
  configure(home_b, "node-b");
  // b first: it is the queue's active consumer, and the one that is killed.
  auto b = std::make_unique<DaemonProcess>(home_b.path("config.yaml"), home_b.path("d.log"));
  std::atomic<std::uint16_t> port_b{b->waitReady()};
  ASSERT_NE(port_b.load(), 0) << readText(home_b.path("d.log"));
  // a starts once b consumes: b is the queue's single active consumer.
  ASSERT_TRUE(testing::eventually(
      [&] {
        return runCommand(script("rabbitmq.sh") + " ctl " + broker_ + " list_consumers --quiet")
                   .find(queue_) != std::string::npos;
      },
      30s))
      << readText(home_b.path("d.log"));
  DaemonProcess a(home_a.path("config.yaml"), home_a.path("d.log"));
  const std::uint16_t port_a = a.waitReady();
  ASSERT_NE(port_a, 0) << readText(home_a.path("d.log"));
  auto logs = [&] {
    return "node a:\n" + readText(home_a.path("d.log")) + "node b:\n" +
           readText(home_b.path("d.log"));
  };

  // Clients: dossiers alternate between the nodes; each dossier's messages go one after
  // the other, each resent (to the other node once b is gone) until it is answered 200.
  std::atomic<bool> b_alive{true};
  std::atomic<bool> give_up{false};
  std::mutex acked_mutex;
  std::set<std::string> acknowledged;
  std::atomic<int> resent{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      for (int d = c; d < kDossiers; d += kClients) {
        const std::string dossier = "000.00.01.H22-" + std::to_string(1000 + d);
        for (int seq = 0; seq < kPerDossier; ++seq) {
          for (int attempt = 0;; ++attempt) {
            const bool to_b = d % 2 == 1 && b_alive.load();
            const int status = post(to_b ? port_b.load() : port_a, dossier, seq);
            if (status == 200) break;
            resent.fetch_add(1);
            if (give_up.load()) return;
            if (attempt > 2000) {
              ADD_FAILURE() << dossier << " " << seq << " never accepted (last " << status << ")";
              return;
            }
            std::this_thread::sleep_for(5ms);  // a pause before the resend, as a client would
          }
          std::lock_guard lock(acked_mutex);
          acknowledged.insert(dossier + "-" + std::to_string(seq));
        }
      }
    });
  }
  if (!testing::eventually([&] { return delivered() >= 3000; }, 120s)) {
    give_up = true;
    for (auto& t : clients) t.join();
    FAIL() << "3000 messages did not arrive\n" << logs();
  }
  std::size_t before_kill = 0;
  {
    std::lock_guard lock(received_mutex);
    before_kill = received.size();
    // b is the queue's single active consumer: everything so far came through it.
    for (const auto& r : received) ASSERT_EQ(r.node, "node-b") << "a consumed before the kill";
  }
  b_alive = false;
  EXPECT_EQ(b->kill(SIGKILL), 128 + SIGKILL);
  // b went on delivering until the signal landed, and up to 16 requests it sent just
  // before (its pool to the backend) may still be on their way to the record.
  std::size_t at_kill = 0;
  {
    std::lock_guard lock(received_mutex);
    at_kill = received.size() + 16;
  }
  for (auto& t : clients) t.join();
  ASSERT_EQ(acknowledged.size(), static_cast<std::size_t>(kDossiers * kPerDossier));

  auto all_there = [&] {
    std::set<std::string> got;
    std::lock_guard lock(received_mutex);
    for (const auto& r : received) got.insert(r.id);
    return std::includes(got.begin(), got.end(), acknowledged.begin(), acknowledged.end());
  };
  ASSERT_TRUE(testing::eventually(all_there, 120s)) << logs();
  EXPECT_EQ(a.kill(SIGTERM), 0) << logs();

  // In order per dossier: each message arrives after the ones before it; a message that
  // was being delivered at the kill may arrive twice, right after itself.
  std::map<std::string, std::vector<int>> by_dossier;
  std::set<std::string> unique;
  for (const auto& r : received) {
    by_dossier[r.dossier].push_back(r.seq);
    unique.insert(r.id);
  }
  const std::size_t duplicates = received.size() - unique.size();
  // The survivor took over the queue: what arrived after the kill came through a.
  for (std::size_t i = std::max(before_kill + 200, at_kill); i < received.size(); ++i) {
    ASSERT_EQ(received[i].node, "node-a") << "delivery " << i << " after the kill";
  }
  for (const auto& [dossier, seqs] : by_dossier) {
    for (std::size_t i = 1; i < seqs.size(); ++i) {
      ASSERT_TRUE(seqs[i] == seqs[i - 1] + 1 || seqs[i] == seqs[i - 1])
          << dossier << ": " << seqs[i] << " after " << seqs[i - 1];
    }
  }
  // What b had under way when it died: at most its credit (200) per route.
  EXPECT_LE(duplicates, 200u);
  // Every key is in the shared store once, whichever node delivered the message.
  EXPECT_EQ(count("SELECT count(*) FROM lienthong_idempotency WHERE route = 'deliver'"),
            kDossiers * kPerDossier);
  std::printf("[ figures  ] %zu delivered for %d acknowledged: %zu duplicate(s); %d resend(s)\n",
              received.size(), kDossiers * kPerDossier, duplicates, resent.load());
}

}  // namespace
}  // namespace lienthong
