// The audit chain's verification: an intact chain, and each way a store may be tampered
// with — a record modified, deleted (with and without renumbering), inserted, moved, a run
// rewritten with its hashes, the tail cut off, a checkpoint forged or signed by another
// key — found at the first bad record and named; pruning keeps the chain verifiable.

#include "core/audit.h"

#include <gtest/gtest.h>

#include <chrono>
#include <utility>

#include "core/pki.h"

namespace lienthong {
namespace {

std::shared_ptr<const pki::SigningKey> key(const std::string& name) {
  pki::SigningKey::Settings s;
  s.name = name;
  s.key_file = std::string(LIENTHONG_TEST_PKI) + "/" + name + "-key.pem";
  s.cert_file = std::string(LIENTHONG_TEST_PKI) + "/" + name + "-chain.pem";
  auto k = pki::SigningKey::load(s);
  EXPECT_TRUE(k.ok()) << k.error().message;
  return k.ok() ? *k : nullptr;
}

class AuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    node_ = key("agency");
    ASSERT_TRUE(node_);
    signers_.certs.push_back(pki::certPem(node_->cert()));
    for (int i = 1; i <= 12; ++i) append(i % 3 == 0 ? "token:ops" : "route:dvcqg-hoso");
    checkpoint(3);
    checkpoint(8);
    checkpoint(12);
  }

  void append(const std::string& actor) {
    AuditRecord r;
    r.chain = "local";
    r.at_ms = start_ms_ + static_cast<std::int64_t>(records_.size()) * 1000;
    r.actor = actor;
    r.action = actor.rfind("route:", 0) == 0 ? "delivered" : "POST /v1/reload";
    r.subject = "000.00.01.H22-261127-000" + std::to_string(records_.size() % 10);
    r.message_id = "m-" + std::to_string(records_.size());
    r.digest = pki::sha256Hex(r.message_id);
    r.version = 3;
    const std::int64_t head = records_.empty() ? 0 : records_.back().seq;
    sealAuditRecord(r, head, records_.empty() ? std::string() : records_.back().hash);
    records_.push_back(r);
  }

  void checkpoint(std::int64_t seq, const pki::SigningKey* by = nullptr) {
    auto cp = signCheckpoint(by ? *by : *node_, "local", seq, records_[seq - 1].hash,
                             records_[seq - 1].at_ms + 500);
    ASSERT_TRUE(cp.ok()) << cp.error().message;
    checkpoints_.push_back(*cp);
  }

  AuditReport verify() const { return verifyAuditChain("local", records_, checkpoints_, signers_); }

  // The record at place `seq` and after it get their place numbers again (as a tamperer
  // who closes or opens a gap would).
  void renumber() {
    for (std::size_t i = 0; i < records_.size(); ++i)
      records_[i].seq = static_cast<std::int64_t>(i) + 1;
  }

  void expectBroken(std::int64_t first_bad, const std::string& kind) {
    const AuditReport report = verify();
    ASSERT_FALSE(report.ok()) << "tampering not found";
    EXPECT_EQ(report.problem->first_bad, first_bad) << report.problem->text;
    EXPECT_EQ(report.problem->kind, kind) << report.problem->text;
  }

  // From now on: within the test certificates' validity, which starts when the build
  // made them (maybe seconds ago).
  const std::int64_t start_ms_ = std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count();
  std::shared_ptr<const pki::SigningKey> node_;
  AuditSigners signers_;
  std::vector<AuditRecord> records_;
  std::vector<AuditCheckpoint> checkpoints_;
};

TEST_F(AuditTest, AnIntactChainVerifies) {
  const AuditReport report = verify();
  ASSERT_TRUE(report.ok()) << report.problem->text;
  EXPECT_EQ(report.records, 12);
  EXPECT_EQ(report.first, 1);
  EXPECT_EQ(report.last, 12);
  EXPECT_EQ(report.last_checkpoint, 12);
  EXPECT_TRUE(report.warnings.empty());
  EXPECT_EQ(records_.front().prev, kAuditGenesis);
  EXPECT_EQ(records_[4].prev, records_[3].hash);
}

TEST_F(AuditTest, RecordsAfterTheLastCheckpointAreNamedInAWarning) {
  append("route:a");
  append("route:a");
  const AuditReport report = verify();
  ASSERT_TRUE(report.ok());
  ASSERT_EQ(report.warnings.size(), 1u);
  EXPECT_NE(report.warnings[0].find("records 13 to 14"), std::string::npos) << report.warnings[0];
}

