#pragma once
// The engine: a bounded pool of worker threads that runs exchanges through their routes,
// retries failed deliveries with backoff, and pushes back on its inputs when full.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/loader.h"
#include "core/metrics.h"
#include "core/route.h"
#include "core/store.h"
#include "core/trace_log.h"
#include "lienthong/endpoint.h"

namespace lienthong {

using SteadyClockPoint = std::chrono::steady_clock::time_point;

class Engine {
 public:
  struct Stats {
    std::size_t queued = 0;            // waiting for a worker
    std::size_t running = 0;           // on a worker now
    std::size_t sending = 0;           // handed to an asynchronous output, not settled yet
    std::size_t waiting_for_room = 0;  // inputs' messages waiting for a place (admission-wait)
    std::size_t retrying = 0;          // waiting for their next attempt
    std::size_t held_one_way = 0;      // one-way messages accepted and not yet settled
    std::uint64_t accepted = 0;
    std::uint64_t refused = 0;  // kBusy answers
    std::uint64_t delivered = 0;
    std::uint64_t failed = 0;
    std::uint64_t dead_lettered = 0;
    std::uint64_t retries = 0;
    std::uint64_t duplicates = 0;  // acknowledged and dropped by an idempotency key
    std::uint64_t held = 0;        // kept by a step (aggregated); delivered with their group
    std::size_t in_order = 0;      // waiting behind an earlier message with their order key
    std::size_t open_breakers = 0;
    std::uint64_t breaker_waits = 0;  // attempts put off because a breaker was open
  };
  // The current version of a route by id (for dead-letter routes); null when not loaded.
  using RouteResolver =
      std::function<std::pair<std::shared_ptr<const Route>, std::uint64_t>(const std::string&)>;

