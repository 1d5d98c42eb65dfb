// The embedded store: journal, dead letters, idempotency keys, figures; durable across a
// reopen; group commit; refusals of a file that is no store and of a second process.

#include "core/store.h"
#include "unit/core/dossier_tracking.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

namespace lienthong {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // On the build's disk (not a RAM disk): commits pay a real fsync.
    static int n = 0;
    dir_ = fs::path(LIENTHONG_BINARY_DIR) / "tests" /
           ("store-" + std::to_string(::getpid()) + "-" + std::to_string(++n));
    fs::create_directories(dir_);
    path_ = (dir_ / "lienthong.db").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<Store> open() {
    auto s = openSqliteStore(path_);
    EXPECT_TRUE(s.ok()) << s.error().message;
    return s.ok() ? std::move(*s) : nullptr;
  }

  static Message dossier(const std::string& code, std::string body) {
    Message m;
    m.setDossierKey(code);
    m.setCorrelationId("corr-" + code);
    m.setContentType("application/xml");
    m.setHeader("MaHoSo", code);
    m.setHeader("X-Nhi-Phan", std::string("a\0b\nc", 5));
    m.setBody(std::move(body));
    return m;
  }

  fs::path dir_;
  std::string path_;
};

TEST_F(StoreTest, JournalSurvivesAReopenAndSettlesOnceDeliveredOrDead) {
  std::int64_t first = 0, second = 0, third = 0;
  const std::string binary("<HoSo>\0\xFF</HoSo>", 15);
  Message one = dossier("HS-1", binary);
  {
    auto store = open();
    ASSERT_TRUE(store);
    first = *store->append("status", one);
    second = *store->append("status", dossier("HS-2", "<b/>"));
    third = *store->append("sync", dossier("HS-3", "<c/>"));
    EXPECT_LT(first, second);
    EXPECT_LT(second, third);
    ASSERT_TRUE(store->delivered(second).ok());
  }
  auto store = open();  // as after a crash and a restart
  ASSERT_TRUE(store);
  auto pending = store->pending();
  ASSERT_TRUE(pending.ok()) << pending.error().message;
  ASSERT_EQ(pending->size(), 2u);
  const StoredMessage& p = (*pending)[0];
  EXPECT_EQ(p.seq, first);
  EXPECT_EQ(p.route, "status");
  EXPECT_EQ(p.message.id(), one.id());
  EXPECT_EQ(p.message.body(), binary);
  EXPECT_EQ(p.message.correlationId(), "corr-HS-1");
  EXPECT_EQ(p.message.dossierKey(), "HS-1");
  EXPECT_EQ(p.message.contentType(), "application/xml");
  EXPECT_EQ(p.message.headers(), one.headers());
  EXPECT_LE(SystemClock::now() - p.accepted, 60s);
  EXPECT_EQ((*pending)[1].seq, third);

  auto depths = store->depths();
  ASSERT_TRUE(depths.ok());
  EXPECT_EQ(depths->at("status").depth, 1u);
  EXPECT_EQ(depths->at("sync").depth, 1u);
  ASSERT_TRUE(depths->at("sync").oldest);

  ASSERT_TRUE(store->deadLetter(third, "http POST /sync: HTTP 400 (after 5 attempts)").ok());
  EXPECT_FALSE(store->deadLetter(third, "twice").ok());  // already settled
  EXPECT_EQ(store->pending()->size(), 1u);
  auto dead = store->deadLetters({});
  ASSERT_TRUE(dead.ok());
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].seq, third);
  EXPECT_EQ((*dead)[0].message.dossierKey(), "HS-3");
  // A message accepted without a dossier key gets the one its route found; one that had
  // a key keeps it.
  Message keyless = dossier("", "<x/>");
  auto fourth = store->append("sync", keyless);
  auto fifth = store->append("sync", dossier("HS-5", "<x/>"));
  ASSERT_TRUE(fourth.ok() && fifth.ok());
  ASSERT_TRUE(store->deadLetter(*fourth, "InvalidMessage: x", "000.00.01.H22-240315-0004").ok());
  ASSERT_TRUE(store->deadLetter(*fifth, "InvalidMessage: y", "other").ok());
  DeadLetterFilter by_dossier;
  by_dossier.dossier_key = "000.00.01.H22-240315-0004";
  auto keyed = store->deadLetters(by_dossier);
  ASSERT_TRUE(keyed.ok());
  ASSERT_EQ(keyed->size(), 1u);
  EXPECT_EQ((*keyed)[0].seq, *fourth);
  by_dossier.dossier_key = "HS-5";
  auto kept = store->deadLetters(by_dossier);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->size(), 1u);
  ASSERT_TRUE(store->purge(*fourth, "test").ok());
  ASSERT_TRUE(store->purge(*fifth, "test").ok());
  EXPECT_EQ((*dead)[0].reason, "http POST /sync: HTTP 400 (after 5 attempts)");
  depths = store->depths();
  EXPECT_EQ(depths->at("sync").depth, 0u);  // a route with only dead letters
  EXPECT_FALSE(depths->at("sync").oldest);
  EXPECT_EQ(depths->at("sync").dead_letters, 1u);
  EXPECT_EQ(depths->at("status").dead_letters, 0u);
}

