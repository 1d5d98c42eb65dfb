#pragma once
// What the embedded and the shared store have in common: every write is an operation
// queued for one writer thread, which commits all that were queued meanwhile in one
// transaction (group commit: one fsync for many callers under load, one fsync's latency
// when idle). A backend says how a batch runs in its transaction; reads are its own.

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "core/store.h"

namespace lienthong {

// The columns of an audit record, in this order, in both stores' tables.
inline constexpr const char* kAuditColumns =
    "seq, chain, at_ms, actor, action, subject, message_id, trace_id, digest, version, detail, "
    "prev, hash";

class BatchedStore : public Store {
 public:
  Result<std::int64_t> append(const std::string& route, const Message& message,
                              std::size_t first_step,
                              const std::vector<std::int64_t>& settles) override;
  Result<std::optional<std::int64_t>> appendOnce(const std::string& route, const Message& message,
                                                 const std::string& key,
                                                 SystemClock::time_point expires) override;
  Result<void> delivered(std::int64_t seq, const AuditRecord* audit = nullptr) override;
  Result<void> deadLetter(std::int64_t seq, const std::string& reason,
                          const std::string& dossier = "",
                          const AuditRecord* audit = nullptr) override;
  Result<void> reroute(std::int64_t seq, const std::string& route, const Message& message) override;
  Result<bool> remember(const std::string& route, const std::string& key,
                        SystemClock::time_point expires) override;
  Result<std::int64_t> replay(std::int64_t seq, const std::string& route, const std::string& who,
                              const AuditRecord* audit = nullptr) override;
  Result<void> purge(std::int64_t seq, const std::string& who,
                     const AuditRecord* audit = nullptr) override;
  Result<std::size_t> expireKeys(SystemClock::time_point now) override;
  Result<void> trackDossier(const DossierEvent& event) override;
  Result<void> audit(const AuditRecord& record, bool wait = true) override;
  Result<void> addAuditCheckpoint(const AuditCheckpoint& checkpoint) override;
  Result<std::int64_t> pruneAudit(SystemClock::time_point before, const std::string& who) override;
  std::uint64_t commits() const override { return commits_.load(); }

 protected:
  // One write, as queued. Inputs by kind; outputs (seq, fresh, claimed, error) are set by
  // the backend's apply and reset before a batch is tried again.
  struct Op {
    enum Kind {
      kAppend,      // route, message, step, settles; text = idempotency key ("" = none), at
      kDelivered,   // seq
      kDeadLetter,  // seq, text = reason, route = the dossier code ("" = as journalled)
      kReroute,     // seq, route, message
      kRemember,    // route, text = key, at = expiry
      kExpire,      // at = now
      kReplay,      // seq, route ("" = its own), text = who
      kPurge,       // seq, text = who
      kTakeOver,    // (shared store)
      kTrack,       // event
      kAudit,       // audit (the record alone)
      kCheckpoint,  // checkpoint
      kPruneAudit,  // at = before, audit = the record of it; seq = records removed
    };
    explicit Op(Kind k) : kind(k) {}
    Kind kind;
    std::string route;
    const Message* message = nullptr;
    const std::vector<std::int64_t>* settles = nullptr;
    const DossierEvent* event = nullptr;
    // An audit record written with the op (kDelivered, kDeadLetter) or alone (kAudit).
    std::optional<AuditRecord> audit;
    const AuditCheckpoint* checkpoint = nullptr;
    bool detached = false;  // nobody waits: the writer deletes it once it is written
    std::string text;
    std::int64_t at = 0;
    std::int64_t seq = 0;
    std::int64_t step = 0;
    bool fresh = false;
    std::vector<StoredMessage> claimed;
    std::optional<Error> error;
    bool done = false;
  };
  using Batch = std::deque<Op*>;

  BatchedStore() = default;
  // The backend's constructor or open: once its connections are ready.
  void startWriter();
  // The backend's destructor, before it closes its connections: the writer finishes what
  // is queued and ends.
  void stopWriter();
  // Queues the write and waits until the batch it went into is committed (or failed).
  std::optional<Error> submit(Op& op);
  // Queues the write (new, detached) and returns at once.
  void submitDetached(std::unique_ptr<Op> op);
  // The detail of a pruning's audit record.
  static std::string prunedDetail(std::int64_t removed, std::int64_t anchor,
                                  std::int64_t before_ms);
  // Writer thread: runs the batch in one transaction. An error fails every op of it
  // (nothing of the batch was written); an op may also carry its own error.
  virtual std::optional<Error> commitBatch(Batch& batch) = 0;

 private:
  void writerLoop();

  std::mutex mutex_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  Batch queue_;
  bool quit_ = false;
  std::thread writer_;
  std::atomic<std::uint64_t> commits_{0};
};

}  // namespace lienthong