  explicit Engine(EngineSettings settings);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Control thread, before start(): the store that journals one-way messages (accepted
  // only once journalled; settled there when delivered or dead-lettered). None: memory.
  void setStore(Store* store) {
    store_ = store;
    store_ready_ = store != nullptr;
  }
  // Control thread, before start(): one-way messages need a store that is not open yet;
  // they are refused (kUnavailable) until attachStore() and storeReady().
  void requireStore() { store_required_ = true; }
  // Control thread, before start(): every exchange that ends leaves an audit record in
  // the store (core/audit.h).
  void setAuditing(bool on) { auditing_ = on; }
  // Any thread, once: the store opened late. recover() its journal, then storeReady().
  void attachStore(Store* store) { store_ = store; }
  void storeReady() { store_ready_ = true; }
  // Control thread, before start(): finds dead-letter routes. None: dead letters go to
  // the store (or the log) whatever the route says.
  void setRouteResolver(RouteResolver resolver) { resolver_ = std::move(resolver); }
  // Control thread, after start(): a journalled message from before a restart goes
  // through its route again (past the admission limits; it was accepted already).
  Admission recover(std::shared_ptr<const Route> route, std::uint64_t version,
                    StoredMessage stored);

  // Control thread.
  void start();
  // Stops taking messages and waits up to `timeout` for every accepted one to settle.
  // Then stops the workers; messages still unsettled are abandoned (logged, and their
  // completions told kAbandoned). Returns how many were abandoned.
  std::size_t drain(std::chrono::milliseconds timeout);

  // Thread-safe. See InboundContext::submit and InboundContext::admit: when the engine
  // is full they wait up to `admission_wait` for a place (inputs' messages only).
  Admission submit(std::shared_ptr<const Route> route, std::uint64_t version, Message message,
                   Completion done);
  InboundContext::Admitted admit(std::shared_ptr<const Route> route, std::uint64_t version,
                                 Message message, Completion done);
  // Thread-safe. An exchange that starts at the route's top-level step `first_step`: a
  // message a step emitted of its own accord (see StepEmitter). Never runs inline.
  // `past_limits`: admitted even when the queue or the pending limit is full (a step
  // handing over what it holds at a stop); refused only when the engine is stopping.
  // `settles`: journal entries of held messages this one replaces (see StepEmitter).
  Admission submitFrom(std::shared_ptr<const Route> route, std::uint64_t version, Message message,
                       std::size_t first_step, Completion done, bool past_limits = false,
                       const std::vector<std::int64_t>& settles = {});

  // Thread-safe.
  Stats stats() const;
  // Thread-safe: per route id, its counts since the engine started.
  std::map<std::string, RouteCounters> routeCounters() const;
  struct BreakerState {
    std::string peer;
    bool open = false;
    std::uint32_t failures = 0;
  };
  // Thread-safe: the circuit breakers by peer.
  std::vector<BreakerState> breakerStates() const;
  // Thread-safe: the recent hops of messages (core/trace_log.h).
  const TraceLog& traces() const { return traces_; }
  // Thread-safe: whether new messages are admitted (false once a drain began).
  bool accepting() const;
  // Thread-safe: whether accepted one-way messages are journalled (a store is open).
  bool journals() const { return store_ready_.load() && store_.load() != nullptr; }

 private:
  struct Job;
  using JobPtr = std::unique_ptr<Job>;

  struct CallerRun;

  InboundContext::Admitted admitJob(std::shared_ptr<const Route> route, std::uint64_t version,
                                    Message message, std::size_t first_step, bool may_run_here,
                                    bool past_limits, Completion done, std::int64_t seq = 0,
                                    const std::vector<std::int64_t>* settles = nullptr);
  static bool laterDue(const JobPtr& a, const JobPtr& b);
  void workerLoop();
  void timerLoop();
  // Runs the job and frees its slot; `job` is consumed. Never throws.
  void runInSlot(JobPtr job);
  void run(JobPtr& job);
  void runSteps(JobPtr& job);
  // What the output said about the job's attempt: delivered, retried or given up.
  void afterSend(JobPtr job, Delivery delivery);
  // Any thread: an asynchronous output settled in-flight job `id`. Through `gate`, so
  // that a settlement after the engine is gone is dropped.
  struct AsyncGate;
  static void asyncSent(const std::shared_ptr<AsyncGate>& gate, std::uint64_t id,
                        Delivery delivery);
  void sent(std::uint64_t id, Delivery delivery);
  void failInternal(JobPtr job, const std::string& what);
  void retryLater(JobPtr job, const Error& why, std::optional<Delivery> last = std::nullopt);
  void complete(JobPtr job, Outcome::Status status, Error error = {},
                std::optional<Delivery> delivery = std::nullopt);
  // With mutex_ held: queues the job, or holds it behind the running message with its
  // order key. True when it went into the queue (a worker should be woken).
  bool enqueueLocked(JobPtr job);
  // Counts a refusal; the answer to give.
  InboundContext::Admitted refuse(Admission why, const std::string& route_id);
  // With mutex_ held: whether a message of the pattern would be admitted now.
  bool roomLocked(bool one_way) const;
  // With mutex_ held: the job is done with its order key; the next one waiting for the
  // key goes to the queue. True when one did.
  bool releaseLaneLocked(const std::string& lane_key);
  // Puts the job in the retry heap until its `due` (or abandons it when stopping).
  void schedule(JobPtr job);
  // Before an attempt: whether the peer's breaker lets it go now; if not, when to look
  // again. A job let through an open breaker is its probe.
  std::optional<SteadyClockPoint> breakerWait(Job& job);
  void breakerResult(Job& job, bool peer_failed);
  // A one-way message given up goes to its route's dead-letter route; false when that
  // route is not there (it goes to the store's dead letters instead).
  bool toDeadLetterRoute(Job& job, const Error& error);

  const EngineSettings settings_;
  std::atomic<Store*> store_{nullptr};
  std::atomic<bool> store_ready_{false};
  bool store_required_ = false;
  bool auditing_ = false;
  std::atomic<bool> store_failing_{false};  // the last journal write failed
  RouteResolver resolver_;
  mutable std::mutex mutex_;
  std::condition_variable work_cv_;   // workers wait for jobs
  std::condition_variable timer_cv_;  // the timer waits for the next due retry
  std::condition_variable idle_cv_;   // drain waits for everything to settle
  std::condition_variable room_cv_;   // inputs wait for a place (waitForRoom)
  std::size_t room_waiters_ = 0;
  std::deque<JobPtr> queue_;
  std::vector<JobPtr> retry_heap_;  // min-heap on due time
  // Per (route, order key) with a message under way: the ones accepted after it.
  std::map<std::string, std::deque<JobPtr>> lanes_;
  std::size_t in_order_ = 0;
  struct Breaker {
    std::uint32_t failures = 0;  // consecutive
    bool open = false;
    bool probing = false;  // a probe is under way
    SteadyClockPoint open_until{};
    // Counts openings and closings: a probe's result counts as the probe's only while
    // the breaker is still in the state the probe was let through in.
    std::uint64_t generation = 0;
  };
  std::map<std::string, Breaker> breakers_;              // by peer
  std::map<std::string, RouteCounters> route_counters_;  // by route id
  TraceLog traces_;
  // Handed to an asynchronous output, by id: back to a worker when it settles.
  std::map<std::uint64_t, JobPtr> in_flight_;
  std::uint64_t next_flight_ = 0;
  // Settled by their output, waiting for a worker: one worker takes them all at once, so
  // that a burst of settlements wakes one thread, not one each.
  std::vector<JobPtr> settled_;
  bool settling_ = false;  // a worker is handling a batch of them
  std::shared_ptr<AsyncGate> gate_;
  std::size_t running_ = 0;
  std::size_t held_one_way_ = 0;
  std::size_t unsettled_ = 0;  // accepted, completion not yet called
  bool accepting_ = false;
  bool stopping_ = false;
  Stats counters_;
  std::vector<std::thread> workers_;
  std::thread timer_;
};

// The InboundContext of one route of one route-table version.
class RouteContext final : public InboundContext {
 public:
  RouteContext(Engine& engine, std::shared_ptr<const Route> route, std::uint64_t version)
      : engine_(engine), route_(std::move(route)), version_(version) {}
  Admission submit(Message message, Completion done) override {
    return engine_.submit(route_, version_, std::move(message), std::move(done));
  }
  Admitted admit(Message message, Completion done) override {
    return engine_.admit(route_, version_, std::move(message), std::move(done));
  }
  const std::string& routeId() const override { return route_->id; }
  ExchangePattern pattern() const override { return route_->pattern; }
  std::chrono::milliseconds timeout() const override { return route_->timeout; }
  bool journalled() const override {
    return route_->pattern == ExchangePattern::kOneWay && engine_.journals() &&
           !(route_->from && route_->from->keepsMessages());
  }

 private:
  Engine& engine_;
  std::shared_ptr<const Route> route_;
  std::uint64_t version_;
};

// Runs steps in order; used by the engine and by steps that hold nested steps (choice).
Result<StepOutcome> runSteps(const std::vector<std::unique_ptr<Step>>& steps, Exchange& exchange,
                             std::size_t first = 0);

// The StepEmitter of one top-level step of one route version: what it emits enters the
// engine at the step after it.
class RouteStepEmitter final : public StepEmitter {
 public:
  RouteStepEmitter(Engine& engine, std::shared_ptr<const Route> route, std::uint64_t version,
                   std::size_t step_index)
      : engine_(engine), route_(std::move(route)), version_(version), next_(step_index + 1) {}
  bool emit(Message message, bool past_limits, const std::vector<std::int64_t>& settles) override;

 private:
  Engine& engine_;
  std::shared_ptr<const Route> route_;
  std::uint64_t version_;
  std::size_t next_;
};

// A reply replaces the body and content type; its headers overlay the message's.
void mergeReply(Message& message, Message&& reply);

}  // namespace lienthong