TEST_F(StoreTest, DeadLettersAreFoundByRouteReasonDossierAndTime) {
  auto store = open();
  ASSERT_TRUE(store);
  for (int i = 1; i <= 4; ++i) {
    const std::string route = i % 2 ? "status" : "sync";
    auto seq = store->append(route, dossier("HS-" + std::to_string(i), "<x/>"));
    ASSERT_TRUE(store->deadLetter(*seq, i < 3 ? "HTTP 400" : "timed out").ok());
  }
  DeadLetterFilter f;
  f.route = "status";
  EXPECT_EQ(store->deadLetters(f)->size(), 2u);
  f.reason = "timed";
  ASSERT_EQ(store->deadLetters(f)->size(), 1u);
  EXPECT_EQ((*store->deadLetters(f))[0].message.dossierKey(), "HS-3");
  DeadLetterFilter by_dossier;
  by_dossier.dossier_key = "HS-2";
  EXPECT_EQ(store->deadLetters(by_dossier)->size(), 1u);
  DeadLetterFilter later;
  later.since = SystemClock::now() + 1h;
  EXPECT_TRUE(store->deadLetters(later)->empty());
  DeadLetterFilter limited;
  limited.limit = 3;
  EXPECT_EQ(store->deadLetters(limited)->size(), 3u);
}

TEST_F(StoreTest, DeadLettersAreReplayedOrPurgedAndEveryActionIsRecorded) {
  auto store = open();
  ASSERT_TRUE(store);
  std::vector<std::int64_t> seqs;
  for (int i = 1; i <= 3; ++i) {
    // Emitted by a step: it resumes at step 2 of its route.
    auto seq = store->append("status", dossier("HS-" + std::to_string(i), "<x/>"), 2);
    ASSERT_TRUE(store->deadLetter(*seq, "HTTP 400").ok());
    seqs.push_back(*seq);
  }
  auto back = store->replay(seqs[0], "", "mai@tinh");
  ASSERT_TRUE(back.ok()) << back.error().message;
  auto moved = store->replay(seqs[1], "status-v2", "mai@tinh");
  ASSERT_TRUE(moved.ok());
  ASSERT_TRUE(store->purge(seqs[2], "an@tinh").ok());
  EXPECT_FALSE(store->purge(seqs[2], "an@tinh").ok());  // gone already
  EXPECT_TRUE(store->deadLetters({})->empty());
  auto pending = store->pending();
  ASSERT_EQ(pending->size(), 2u);
  EXPECT_EQ((*pending)[0].route, "status");
  EXPECT_EQ((*pending)[0].message.dossierKey(), "HS-1");
  EXPECT_EQ((*pending)[0].first_step, 2u);  // back where it was
  EXPECT_EQ((*pending)[1].route, "status-v2");
  EXPECT_EQ((*pending)[1].first_step, 0u);  // another route: from its start
  auto actions = store->actions();
  ASSERT_TRUE(actions.ok());
  ASSERT_EQ(actions->size(), 3u);
  EXPECT_EQ((*actions)[0].who, "mai@tinh");
  EXPECT_EQ((*actions)[0].action, "replay");
  EXPECT_EQ((*actions)[0].seq, seqs[0]);
  EXPECT_EQ((*actions)[1].detail, "to route status-v2");
  EXPECT_EQ((*actions)[2].action, "purge");
  EXPECT_EQ((*actions)[2].who, "an@tinh");
}

