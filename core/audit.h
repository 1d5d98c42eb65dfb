#pragma once
// The audit chain (docs/operations.md, "The audit chain"): every admin action and every
// message a route settled leaves a record; each record carries the hash of the one before
// it, so that a record changed, removed, added or moved breaks the chain where it was.
// At intervals the daemon signs the chain's head with the node's key (a checkpoint): a
// chain rewritten from some record on no longer ends in the signed hash. Old records may
// be pruned up to a checkpoint, which then anchors what is left.
//
// A chain belongs to one writer: the embedded store has one ("local"); in the shared
// store each node has its own (its node name), so that nodes never wait on each other.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lienthong/result.h"

namespace lienthong {

namespace pki {
class SigningKey;
class TrustStore;
}  // namespace pki

struct AuditRecord {
  std::int64_t seq = 0;  // its place in its chain: 1, 2, …
  std::string chain;
  std::int64_t at_ms = 0;
  std::string actor;       // "route:ID", "token:NAME", "certificate:CN", "anonymous", "daemon"
  std::string action;      // delivered, dead-lettered, reload, replay, refused, …
  std::string subject;     // the dossier code, route id, dead letter, request path
  std::string message_id;  // the message's id ("" for an admin action)
  std::string trace_id;
  std::string digest;         // the hex SHA-256 of the message's body ("" for an admin action)
  std::uint64_t version = 0;  // the route table version that handled it (0: none)
  std::string detail;         // the outcome: an HTTP status, a reason, an endpoint
  std::string prev;           // the hash of the record before it (kAuditGenesis for the first)
  std::string hash;           // auditHash(*this)
};

// The `prev` of a chain's first record: 64 zeros.
extern const char* const kAuditGenesis;

// The hex SHA-256 over the record's prev and fields (not its seq: its place is what the
// links say). Every field is length-prefixed, so no two records share an encoding.
std::string auditHash(const AuditRecord& record);
// Fills seq, prev and hash: the record follows (head_seq, head_hash).
void sealAuditRecord(AuditRecord& record, std::int64_t head_seq, const std::string& head_hash);

// A chain's head signed by the node's key.
struct AuditCheckpoint {
  std::string chain;
  std::int64_t seq = 0;  // the record it vouches for
  std::string hash;      // that record's hash
  std::int64_t at_ms = 0;
  std::string signer;       // the certificate's subject
  std::string cert;         // the signer's certificate and its chain (PEM, leaf first); ""
                            // when read from a store, which keeps it once (AuditCerts)
  std::string signature;    // hex: SHA-256 with the key's algorithm over checkpointText()
  std::string cert_sha256;  // the hex SHA-256 of `cert`
};

// The signers' certificates as a store keeps them: by SHA-256, each once.
using AuditCerts = std::map<std::string, std::string>;

// The bytes a checkpoint signs.
std::string checkpointText(const AuditCheckpoint& checkpoint);
// Signs (seq, hash) of `chain` with `key` now.
Result<AuditCheckpoint> signCheckpoint(const pki::SigningKey& key, const std::string& chain,
                                       std::int64_t seq, const std::string& hash,
                                       std::int64_t at_ms);

// Who may have signed checkpoints. `certs`: the node's certificates (PEM): a checkpoint
// signed with the key of one of them passes (a certificate renewed on the same key too).
// `trust`: a certificate with the same subject as one of `certs` (the node's identity,
// renewed with a new key) that chains to the trust store at the checkpoint's time also
// passes. Neither: signatures are checked, not who made them.
struct AuditSigners {
  const pki::TrustStore* trust = nullptr;
  std::vector<std::string> certs;
};

// What verification found. `first_bad` is the seq of the first record that is not as it
// was written (0 when the chain is intact), `kind` what happened to it: modified,
// deleted, inserted, reordered, rewritten (a run of records changed with their hashes:
// only a checkpoint shows it) or checkpoint (a checkpoint itself is forged or altered).
struct AuditProblem {
  std::int64_t first_bad = 0;
  std::string kind;
  std::string text;  // for people: which records, and why
};
struct AuditReport {
  std::string chain;
  std::int64_t records = 0;
  std::int64_t first = 0;  // seq of the first record kept (after pruning: > 1)
  std::int64_t last = 0;
  std::int64_t checkpoints = 0;
  std::int64_t last_checkpoint = 0;  // seq of the newest valid checkpoint (0: none)
  std::optional<AuditProblem> problem;
  std::vector<std::string> warnings;  // not a break: records after the last checkpoint, …
  bool ok() const { return !problem; }
};

// Verifies one chain as its records are read, page by page, in seq order (as stored):
// memory stays bounded however long the chain. Stops at the first problem.
class AuditVerifier {
 public:
  // `certs`: the certificates of checkpoints read without theirs (by SHA-256). Each
  // certificate is read and compared with the node's once, however many it signed.
  AuditVerifier(std::string chain, const std::vector<AuditCheckpoint>& checkpoints,
                const AuditSigners& signers, const AuditCerts& certs = {});
  // The next records; `ahead`: the ones after them, when read already (a record linked
  // to one stored later is told as moved when that one is in `page` or `ahead`). False
  // once a problem was found (no need to read on).
  bool add(const std::vector<AuditRecord>& page, const std::vector<AuditRecord>& ahead = {});
  AuditReport finish();

 private:
  bool start(const AuditRecord& first);
  bool fail(std::int64_t seq, const char* kind, std::string text);
  // A forged checkpoint at or before `seq`: told (true).
  bool forgedUpTo(std::int64_t seq);

  const std::string chain_;
  AuditReport report_;
  std::map<std::int64_t, std::string> vouches_;  // valid checkpoints: seq -> hash
  std::map<std::int64_t, std::string> forged_;   // seq -> why not
  bool started_ = false;
  std::int64_t prev_seq_ = 0;
  std::string prev_hash_ = kAuditGenesis;
  std::string before_prev_;      // the hash two records back ("" when none)
  std::int64_t vouched_ = 0;     // the newest checkpoint met so far
  std::int64_t anchor_ = 0;      // the checkpoint a pruning left (0: none)
  bool prune_recorded_ = false;  // the pruning up to anchor_ is on the chain
};

// Verifies one chain: `records` in seq order (as stored), `checkpoints` in seq order.
// Stops at the first problem.
AuditReport verifyAuditChain(const std::string& chain, const std::vector<AuditRecord>& records,
                             const std::vector<AuditCheckpoint>& checkpoints,
                             const AuditSigners& signers, const AuditCerts& certs = {});

// JSON of a record and a checkpoint (the admin API's; lienthongctl reads them back).
void appendAuditJson(std::string& out, const AuditRecord& record);
void appendAuditJson(std::string& out, const AuditCheckpoint& checkpoint);

}  // namespace lienthong