TEST_F(AuditTest, EveryFieldIsCoveredByTheHash) {
  for (auto change : std::vector<void (*)(AuditRecord&)>{
           [](AuditRecord& r) { r.at_ms += 1; }, [](AuditRecord& r) { r.actor = "token:x"; },
           [](AuditRecord& r) { r.action = "purge"; }, [](AuditRecord& r) { r.subject += "1"; },
           [](AuditRecord& r) { r.message_id = "m"; }, [](AuditRecord& r) { r.trace_id = "t"; },
           [](AuditRecord& r) { r.digest = "00"; }, [](AuditRecord& r) { r.version = 4; },
           [](AuditRecord& r) { r.detail = "HTTP 200"; }}) {
    AuditRecord r = records_[5];
    change(r);
    EXPECT_NE(auditHash(r), records_[5].hash);
  }
  // Length-prefixed fields: moving a byte from one field to the next changes the hash.
  AuditRecord a = records_[5], b = records_[5];
  a.subject = "ab";
  a.message_id = "c";
  b.subject = "a";
  b.message_id = "bc";
  EXPECT_NE(auditHash(a), auditHash(b));
}

TEST_F(AuditTest, AModifiedRecordIsNamed) {
  records_[4].detail = "HTTP 200";  // was a refusal, say
  expectBroken(5, "modified");
}

TEST_F(AuditTest, ADeletedRecordIsNamed) {
  records_.erase(records_.begin() + 4);
  expectBroken(5, "deleted");
}

TEST_F(AuditTest, ADeletedRecordIsFoundWhenTheRestWasRenumbered) {
  records_.erase(records_.begin() + 4);
  renumber();
  expectBroken(5, "deleted");
}

TEST_F(AuditTest, AnInsertedRecordIsNamed) {
  AuditRecord forged = records_[4];
  forged.actor = "token:intruder";
  sealAuditRecord(forged, 4, records_[3].hash);  // linked to record 4, hashed as it should be
  records_.insert(records_.begin() + 4, forged);
  renumber();
  expectBroken(5, "inserted");
}

TEST_F(AuditTest, AMovedRecordIsNamed) {
  std::swap(records_[4], records_[5]);
  renumber();
  expectBroken(5, "reordered");
}

TEST_F(AuditTest, ARunRewrittenWithItsHashesIsCaughtByTheNextCheckpoint) {
  // Records 5 on changed and every hash after them computed again: the links hold, the
  // checkpoint of record 8 does not.
  records_[4].subject = "000.00.01.H22-261127-9999";
  for (std::size_t i = 4; i < records_.size(); ++i) {
    sealAuditRecord(records_[i], records_[i - 1].seq, records_[i - 1].hash);
  }
  expectBroken(4, "rewritten");
}

TEST_F(AuditTest, ACutOffTailIsCaughtByACheckpointBeyondIt) {
  records_.resize(10);
  expectBroken(11, "deleted");
}

TEST_F(AuditTest, AForgedCheckpointIsNamed) {
  checkpoints_[1].hash = records_[9].hash;  // vouches for another record, same signature
  checkpoints_[1].seq = 10;
  expectBroken(10, "checkpoint");
}

TEST_F(AuditTest, ACheckpointOfAnotherKeyIsRefused) {
  auto other = key("ec");
  ASSERT_TRUE(other);
  checkpoint(10, other.get());
  expectBroken(10, "checkpoint");
  // Trusted by a CA instead of a certificate: both keys are the test root's.
  pki::TrustStore::Settings root;
  root.name = "root";
  root.ca_file = std::string(LIENTHONG_TEST_PKI) + "/root.pem";
  auto trust = pki::TrustStore::load(root);
  ASSERT_TRUE(trust.ok()) << trust.error().message;
  AuditSigners by_ca;
  by_ca.trust = trust->get();
  EXPECT_TRUE(verifyAuditChain("local", records_, checkpoints_, by_ca).ok());
  // Under the trust store and the node's certificate: another subject is not the node,
  // even under the same CA.
  by_ca.certs = signers_.certs;
  const AuditReport report = verifyAuditChain("local", records_, checkpoints_, by_ca);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.problem->kind, "checkpoint");
  EXPECT_NE(report.problem->text.find("not by the node"), std::string::npos)
      << report.problem->text;
}

TEST_F(AuditTest, APrunedChainVerifiesFromTheCheckpointThatAnchorsIt) {
  // As the store prunes: records 1 to 8 and the checkpoint of 3 go, the one of 8 stays,
  // and the pruning's record goes on the chain.
  append("daemon");
  records_.back().action = "audit-prune";
  records_.back().detail = "8 records up to 8 (older than 2026-11-27T10:00:00Z) removed";
  sealAuditRecord(records_.back(), 12, records_[11].hash);
  checkpoint(13);
  records_.erase(records_.begin(), records_.begin() + 8);
  checkpoints_.erase(checkpoints_.begin());
  const AuditReport report = verify();
  ASSERT_TRUE(report.ok()) << report.problem->text;
  EXPECT_EQ(report.first, 9);
  EXPECT_EQ(report.last_checkpoint, 13);
}

TEST_F(AuditTest, RecordsRemovedUpToACheckpointWithoutAPruningAreNamed) {
  // The anchor is there, the pruning's record is not: deleted, not pruned.
  records_.erase(records_.begin(), records_.begin() + 8);
  checkpoints_.erase(checkpoints_.begin());
  expectBroken(1, "deleted");
}