TEST_F(StoreTest, ARerouteMovesTheJournalEntryToTheDeadLetterRouteInOneWrite) {
  std::int64_t seq = 0;
  {
    auto store = open();
    ASSERT_TRUE(store);
    seq = *store->append("status", dossier("HS-7", "<x/>"), 2);
    Message m = dossier("HS-7", "<x/>");
    m.setHeader("deadletter.reason", "Permanent: HTTP 400");
    ASSERT_TRUE(store->reroute(seq, "status-dlq", m).ok());
    EXPECT_FALSE(store->reroute(seq + 100, "status-dlq", m).ok());
  }
  auto store = open();  // what a restart finds
  auto pending = store->pending();
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].seq, seq);
  EXPECT_EQ((*pending)[0].route, "status-dlq");
  EXPECT_EQ((*pending)[0].first_step, 0u);
  ASSERT_TRUE((*pending)[0].message.header("deadletter.reason"));
  EXPECT_EQ(*(*pending)[0].message.header("deadletter.reason"), "Permanent: HTTP 400");
  EXPECT_EQ((*pending)[0].message.body(), "<x/>");
  EXPECT_TRUE(store->deadLetters({})->empty());
}

TEST_F(StoreTest, IdempotencyKeysAreRememberedUntilTheyExpire) {
  auto store = open();
  ASSERT_TRUE(store);
  const auto in_a_day = SystemClock::now() + 24h;
  EXPECT_TRUE(*store->remember("status", "HS-1-4", in_a_day));
  EXPECT_FALSE(*store->remember("status", "HS-1-4", in_a_day));                // a duplicate
  EXPECT_TRUE(*store->remember("sync", "HS-1-4", in_a_day));                   // per route
  EXPECT_TRUE(*store->remember("status", "HS-1-5", SystemClock::now() - 1s));  // expired
  EXPECT_TRUE(*store->remember("status", "HS-1-5", in_a_day));                 // so new again
  EXPECT_TRUE(*store->remember("status", "old", SystemClock::now() - 1s));
  EXPECT_EQ(*store->expireKeys(SystemClock::now()), 1u);
}

TEST_F(StoreTest, AppendOnceJournalsAKeyOnlyOnce) {
  auto store = open();
  ASSERT_TRUE(store);
  const auto keep = SystemClock::now() + 24h;
  auto first = store->appendOnce("status", dossier("HS-1", "<a/>"), "HS-1-4", keep);
  ASSERT_TRUE(first.ok()) << first.error().message;
  ASSERT_TRUE(*first);
  auto again = store->appendOnce("status", dossier("HS-1", "<a/>"), "HS-1-4", keep);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);  // a duplicate: nothing journalled
  EXPECT_EQ(store->pending()->size(), 1u);
  ASSERT_TRUE(store->delivered(**first).ok());
  // Delivered or not, the key stays until it expires.
  EXPECT_FALSE(*store->appendOnce("status", dossier("HS-1", "<a/>"), "HS-1-4", keep));
  EXPECT_TRUE(*store->appendOnce("sync", dossier("HS-1", "<a/>"), "HS-1-4", keep));
}

