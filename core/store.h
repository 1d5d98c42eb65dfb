#pragma once
// The store: the journal of accepted one-way messages, their delivery state, dead letters
// and idempotency keys. Two implementations behind one interface, so that routes do not
// know which: the embedded one (SQLite in WAL mode, group commit) for one daemon, and a
// shared one (PostgreSQL) that several daemons of a cluster use at once.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/audit.h"
#include "core/dossier_stats.h"
#include "lienthong/message.h"
#include "lienthong/result.h"

namespace lienthong {

using SystemClock = std::chrono::system_clock;

// Times as the stores keep them: milliseconds since the epoch.
inline std::int64_t toEpochMs(SystemClock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
inline SystemClock::time_point fromEpochMs(std::int64_t ms) {
  return SystemClock::time_point(std::chrono::milliseconds(ms));
}

// A dossier's news from the dossier and status streams (docs/messages.md): the fields
// the event carries; "" or 0 = not in this event.
struct DossierEvent {
  std::string code;  // MaHoSo (required)
  std::string agency;
  std::string procedure;
  std::string received;
  std::string appointment;
  int status = 0;
  std::string at;  // when it happened (national format); orders the events of a dossier
};

// A journalled one-way message, accepted and not yet settled.
struct StoredMessage {
  std::int64_t seq = 0;  // the journal's order of acceptance
  std::string route;
  Message message{std::string()};
  SystemClock::time_point accepted;
  std::size_t first_step = 0;  // where it resumes: after an aggregation, past its step
};

struct DeadLetter {
  std::int64_t seq = 0;
  std::string route;
  Message message{std::string()};
  std::string reason;
  SystemClock::time_point accepted;
  SystemClock::time_point dead;
};

struct DeadLetterFilter {
  std::string route;        // "" = any
  std::string reason;       // substring; "" = any
  std::string dossier_key;  // "" = any
  std::optional<SystemClock::time_point> since;
  std::optional<SystemClock::time_point> until;
  std::size_t limit = 1000;
  std::int64_t seq = 0;  // one dead letter; 0 = any
};

// An operator's action on the dead letters, as recorded.
struct StoreAction {
  SystemClock::time_point at;
  std::string who;
  std::string action;  // "replay" or "purge"
  std::int64_t seq = 0;
  std::string detail;  // replay: the route it went back to
};

// Per route: messages journalled and not settled, when the oldest was accepted, and the
// dead letters kept.
struct RouteDepth {
  std::size_t depth = 0;
  std::optional<SystemClock::time_point> oldest;
  std::size_t dead_letters = 0;
};

// Contract: every method is thread-safe. Writes are durable when they return ok (the
// embedded store commits many callers' writes with one fsync). An error means nothing
// was written; it says why (full disk, I/O error) so that inputs can push back.
class Store {
 public:
  virtual ~Store() = default;

  // Journals an accepted one-way message that enters its route at top-level step
  // `first_step` (0 for an input's; past the aggregate for a group a step emitted);
  // returns its sequence number. The entries `settles` (the messages a group replaces)
  // leave the journal in the same transaction.
  virtual Result<std::int64_t> append(const std::string& route, const Message& message,
                                      std::size_t first_step = 0,
                                      const std::vector<std::int64_t>& settles = {}) = 0;
  // Journals the message unless `key` was remembered for the route and has not expired:
  // the check, the key (kept until `expires`) and the entry are one transaction. Returns
  // the sequence number, or nullopt for a duplicate (nothing journalled).
  virtual Result<std::optional<std::int64_t>> appendOnce(const std::string& route,
                                                         const Message& message,
                                                         const std::string& key,
                                                         SystemClock::time_point expires) = 0;
  // The message was delivered: it leaves the journal. `audit`: its audit record, written
  // in the same transaction.
  virtual Result<void> delivered(std::int64_t seq, const AuditRecord* audit = nullptr) = 0;
  // The message was given up: it moves to the dead letters with the reason.
  // `dossier`: the dossier code found while processing it, kept with the dead letter when
  // the message had none at acceptance ("" = leave it as it was).
  virtual Result<void> deadLetter(std::int64_t seq, const std::string& reason,
                                  const std::string& dossier = "",
                                  const AuditRecord* audit = nullptr) = 0;
  // The message was given up and goes to another route (its dead-letter route): its
  // journal entry now belongs to `route`, with `message`'s headers, from the first step.
  virtual Result<void> reroute(std::int64_t seq, const std::string& route,
                               const Message& message) = 0;
  // Remembers an idempotency key of a route until `expires`. True when the key is new;
  // false for a duplicate (a key remembered and not expired).
  virtual Result<bool> remember(const std::string& route, const std::string& key,
                                SystemClock::time_point expires) = 0;

  // Whether `key` is remembered for the route and has not expired by `now` (a read: an
  // input whose broker keeps its messages records keys only once they are delivered).
  virtual Result<bool> known(const std::string& route, const std::string& key,
                             SystemClock::time_point now) = 0;

  // Journalled messages not yet settled, in acceptance order (recovery at start).
  virtual Result<std::vector<StoredMessage>> pending() = 0;
  virtual Result<std::vector<DeadLetter>> deadLetters(const DeadLetterFilter& filter) = 0;
  virtual Result<std::map<std::string, RouteDepth>> depths() = 0;
  // A dead letter goes back into the journal for `route` (its own when empty); the next
  // start delivers it. Returns its new journal sequence. Recorded as done by `who`, and
  // with `audit` (its audit record) in the same transaction.
  virtual Result<std::int64_t> replay(std::int64_t seq, const std::string& route,
                                      const std::string& who,
                                      const AuditRecord* audit = nullptr) = 0;
  // A dead letter is deleted. Recorded as done by `who` (and `audit`, as for replay).
  virtual Result<void> purge(std::int64_t seq, const std::string& who,
                             const AuditRecord* audit = nullptr) = 0;
  // Every replay and purge, oldest first.
  virtual Result<std::vector<StoreAction>> actions() = 0;

  // Forgets idempotency keys that expired before `now`; returns how many.
  virtual Result<std::size_t> expireKeys(SystemClock::time_point now) = 0;

  // Commits so far (each one fsync): the group commit's measure.
  virtual std::uint64_t commits() const = 0;

  // A shared store: each daemon is a node that owns the journal entries it accepted.
  // Claims the entries of nodes that are gone (their database session ended, seen at
  // two looks in a row) and of no node (dead letters an operator replayed), and returns
  // them in acceptance order for this node to deliver. The embedded store: nothing.
  virtual Result<std::vector<StoredMessage>> takeOver() { return std::vector<StoredMessage>(); }
  virtual bool shared() const { return false; }

  // The audit chain (core/audit.h). The chain this store writes to: "local" for the
  // embedded store, the node's name for the shared one (each node its own).
  virtual const std::string& auditChain() const = 0;
  // Appends `record` to the chain; its chain, seq, prev and hash are set as it is written.
  // wait = false: queued and written with the next commit (a failure is logged).
  virtual Result<void> audit(const AuditRecord& record, bool wait = true) = 0;
  // The chains kept, by name.
  virtual Result<std::vector<std::string>> auditChains() = 0;
  // Records of `chain` after seq `after`, in seq order, at most `limit`.
  virtual Result<std::vector<AuditRecord>> auditRecords(const std::string& chain,
                                                        std::int64_t after, std::size_t limit) = 0;
  // The newest records (any chain) whose subject, message id or trace id is `key`, oldest
  // first: the hops a restart did not forget.
  virtual Result<std::vector<AuditRecord>> auditFind(const std::string& key, std::size_t limit) = 0;
  // The checkpoints of a chain, with their certificates' SHA-256 (not the certificates:
  // auditCerts has each once).
  virtual Result<std::vector<AuditCheckpoint>> auditCheckpoints(const std::string& chain) = 0;
  virtual Result<AuditCerts> auditCerts() = 0;
  // The seq and hash of the chain's last record (or of the checkpoint that anchors a
  // chain pruned to nothing); (0, "") when it has none.
  virtual Result<std::pair<std::int64_t, std::string>> auditHead(const std::string& chain) = 0;
  // Keeps a checkpoint of this store's chain; refused unless its record has its hash.
  virtual Result<void> addAuditCheckpoint(const AuditCheckpoint& checkpoint) = 0;
  // Removes this store's chain's records up to the newest checkpoint whose record is older
  // than `before` (that checkpoint stays: it anchors the rest) and the checkpoints before
  // it; leaves a record of it by `who`. Returns how many records went.
  virtual Result<std::int64_t> pruneAudit(SystemClock::time_point before,
                                          const std::string& who) = 0;

  // Keeps what `event` says of its dossier: the fields it carries; its status when the
  // event is not older than the last one kept; the first time it reached 9 or 10.
  virtual Result<void> trackDossier(const DossierEvent& event) = 0;
  // The dossiers kept, as they are now.
  // `code` given: that dossier's only (none when it is not kept).
  virtual Result<std::vector<dossier::DossierState>> dossierStates(
      const std::string& code = "") = 0;
};

// The daemon's store for the steps that write to it: set once it is open, cleared before
// it closes. Thread-safe.
class StoreSlot {
 public:
  Store* get() const { return store_.load(); }
  void set(Store* store) { store_.store(store); }

 private:
  std::atomic<Store*> store_{nullptr};
};

// Where the store is (the daemon config's `store`).
struct StoreSettings {
  std::string path;      // the embedded store (absolute); "" = none or postgresql
  std::string url;       // postgresql: a libpq URI or conninfo; "" = none or embedded
  std::string password;  // postgresql: from password-file or password-env ("" = libpq's)
  std::string node;      // postgresql: this daemon's node name (default: the host name)
  std::chrono::milliseconds take_over_every{5000};  // postgresql: how often to look
  bool configured() const { return !path.empty() || !url.empty(); }
  // "store /var/lib/lienthong/lienthong.db" or "store postgresql://db/lienthong (node a)".
  std::string describe() const;
};

// Opens the store the settings name. `as_node`: the daemon (a cluster node that owns
// what it journals); false for an operator's tool, which only reads and replays.
Result<std::unique_ptr<Store>> openStore(const StoreSettings& settings, bool as_node = true);

// Opens the shared store; creates its tables (prefixed lienthong_) when missing.
Result<std::unique_ptr<Store>> openPostgresStore(const StoreSettings& settings, bool as_node);

// The journal's encoding of headers: length-prefixed name/value pairs (any byte).
std::string encodeStoredHeaders(const Headers& headers);
Headers decodeStoredHeaders(std::string_view data);

// Opens (creating if needed) the embedded store at `path`. Refuses a file that is not a
// store, or one another process holds open, with the reason.
Result<std::unique_ptr<Store>> openSqliteStore(const std::string& path);

}  // namespace lienthong