TEST_F(AuditTest, RecordsRemovedBeforeACheckpointLeftBehindAreNamed) {
  records_.erase(records_.begin(), records_.begin() + 8);  // a pruning removes the one of 3 too
  expectBroken(4, "deleted");
}

TEST_F(AuditTest, CheckpointsWithoutAnyRecordAreNamed) {
  records_.clear();
  expectBroken(1, "deleted");
}

TEST_F(AuditTest, ACheckpointsSignerFieldIsChecked) {
  checkpoints_[1].signer = "CN=someone else";
  expectBroken(8, "checkpoint");
}

TEST_F(AuditTest, ACheckpointOfAnotherChainIsNotThisOnes) {
  checkpoints_[1].chain = "other";
  expectBroken(8, "checkpoint");
}

TEST_F(AuditTest, AModifiedRecordIsToldBeforeALaterForgedCheckpoint) {
  records_[2].detail = "HTTP 200";
  checkpoints_[2].signature[10] = checkpoints_[2].signature[10] == 'a' ? 'b' : 'a';
  expectBroken(3, "modified");
}

TEST_F(AuditTest, RecordsRemovedFromTheStartWithoutAnAnchorAreNamed) {
  records_.erase(records_.begin(), records_.begin() + 5);  // 1 to 5: no checkpoint at 5
  expectBroken(1, "deleted");
}

TEST_F(AuditTest, ARecordOfAnotherChainIsNotPartOfThisOne) {
  records_[6].chain = "node-b";
  records_[6].hash = auditHash(records_[6]);
  expectBroken(7, "inserted");
}

// Read page by page (as lienthongctl reads a long chain), with the next page read ahead:
// the same findings, a record moved across a page's end included.
TEST_F(AuditTest, APagedReadFindsWhatAWholeReadFinds) {
  auto paged = [&](std::size_t size) {
    AuditVerifier verifier("local", checkpoints_, signers_);
    for (std::size_t at = 0; at < records_.size(); at += size) {
      const auto end = std::min(records_.size(), at + size);
      const auto ahead_end = std::min(records_.size(), end + size);
      const std::vector<AuditRecord> page(records_.begin() + at, records_.begin() + end);
      const std::vector<AuditRecord> ahead(records_.begin() + end, records_.begin() + ahead_end);
      if (!verifier.add(page, ahead)) break;
    }
    return verifier.finish();
  };
  const AuditReport whole = paged(5);
  ASSERT_TRUE(whole.ok()) << whole.problem->text;
  EXPECT_EQ(whole.records, 12);
  EXPECT_EQ(whole.last_checkpoint, 12);
  std::swap(records_[4], records_[5]);  // record 5 ends the first page of 5
  renumber();
  const AuditReport moved = paged(5);
  ASSERT_FALSE(moved.ok());
  EXPECT_EQ(moved.problem->kind, "reordered") << moved.problem->text;
  EXPECT_EQ(moved.problem->first_bad, 5);
}

// As a store gives them: checkpoints name their certificate by its SHA-256, kept once.
TEST_F(AuditTest, CheckpointsReadWithTheirCertificatesKeptOnceVerify) {
  AuditCerts certs;
  for (AuditCheckpoint& cp : checkpoints_) {
    certs[cp.cert_sha256] = cp.cert;
    cp.cert.clear();
  }
  ASSERT_EQ(certs.size(), 1u);
  const AuditReport report = verifyAuditChain("local", records_, checkpoints_, signers_, certs);
  ASSERT_TRUE(report.ok()) << report.problem->text;
  EXPECT_EQ(report.last_checkpoint, 12);
  // Another certificate put under that name: every checkpoint it signed is refused.
  auto other = key("ec");
  ASSERT_TRUE(other);
  certs.begin()->second = pki::certPem(other->cert());
  const AuditReport swapped = verifyAuditChain("local", records_, checkpoints_, signers_, certs);
  ASSERT_FALSE(swapped.ok());
  EXPECT_EQ(swapped.problem->kind, "checkpoint");
  EXPECT_EQ(swapped.problem->first_bad, 3);
  EXPECT_NE(swapped.problem->text.find("not the one it names"), std::string::npos)
      << swapped.problem->text;
  // And without it at all.
  const AuditReport missing = verifyAuditChain("local", records_, checkpoints_, signers_, {});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.problem->kind, "checkpoint");
}

TEST_F(AuditTest, JsonCarriesEveryField) {
  std::string out;
  appendAuditJson(out, records_[2]);
  for (const char* field : {"\"seq\":3", "\"actor\":\"token:ops\"",
                            "\"prev\":", "\"hash\":", "\"version\":3", "\"digest\":"}) {
    EXPECT_NE(out.find(field), std::string::npos) << field << " in " << out;
  }
}

}  // namespace
}  // namespace lienthong