TEST_F(StoreTest, ConcurrentWritersShareCommits) {
  auto store = open();
  ASSERT_TRUE(store);
  constexpr int kThreads = 8;
  constexpr int kEach = 100;
  const std::uint64_t before = store->commits();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto seq = store->append("status", dossier("HS-" + std::to_string(t * kEach + i), "<x/>"));
        ASSERT_TRUE(seq.ok()) << seq.error().message;
      }
    });
  }
  for (auto& t : threads) t.join();
  const std::uint64_t commits = store->commits() - before;
  EXPECT_EQ(store->pending()->size(), static_cast<std::size_t>(kThreads * kEach));
  // Every append waited for its commit, yet 8 writers did not need one fsync each (how
  // many share one depends on the disk and the scheduler: typically 4 to 8).
  EXPECT_LT(commits, static_cast<std::uint64_t>(kThreads * kEach) * 3 / 4) << commits << " commits";
  RecordProperty("commits", static_cast<int>(commits));
}

TEST_F(StoreTest, DossierEventsLeaveEachDossiersLatestState) {
  auto store = open();
  ASSERT_TRUE(store);
  testing::expectDossierTracking(*store);
  // Kept across a reopen.
  store.reset();
  store = open();
  ASSERT_TRUE(store);
  auto states = store->dossierStates();
  ASSERT_TRUE(states.ok());
  EXPECT_EQ(states->size(), 2u);
}

TEST_F(StoreTest, RefusesAFileThatIsNoStoreAndASecondProcess) {
  std::ofstream(path_) << "this is a text file, not a store, and it is long enough to matter "
                          "for the SQLite header check of the first page............";
  auto bad = openSqliteStore(path_);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("is not a lienthong store or is damaged"), std::string::npos)
      << bad.error().message;
  fs::remove(path_);

  auto store = open();
  ASSERT_TRUE(store);
  auto second = openSqliteStore(path_);  // flock: another open file description
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().message.find("is in use by another process (pid " +
                                        std::to_string(::getpid()) + ")"),
            std::string::npos)
      << second.error().message;
  store.reset();
  EXPECT_TRUE(openSqliteStore(path_).ok());  // free again once closed
}

AuditRecord auditOf(const std::string& actor, const std::string& action,
                    const std::string& subject) {
  AuditRecord r;
  r.actor = actor;
  r.action = action;
  r.subject = subject;
  r.version = 1;
  return r;
}

TEST_F(StoreTest, AuditRecordsAreChainedAndWrittenWithTheSettlementTheyRecord) {
  {
    auto store = open();
    ASSERT_TRUE(store);
    EXPECT_EQ(store->auditChain(), "local");
    auto seq = store->append("r", dossier("000.00.01.H22-261127-0001", "<a/>"));
    ASSERT_TRUE(seq.ok());
    AuditRecord delivered = auditOf("route:r", "delivered", "000.00.01.H22-261127-0001");
    delivered.message_id = "m-1";
    ASSERT_TRUE(store->delivered(*seq, &delivered).ok());
    auto dead = store->append("r", dossier("000.00.01.H22-261127-0002", "<b/>"));
    ASSERT_TRUE(dead.ok());
    AuditRecord dead_record = auditOf("route:r", "dead-lettered", "000.00.01.H22-261127-0002");
    ASSERT_TRUE(store->deadLetter(*dead, "HTTP 400", "", &dead_record).ok());
    // A settlement that fails leaves no record.
    EXPECT_FALSE(store->deadLetter(*dead, "again", "", &dead_record).ok());
    // Queued without waiting, then one that waits: both are there, in that order.
    ASSERT_TRUE(store->audit(auditOf("token:ops", "GET /v1/trace", "key=x"), false).ok());
    ASSERT_TRUE(store->audit(auditOf("token:ops", "POST /v1/reload", "")).ok());
  }
  auto store = open();  // the chain goes on after a reopen
  ASSERT_TRUE(store->audit(auditOf("daemon", "start", "")).ok());
  auto records = store->auditRecords("local", 0, 100);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 5u);
  EXPECT_EQ((*records)[0].action, "delivered");
  EXPECT_EQ((*records)[0].message_id, "m-1");
  EXPECT_EQ((*records)[0].prev, kAuditGenesis);
  EXPECT_EQ((*records)[1].action, "dead-lettered");
  EXPECT_EQ((*records)[2].action, "GET /v1/trace");
  EXPECT_EQ((*records)[4].action, "start");
  for (std::size_t i = 0; i < records->size(); ++i) {
    EXPECT_EQ((*records)[i].seq, static_cast<std::int64_t>(i) + 1);
    EXPECT_GT((*records)[i].at_ms, 0);
    if (i > 0) {
      EXPECT_EQ((*records)[i].prev, (*records)[i - 1].hash);
    }
  }
  EXPECT_TRUE(verifyAuditChain("local", *records, {}, {}).ok());
  auto head = store->auditHead("local");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->first, 5);
  EXPECT_EQ(head->second, records->back().hash);
  auto found = store->auditFind("000.00.01.H22-261127-0002", 10);
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ(found->front().action, "dead-lettered");
  auto by_message = store->auditFind("m-1", 10);  // not indexed: the newest records
  ASSERT_TRUE(by_message.ok());
  ASSERT_EQ(by_message->size(), 1u);
  EXPECT_EQ(by_message->front().action, "delivered");
  auto page = store->auditRecords("local", 3, 1);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ(page->front().seq, 4);
  auto chains = store->auditChains();
  ASSERT_TRUE(chains.ok());
  EXPECT_EQ(*chains, std::vector<std::string>{"local"});
}

