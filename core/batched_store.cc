#include "core/batched_store.h"

#include "core/encoding.h"
#include "lienthong/log.h"

namespace lienthong {

Result<std::int64_t> BatchedStore::append(const std::string& route, const Message& message,
                                          std::size_t first_step,
                                          const std::vector<std::int64_t>& settles) {
  Op op(Op::kAppend);
  op.route = route;
  op.message = &message;
  op.step = static_cast<std::int64_t>(first_step);
  op.settles = &settles;
  if (auto e = submit(op)) return *e;
  return op.seq;
}

Result<std::optional<std::int64_t>> BatchedStore::appendOnce(const std::string& route,
                                                             const Message& message,
                                                             const std::string& key,
                                                             SystemClock::time_point expires) {
  Op op(Op::kAppend);
  op.route = route;
  op.message = &message;
  op.text = key;
  op.at = toEpochMs(expires);
  if (auto e = submit(op)) return *e;
  if (!op.fresh) return std::optional<std::int64_t>();
  return std::optional<std::int64_t>(op.seq);
}

Result<void> BatchedStore::delivered(std::int64_t seq, const AuditRecord* audit) {
  Op op(Op::kDelivered);
  op.seq = seq;
  if (audit) op.audit = *audit;
  if (auto e = submit(op)) return *e;
  return {};
}

Result<void> BatchedStore::deadLetter(std::int64_t seq, const std::string& reason,
                                      const std::string& dossier, const AuditRecord* audit) {
  Op op(Op::kDeadLetter);
  op.seq = seq;
  if (audit) op.audit = *audit;
  op.text = reason;
  op.route = dossier;
  if (auto e = submit(op)) return *e;
  return {};
}

Result<void> BatchedStore::reroute(std::int64_t seq, const std::string& route,
                                   const Message& message) {
  Op op(Op::kReroute);
  op.seq = seq;
  op.route = route;
  op.message = &message;
  if (auto e = submit(op)) return *e;
  return {};
}

Result<bool> BatchedStore::remember(const std::string& route, const std::string& key,
                                    SystemClock::time_point expires) {
  Op op(Op::kRemember);
  op.route = route;
  op.text = key;
  op.at = toEpochMs(expires);
  if (auto e = submit(op)) return *e;
  return op.fresh;
}

Result<std::int64_t> BatchedStore::replay(std::int64_t seq, const std::string& route,
                                          const std::string& who, const AuditRecord* audit) {
  Op op(Op::kReplay);
  op.seq = seq;
  if (audit) op.audit = *audit;
  op.route = route;
  op.text = who;
  if (auto e = submit(op)) return *e;
  return op.seq;
}

Result<void> BatchedStore::purge(std::int64_t seq, const std::string& who,
                                 const AuditRecord* audit) {
  Op op(Op::kPurge);
  op.seq = seq;
  if (audit) op.audit = *audit;
  op.text = who;
  if (auto e = submit(op)) return *e;
  return {};
}

Result<void> BatchedStore::trackDossier(const DossierEvent& event) {
  if (event.code.empty())
    return Error(ErrorCode::kInvalidMessage, "a dossier event without MaHoSo");
  Op op(Op::kTrack);
  op.event = &event;
  if (auto e = submit(op)) return *e;
  return {};
}

Result<std::size_t> BatchedStore::expireKeys(SystemClock::time_point now) {
  Op op(Op::kExpire);
  op.at = toEpochMs(now);
  if (auto e = submit(op)) return *e;
  return static_cast<std::size_t>(op.seq);
}

Result<void> BatchedStore::audit(const AuditRecord& record, bool wait) {
  if (!wait) {
    auto op = std::make_unique<Op>(Op::kAudit);
    op->audit = record;
    submitDetached(std::move(op));
    return {};
  }
  Op op(Op::kAudit);
  op.audit = record;
  if (auto e = submit(op)) return *e;
  return {};
}

Result<void> BatchedStore::addAuditCheckpoint(const AuditCheckpoint& checkpoint) {
  Op op(Op::kCheckpoint);
  op.checkpoint = &checkpoint;
  if (auto e = submit(op)) return *e;
  return {};
}

Result<std::int64_t> BatchedStore::pruneAudit(SystemClock::time_point before,
                                              const std::string& who) {
  Op op(Op::kPruneAudit);
  op.at = toEpochMs(before);
  AuditRecord record;
  record.actor = who;
  record.action = "audit-prune";
  op.audit = std::move(record);
  if (auto e = submit(op)) return *e;
  return op.seq;
}

std::string BatchedStore::prunedDetail(std::int64_t removed, std::int64_t anchor,
                                       std::int64_t before_ms) {
  return std::to_string(removed) + " records up to " + std::to_string(anchor) + " (older than " +
         utcText(fromEpochMs(before_ms)) + ") removed; the checkpoint of record " +
         std::to_string(anchor) + " anchors the rest";
}

void BatchedStore::startWriter() {
  writer_ = std::thread([this] { writerLoop(); });
}

void BatchedStore::stopWriter() {
  {
    std::lock_guard lock(mutex_);
    quit_ = true;
  }
  work_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  // Queued after the writer ended (nobody waits for them): not written, said so.
  std::lock_guard lock(mutex_);
  for (Op* op : queue_) {
    if (op->detached) {
      log::error("store", "an audit record was not written: the store closed");
      delete op;
    }
  }
  queue_.clear();
}

std::optional<Error> BatchedStore::submit(Op& op) {
  std::unique_lock lock(mutex_);
  queue_.push_back(&op);
  work_cv_.notify_one();
  done_cv_.wait(lock, [&] { return op.done; });
  return op.error;
}

void BatchedStore::submitDetached(std::unique_ptr<Op> op) {
  op->detached = true;
  std::lock_guard lock(mutex_);
  queue_.push_back(op.release());  // the writer deletes it
  work_cv_.notify_one();
}

void BatchedStore::writerLoop() {
  for (;;) {
    Batch batch;
    {
      std::unique_lock lock(mutex_);
      work_cv_.wait(lock, [&] { return quit_ || !queue_.empty(); });
      if (queue_.empty()) return;  // quitting with nothing left
      batch.swap(queue_);
    }
    const std::optional<Error> failed = commitBatch(batch);
    if (!failed) commits_.fetch_add(1);
    std::vector<std::unique_ptr<Op>> detached;
    {
      std::lock_guard lock(mutex_);
      for (Op* op : batch) {
        if (failed) op->error = *failed;  // nothing of the batch was written
        op->done = true;
        if (op->detached) detached.emplace_back(op);
      }
    }
    done_cv_.notify_all();
    for (const auto& op : detached) {
      if (op->error) {
        log::error("store", "an audit record was not written (" + op->audit->action + " " +
                                op->audit->subject + "): " + op->error->message);
      }
    }
  }
}

}  // namespace lienthong
