#pragma once
// The daemon: config, registry, listeners, engine and the active route table, with start,
// reload and a draining stop. Used by lienthongd and by the integration tests in process.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/engine.h"
#include "core/loader.h"
#include "core/metrics.h"
#include "core/plugins.h"
#include "core/route.h"
#include "lienthong/registry.h"

namespace lienthong {

class Daemon {
 public:
  // Loads and checks the config and every route; nothing is started. On failure returns
  // nullptr and fills `errors` with every problem found.
  static std::unique_ptr<Daemon> create(const std::string& config_file, ConfigErrors& errors);
  ~Daemon();

  // Control thread: starts the engine, the listeners, then every enabled route's input.
  Result<void> start();
  // Loads the route files again; swaps the table only if all of it is valid and every new
  // input started. In-flight messages finish on their old version. Any thread: reloads
  // (a signal's, the admin API's) take turns; not during start() or stop().
  bool reload(ConfigErrors& errors);
  // Any thread (takes turns with reload): the route set that the last reload replaced
  // becomes active again, under a new version (its inputs and steps start again); the
  // set it replaces becomes the one a next rollback returns to. Returns the version of
  // the set it returned to. An error when no reload replaced a set since the start, or
  // the daemon is not running (transient), or an input does not start again.
  Result<std::uint64_t> rollback();
  // Control thread: stops the inputs, drains the engine, stops the listeners. Returns the
  // number of messages abandoned when the drain timeout passed.
  std::size_t stop();

  // Thread-safe.
  std::shared_ptr<const RouteTable> routes() const;
  std::shared_ptr<Listener> listener(const std::string& name) const;
  Engine& engine() { return *engine_; }
  // Thread-safe: per route, the journal's depth, its oldest message and the dead letters
  // (for metrics). An error when there is no store or it is not open.
  Result<std::map<std::string, RouteDepth>> storeFigures();
  const DaemonConfig& config() const { return config_; }
  // Any thread (takes turns with reload and stop): an operator stops the input of a route
  // of the active table (what is under way finishes) or starts it again. The choice
  // outlives a reload, not a restart. An error (kInvalidConfig) when the active table has
  // no such route, it has no input, or its file disables it. Returns whether anything
  // changed.
  Result<bool> setRouteEnabled(const std::string& id, bool enabled);
  // Any thread: a dead letter goes back into the journal for `route` (an enabled route of
  // the active table: its own or another) and through it now, recorded as done by `who`.
  // Returns its journal sequence. An error when there is no open store or its journal is
  // still being taken up (transient), no such dead letter, or no such route.
  Result<std::int64_t> replayDeadLetter(std::int64_t seq, const std::string& route,
                                        const std::string& who);

  // Thread-safe: whether an operator disabled the route (setRouteEnabled).
  bool disabledByOperator(const std::string& id) const;

  // Thread-safe: the store when it is open (it stays until the daemon is destroyed), else
  // nullptr.
  Store* storeIfOpen() const { return store_view_.load(); }
  // Thread-safe: started and not stopping, with its store open when it has one.
  bool ready() const;
  // Thread-safe: the figures for the metrics (core/metrics.h).
  MetricsSnapshot metrics();

  // Whether the daemon keeps the audit chain (audit.enabled, with a store).
  bool auditing() const { return config_.audit.enabled && config_.store.configured(); }
  // Thread-safe: a record of the daemon's own (an admin action, a signal's reload) on the
  // audit chain. wait = false: queued. An error when the chain is off or the store is not
  // open (the caller decides whether that matters; the admin API logs it).
  Result<void> audit(const AuditRecord& record, bool wait = false);
  // Thread-safe: signs the chain's head with audit.key when records were added since the
  // last checkpoint. Returns it (nullopt: nothing new). An error: no key, no open store.
  Result<std::optional<AuditCheckpoint>> checkpointAudit();

 private:
  struct Active {
    std::shared_ptr<RouteTable> table;
    std::vector<std::unique_ptr<RouteContext>> contexts;
    std::vector<InboundEndpoint*> started;
    std::vector<std::unique_ptr<RouteStepEmitter>> emitters;
    std::vector<Step*> started_steps;
    std::chrono::steady_clock::time_point retired_at{};
  };

  Daemon() = default;
  // Starts the table's steps, then (at start) takes up the journal, then its inputs: a
  // journalled message goes ahead of new ones with its order key.
  Result<void> activate(std::shared_ptr<RouteTable> table, bool recover = false);
  static void stopInputs(Active& active);
  static void stopSteps(Active& active, bool final);
  // Start: journalled one-way messages not settled before the last stop or crash go
  // through their routes again; those whose route is gone go to the dead letters.
  // False when the journal cannot be read (one-way messages stay refused).
  bool recoverJournal(const std::shared_ptr<RouteTable>& table);
  // Journalled messages go through their routes (again); those whose route is gone go to
  // the dead letters. Returns how many the engine took.
  std::size_t resume(const std::shared_ptr<RouteTable>& table,
                     std::vector<StoredMessage>& messages);
  // A shared store: claims and delivers the journal of nodes that are gone.
  void takeOver();
  // A store that could not be opened at start (damaged, held by another process) is
  // tried again every `store.reopen-every` until it opens or the daemon stops; a shared
  // one is then asked every `take-over-every` for the journal of nodes that are gone.
  void reopenStore();
  // Every audit.checkpoint-every: a checkpoint, then the pruning of what audit.keep no
  // longer keeps.
  void auditLoop();
  // The chain's record of this start, once (at start, or when the store opens later).
  void recordStart();
  // Opens the store if it is not open, takes up its journal and lets one-way messages
  // in; false when either step failed (tried again later).
  bool takeUpStore();

  std::unique_ptr<Registry> registry_;
  PluginSet plugins_;
  DaemonConfig config_;
  std::unique_ptr<Store> store_;  // before the engine: it outlives it
  // The store as the steps reach it (set when it is open); shared with the routes.
  std::shared_ptr<StoreSlot> store_slot_ = std::make_shared<StoreSlot>();
  std::unique_ptr<Engine> engine_;
  std::shared_ptr<RouteTable> pending_;  // loaded by create(), activated by start()
  mutable std::mutex mutex_;
  std::unique_ptr<Active> active_;
  std::vector<std::unique_ptr<Active>> retired_;
  std::vector<std::string> started_listeners_;
  std::uint64_t next_version_ = 1;
  std::mutex control_mutex_;      // reload(), setRouteEnabled() and stop() take turns
  std::set<std::string> paused_;  // routes an operator disabled (under mutex_)
  // The route set the last reload (or rollback) replaced, for a rollback.
  std::shared_ptr<RouteTable> previous_table_;
  std::atomic<bool> running_{false};
  std::chrono::steady_clock::time_point started_at_{};
  std::atomic<Store*> store_view_{nullptr};  // store_, for readers on other threads
  bool journal_recovered_ = false;
  std::string opener_error_;  // the last reason logged, not repeated
  std::thread store_opener_;
  std::mutex opener_mutex_;
  std::condition_variable opener_cv_;
  bool opener_quit_ = false;
  std::thread auditor_;
  std::mutex audit_mutex_;  // checkpoints take turns; auditor_quit_
  std::condition_variable audit_cv_;
  bool auditor_quit_ = false;
  std::int64_t last_checkpoint_ = -1;  // seq of the last one signed (-1: not read yet)
  std::string audit_error_;            // the last one logged, not repeated
  std::atomic<bool> start_recorded_{false};
};

}  // namespace lienthong