TEST_F(StoreTest, CheckpointsMustMatchTheChainAndPruningKeepsItVerifiable) {
  auto store = open();
  ASSERT_TRUE(store);
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(store->audit(auditOf("route:r", "delivered", "d" + std::to_string(i))).ok());
  }
  auto records = store->auditRecords("local", 0, 100);
  ASSERT_TRUE(records.ok());
  AuditCheckpoint cp;
  cp.chain = "local";
  cp.seq = 4;
  cp.hash = (*records)[2].hash;  // record 3's
  cp.signature = "00";
  auto refused = store->addAuditCheckpoint(cp);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("has no record 4 with hash"), std::string::npos)
      << refused.error().message;
  cp.hash = (*records)[3].hash;
  ASSERT_TRUE(store->addAuditCheckpoint(cp).ok());
  cp.seq = 2;
  cp.hash = (*records)[1].hash;
  ASSERT_TRUE(store->addAuditCheckpoint(cp).ok());

  // Nothing older than a minute ago: nothing goes.
  auto none = store->pruneAudit(SystemClock::now() - 60s, "daemon");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, 0);
  // Everything is older than a minute from now: pruned up to the newest checkpoint (4),
  // which stays; the one of 2 goes with its records.
  auto pruned = store->pruneAudit(SystemClock::now() + 60s, "daemon");
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(*pruned, 4);
  auto left = store->auditRecords("local", 0, 100);
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->size(), 3u);  // 5, 6 and the pruning's own record
  EXPECT_EQ(left->front().seq, 5);
  EXPECT_EQ(left->back().action, "audit-prune");
  EXPECT_NE(left->back().detail.find("4 records up to 4"), std::string::npos)
      << left->back().detail;
  auto cps = store->auditCheckpoints("local");
  ASSERT_TRUE(cps.ok());
  ASSERT_EQ(cps->size(), 1u);
  EXPECT_EQ(cps->front().seq, 4);
  // The chain from the anchor verifies (the signature here is no real one: the links are
  // what this checks, so the checkpoint is given without it).
  AuditCheckpoint anchor = cps->front();
  const AuditReport report = verifyAuditChain("local", *left, {}, {});
  ASSERT_FALSE(report.ok());  // without the anchor, records 1 to 4 are missing
  EXPECT_EQ(report.problem->kind, "deleted");
  EXPECT_EQ(left->front().prev, anchor.hash);
}

}  // namespace
}  // namespace lienthong
