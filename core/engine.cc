#include "core/engine.h"

#include <algorithm>
#include <cstdio>

#include "core/encoding.h"
#include "core/pki.h"
#include "lienthong/log.h"
#include "lienthong/template.h"

namespace lienthong {

using SteadyClock = std::chrono::steady_clock;

struct Engine::Job {
  std::shared_ptr<const Route> route;
  Exchange exchange;
  Message original;  // the message as submitted: a retry of the steps starts from it
  Completion done;
  std::size_t first_step = 0;  // top-level step the exchange starts at
  bool steps_done = false;
  std::uint32_t attempts = 0;          // attempts of the whole exchange so far
  std::int64_t seq = 0;                // its journal entry in the store; 0 = none
  bool duplicate = false;              // seen before (idempotency key): acknowledged, not delivered
  std::string refusal;                 // set: dead-lettered with this reason without running
  std::string lane;                    // one-way with an order key: route id and key
  bool lane_head = false;              // the message of its lane under way
  bool probing = false;                // its attempt is the probe of an open breaker
  std::uint64_t probe_generation = 0;  // the breaker's generation when it was let through
  bool held = false;                   // a step keeps it: the journal entry is not settled here
  std::optional<Delivery> sent;        // an asynchronous output's answer, to be handled
  std::string remember_key;            // idempotency key to record once delivered
  SteadyClock::time_point deadline{};  // the route's (request-reply); attempts may be shorter
  SteadyClock::time_point due{};
  SteadyClock::time_point admitted = SteadyClock::now();  // for the latency figures

  Job(std::shared_ptr<const Route> r, Exchange ex, Completion d)
      : route(std::move(r)),
        exchange(std::move(ex)),
        original(exchange.message()),
        done(std::move(d)) {}
};

namespace {

// The dossier a message is about, as far as its route found out: its dossier key, else a
// MaHoSo header (a step's extract, or the caller's).
std::string dossierOf(const Message& m) {
  if (!m.dossierKey().empty()) return m.dossierKey();
  const std::string* code = m.header("MaHoSo");
  return code ? *code : std::string();
}

// Why a key template (idempotency, order) gives nothing for a message.
std::string keyRefusal(const char* what, const Template& key,
                       const std::vector<std::string>& missing) {
  std::string names;
  for (const auto& n : missing) names += (names.empty() ? "" : ", ") + n;
  return std::string("the ") + what + " '" + key.source() +
         "' cannot be computed for this message" +
         (names.empty() ? std::string(" (it is empty)") : " (no " + names + ")");
}

}  // namespace

Result<StepOutcome> runSteps(const std::vector<std::unique_ptr<Step>>& steps, Exchange& exchange,
                             std::size_t first) {
  for (std::size_t i = first; i < steps.size(); ++i) {
    Result<StepOutcome> r = steps[i]->process(exchange);
    if (!r.ok() || *r != StepOutcome::kContinue) return r;
  }
  return StepOutcome::kContinue;
}

void mergeReply(Message& message, Message&& reply) {
  message.setBody(reply.sharedBody());
  message.setContentType(reply.contentType());
  for (auto& [name, value] : reply.headers()) message.setHeader(name, std::move(value));
}

// Outputs hold this, not the engine, while they deliver asynchronously: a settlement
// that comes after the engine is gone finds no engine and is dropped.
struct Engine::AsyncGate {
  std::mutex mutex;
  Engine* engine = nullptr;
};

Engine::Engine(EngineSettings settings)
    : settings_(settings), gate_(std::make_shared<AsyncGate>()) {
  gate_->engine = this;
}

Engine::~Engine() {
  drain(std::chrono::milliseconds(0));
  std::lock_guard lock(gate_->mutex);  // waits for a settlement being handled now
  gate_->engine = nullptr;
}

void Engine::start() {
  std::lock_guard lock(mutex_);
  if (accepting_ || !workers_.empty()) return;
  accepting_ = true;
  stopping_ = false;
  for (std::size_t i = 0; i < settings_.workers; ++i)
    workers_.emplace_back([this] { workerLoop(); });
  timer_ = std::thread([this] { timerLoop(); });
}

// Holds an exchange admitted to run on the caller's thread until the caller runs it; if
// the caller drops it unrun, it runs when destroyed, so the completion always comes.
struct Engine::CallerRun {
  CallerRun(Engine* e, JobPtr j) : engine(e), job(std::move(j)) {}
  CallerRun(const CallerRun&) = delete;
  CallerRun& operator=(const CallerRun&) = delete;
  Engine* engine;
  JobPtr job;
  void operator()() {
    if (job) engine->runInSlot(std::move(job));
  }
  ~CallerRun() { (*this)(); }
};

Admission Engine::submit(std::shared_ptr<const Route> route, std::uint64_t version, Message message,
                         Completion done) {
  InboundContext::Admitted admitted =
      admit(std::move(route), version, std::move(message), std::move(done));
  if (admitted.run) admitted.run();
  return admitted.admission;
}

InboundContext::Admitted Engine::admit(std::shared_ptr<const Route> route, std::uint64_t version,
                                       Message message, Completion done) {
  return admitJob(std::move(route), version, std::move(message), 0, true, false, std::move(done));
}

Admission Engine::submitFrom(std::shared_ptr<const Route> route, std::uint64_t version,
                             Message message, std::size_t first_step, Completion done,
                             bool past_limits, const std::vector<std::int64_t>& settles) {
  return admitJob(std::move(route), version, std::move(message), first_step, false, past_limits,
                  std::move(done), 0, &settles)
      .admission;
}

bool RouteStepEmitter::emit(Message message, bool past_limits,
                            const std::vector<std::int64_t>& settles) {
  const std::string id = message.id();
  Admission a = engine_.submitFrom(route_, version_, std::move(message), next_, nullptr,
                                   past_limits, settles);
  if (a != Admission::kAccepted) return false;
  log::debug("engine",
             "route " + route_->id + ": step " + std::to_string(next_) + " emitted message " + id);
  return true;
}

InboundContext::Admitted Engine::admitJob(std::shared_ptr<const Route> route, std::uint64_t version,
                                          Message message, std::size_t first_step,
                                          bool may_run_here, bool past_limits, Completion done,
                                          std::int64_t seq,
                                          const std::vector<std::int64_t>* settles) {
  ExchangePattern pattern = route->pattern;
  Exchange exchange(std::move(message), route->id, pattern);
  exchange.setRouteVersion(version);
  // The caller's trace (W3C traceparent, from an HTTP header or an AMQP property) goes on;
  // else a new one.
  std::string trace;
  for (const auto& [name, value] : exchange.message().headers()) {
    if (isTraceparent(name)) trace = traceIdOf(value);
  }
  exchange.setTraceId(trace.empty() ? newTraceId() : trace);
  if (exchange.message().correlationId().empty()) {
    exchange.message().setCorrelationId(exchange.message().id());
  }
  if (pattern == ExchangePattern::kRequestReply) {
    exchange.setDeadline(SteadyClock::now() + route->timeout);
  }
  bool one_way = pattern == ExchangePattern::kOneWay;
  auto job = std::make_unique<Job>(std::move(route), std::move(exchange), std::move(done));
  job->first_step = first_step;
  job->seq = seq;
  job->exchange.setJournalSeq(seq);
  job->deadline = job->exchange.deadline();
  if (one_way && job->route->order_key) {
    std::vector<std::string> missing;
    std::string key = job->route->order_key->render(job->exchange, &missing);
    if (key.empty() || !missing.empty()) {
      job->refusal = keyRefusal("ordering key", *job->route->order_key, missing);
    } else {
      job->lane = job->route->id;
      job->lane += '\n';
      job->lane += key;
      job->exchange.setOrderKey(std::move(key));
    }
  }
  // A one-way message is accepted once it is in the journal (when there is a store).
  // Ready is read first: once it is set, the store is too.
  const bool store_ready = store_ready_.load();
  Store* const store = store_.load();
  // An input's message (not one a step emitted, a recovered or a rerouted one).
  const bool input = seq == 0 && first_step == 0;
  // An input whose broker keeps the message until its outcome: the broker is its journal.
  const bool kept_by_input =
      one_way && input && job->route->from && job->route->from->keepsMessages();
  const bool journal = one_way && store && seq == 0 && !kept_by_input;
  if (one_way && seq == 0 && store_required_ && (!store_ready || !store)) {
    return refuse(Admission::kUnavailable, job->route->id);
  }
  // Kept by its input's broker: a key seen before makes it a duplicate now; a new key is
  // recorded once it is delivered (a node that dies first leaves it to another).
  if (kept_by_input && store && store_ready && job->route->idempotency_key) {
    std::vector<std::string> missing;
    std::string key = job->route->idempotency_key->render(job->exchange, &missing);
    if (key.empty() || !missing.empty()) {
      job->refusal = keyRefusal("idempotency key", *job->route->idempotency_key, missing);
    } else {
      auto seen = store->known(job->route->id, key, SystemClock::now());
      if (!seen.ok()) {
        if (!store_failing_.exchange(true)) {
          log::error("engine", "the store cannot check idempotency keys (" + seen.error().message +
                                   "); route " + job->route->id + " takes no message until it can");
        }
        return refuse(Admission::kUnavailable, job->route->id);
      }
      if (*seen) {
        job->duplicate = true;
      } else {
        job->remember_key = std::move(key);
      }
    }
  }
  // Held in memory only: acknowledged only while its output can take it (a broker that
  // is down would leave it in a process that may not live to deliver it).
  if (one_way && !journal && input && job->route->to && !job->route->to->ready()) {
    return refuse(Admission::kUnavailable, job->route->id);
  }
  bool run_here = false;
  {
    std::unique_lock lock(mutex_);
    if (!accepting_) return {Admission::kStopping, {}};
    // A request-reply caller waits for the outcome anyway: with a free slot and nobody
    // queued ahead, it runs the exchange itself and saves two thread hand-offs. So does a
    // one-way caller whose output is asynchronous (the run ends once the message is handed
    // to the output), unless the message must wait behind others with its order key.
    const bool caller_may_run =
        may_run_here &&
        (!one_way || (job->lane.empty() && job->route->to && job->route->to->asynchronous()));
    const auto mayRunHere = [&] {
      return caller_may_run && running_ < settings_.workers && queue_.empty() &&
             (!one_way || held_one_way_ < settings_.max_pending);
    };
    run_here = mayRunHere();
    // An input's message waits a while for a place: a short overload slows its callers
    // down instead of refusing them (and the refusals' churn would take the CPU).
    if (!run_here && !past_limits && input && !roomLocked(one_way) &&
        settings_.admission_wait.count() > 0) {
      ++room_waiters_;
      room_cv_.wait_for(lock, settings_.admission_wait,
                        [&] { return !accepting_ || roomLocked(one_way); });
      --room_waiters_;
      if (!accepting_) return {Admission::kStopping, {}};
      run_here = mayRunHere();
    }
    if (!run_here && !past_limits && !roomLocked(one_way)) {
      ++counters_.refused;
      ++route_counters_[job->route->id].refused;
      return {Admission::kBusy, {}};
    }
    if (one_way) ++held_one_way_;
    ++unsettled_;
    ++counters_.accepted;
    if (input) ++route_counters_[job->route->id].accepted;
    if (run_here) {
      ++running_;
    } else if (!journal) {
      enqueueLocked(std::move(job));
    }
  }
  if (journal) {
    // Outside the lock: the write waits for its (group) commit.
    Result<std::optional<std::int64_t>> written = std::optional<std::int64_t>();
    const Route& r = *job->route;
    std::string key;
    if (r.idempotency_key && job->first_step == 0) {  // inputs, not what steps emit
      std::vector<std::string> missing;
      key = r.idempotency_key->render(job->exchange, &missing);
      if (key.empty() || !missing.empty()) {
        job->refusal = keyRefusal("idempotency key", *r.idempotency_key, missing);
        key.clear();
      }
    }
    if (!key.empty()) {
      written = store->appendOnce(r.id, job->exchange.message(), key,
                                  SystemClock::now() + r.idempotency_keep);
      if (written.ok() && !*written) job->duplicate = true;
    } else {
      static const std::vector<std::int64_t> kNone;
      auto plain =
          store->append(r.id, job->exchange.message(), job->first_step, settles ? *settles : kNone);
      if (plain.ok()) {
        written = std::optional<std::int64_t>(*plain);
      } else {
        written = plain.error();
      }
    }
    bool abandoned = false;
    {
      std::lock_guard lock(mutex_);
      if (!written.ok()) {
        --held_one_way_;
        --unsettled_;
        --counters_.accepted;
        ++counters_.refused;
        RouteCounters& rc = route_counters_[job->route->id];
        if (input) --rc.accepted;
        ++rc.refused;
        if (run_here) --running_;
      } else {
        if (*written) {
          job->seq = **written;
          job->exchange.setJournalSeq(job->seq);
        }
        abandoned = stopping_;  // the workers are gone: it stays in the journal
        if (abandoned && run_here) --running_;
        if (!abandoned && !run_here) enqueueLocked(std::move(job));
      }
    }
    if (!written.ok()) {
      idle_cv_.notify_all();
      // Said once per spell, not once per refused message.
      if (!store_failing_.exchange(true)) {
        log::error("engine", "the store cannot keep one-way messages (" + written.error().message +
                                 "); their inputs are refused (HTTP 503) until it can; first "
                                 "refused on route " +
                                 job->route->id);
      }
      return {Admission::kUnavailable, {}};
    }
    if (store_failing_.exchange(false)) {
      log::info("engine", "the store keeps one-way messages again");
    }
    if (abandoned) {
      complete(std::move(job), Outcome::Status::kAbandoned,
               Error(ErrorCode::kTransient, "the daemon stopped"));
      return {Admission::kAccepted, {}};
    }
  }
  if (!run_here) {
    work_cv_.notify_one();
    return {Admission::kAccepted, {}};
  }
  auto pending = std::make_shared<CallerRun>(this, std::move(job));
  return {Admission::kAccepted, [pending] { (*pending)(); }};
}

Admission Engine::recover(std::shared_ptr<const Route> route, std::uint64_t version,
                          StoredMessage stored) {
  return admitJob(std::move(route), version, std::move(stored.message), stored.first_step, false,
                  true, nullptr, stored.seq)
      .admission;
}

InboundContext::Admitted Engine::refuse(Admission why, const std::string& route_id) {
  std::lock_guard lock(mutex_);
  ++counters_.refused;
  ++route_counters_[route_id].refused;
  return {why, {}};
}

bool Engine::roomLocked(bool one_way) const {
  return queue_.size() < settings_.queue && (!one_way || held_one_way_ < settings_.max_pending);
}

void Engine::runInSlot(JobPtr job) {
  run(job);
  bool queued = false;
  {
    std::lock_guard lock(mutex_);
    --running_;
    queued = !queue_.empty();
  }
  if (queued) work_cv_.notify_one();  // the freed slot can take a queued exchange
  idle_cv_.notify_all();
}

void Engine::workerLoop() {
  for (;;) {
    JobPtr job;
    std::vector<JobPtr> settled;
    {
      std::unique_lock lock(mutex_);
      // At most `workers` exchanges run at once, counting request-reply callers that run
      // their own exchange; settlements of an asynchronous output come first.
      work_cv_.wait(lock, [&] {
        return stopping_ || (!settled_.empty() && !settling_) ||
               (!queue_.empty() && running_ < settings_.workers);
      });
      if (stopping_) return;
      if (!settled_.empty() && !settling_) {
        settled.swap(settled_);
        settling_ = true;
      } else {
        job = std::move(queue_.front());
        queue_.pop_front();
        ++running_;
        if (room_waiters_ > 0) room_cv_.notify_one();
      }
    }
    if (job) {
      runInSlot(std::move(job));
      continue;
    }
    for (JobPtr& j : settled) run(j);  // each ends its exchange (or schedules a retry)
    std::lock_guard lock(mutex_);
    settling_ = false;
  }
}

bool Engine::laterDue(const JobPtr& a, const JobPtr& b) { return a->due > b->due; }

void Engine::timerLoop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (stopping_) return;
    if (retry_heap_.empty()) {
      timer_cv_.wait(lock);
      continue;
    }
    auto due = retry_heap_.front()->due;
    if (SteadyClock::now() < due) {
      timer_cv_.wait_until(lock, due);
      continue;
    }
    std::pop_heap(retry_heap_.begin(), retry_heap_.end(), laterDue);
    JobPtr job = std::move(retry_heap_.back());
    retry_heap_.pop_back();
    queue_.push_back(std::move(job));
    work_cv_.notify_one();
  }
}

void Engine::run(JobPtr& job) {
  // Every line written while it runs names the message (and hides who it is about, unless
  // the route says otherwise).
  log::Scope scope({job->exchange.traceId(), job->route->id, dossierOf(job->exchange.message()),
                    job->exchange.message().id(), job->route->redact_logs});
  // Steps and endpoints never throw by contract; a plugin that does must not wedge a slot
  // or lose the message.
  try {
    runSteps(job);
  } catch (const std::exception& e) {
    if (job) failInternal(std::move(job), e.what());
  } catch (...) {
    if (job) failInternal(std::move(job), "unknown exception");
  }
}

void Engine::failInternal(JobPtr job, const std::string& what) {
  log::error("engine", "route " + job->route->id + ": exception: " + what);
  bool request_reply = job->exchange.pattern() == ExchangePattern::kRequestReply;
  complete(std::move(job),
           request_reply ? Outcome::Status::kFailed : Outcome::Status::kDeadLettered,
           Error(ErrorCode::kInternal, "internal error: " + what));
}

void Engine::runSteps(JobPtr& job) {
  Exchange& ex = job->exchange;
  const Route& route = *job->route;
  bool request_reply = ex.pattern() == ExchangePattern::kRequestReply;

  if (job->sent) {  // back from an asynchronous output
    Delivery d = std::move(*job->sent);
    job->sent.reset();
    afterSend(std::move(job), std::move(d));
    return;
  }

  if (job->duplicate) {
    {
      std::lock_guard lock(mutex_);
      ++counters_.duplicates;
      ++route_counters_[job->route->id].duplicates;
    }
    complete(std::move(job), Outcome::Status::kStopped,
             Error(ErrorCode::kPermanent, "a duplicate (its idempotency key was seen before)"));
    return;
  }
  if (!job->refusal.empty()) {
    complete(std::move(job), Outcome::Status::kDeadLettered,
             Error(ErrorCode::kInvalidMessage, job->refusal));
    return;
  }

  if (request_reply && SteadyClock::now() >= ex.deadline()) {
    complete(std::move(job), Outcome::Status::kFailed,
             Error(ErrorCode::kTimeout, "route timeout passed before the message was handled"));
    return;
  }

  if (!job->steps_done) {
    Result<StepOutcome> r = lienthong::runSteps(route.steps, ex, job->first_step);
    if (!r.ok()) {
      if (r.error().transient()) {
        retryLater(std::move(job), r.error());
      } else {
        complete(std::move(job),
                 request_reply ? Outcome::Status::kFailed : Outcome::Status::kDeadLettered,
                 r.error());
      }
      return;
    }
    switch (*r) {
      case StepOutcome::kContinue:
        break;
      case StepOutcome::kStop:
        complete(std::move(job), Outcome::Status::kStopped);
        return;
      case StepOutcome::kHeld:
        job->held = true;  // its journal entry stays until what it becomes is journalled
        complete(std::move(job), Outcome::Status::kStopped);
        return;
      case StepOutcome::kRetry:
        retryLater(std::move(job), Error(ErrorCode::kTransient, "a step asked for a retry"));
        return;
      case StepOutcome::kDeadLetter:
        complete(std::move(job),
                 request_reply ? Outcome::Status::kFailed : Outcome::Status::kDeadLettered,
                 Error(ErrorCode::kPermanent, "a step sent the message to the dead letters"));
        return;
    }
    job->steps_done = true;
  }

  if (!route.to) {
    complete(std::move(job), Outcome::Status::kDelivered);
    return;
  }
  if (route.breaker.failures > 0) {
    if (auto wait = breakerWait(*job)) {
      if (request_reply && *wait >= job->deadline) {
        complete(std::move(job), Outcome::Status::kFailed,
                 Error(ErrorCode::kTransient, route.to->describe() + ": the circuit breaker of " +
                                                  route.to->peer() +
                                                  " is open (too many consecutive failures)"));
        return;
      }
      job->due = *wait;
      schedule(std::move(job));  // not an attempt: the breaker held it back
      return;
    }
  }
  ex.message().setAttempt(job->attempts + 1);
  if (route.attempt_timeout.count() > 0) {
    ex.setDeadline(std::min(job->deadline, SteadyClock::now() + route.attempt_timeout));
  }
  if (route.to->asynchronous()) {
    // The output keeps many in flight: the job waits in in_flight_, not on a worker.
    const std::shared_ptr<const Route> keep = job->route;
    std::uint64_t id = 0;
    {
      std::lock_guard lock(mutex_);
      id = ++next_flight_;
      in_flight_.emplace(id, std::move(job));
    }
    keep->to->sendAsync(ex, [gate = gate_, id](Delivery d) { asyncSent(gate, id, std::move(d)); });
    return;
  }
  afterSend(std::move(job), route.to->send(ex));
}

void Engine::asyncSent(const std::shared_ptr<AsyncGate>& gate, std::uint64_t id,
                       Delivery delivery) {
  std::lock_guard lock(gate->mutex);
  if (gate->engine) gate->engine->sent(id, std::move(delivery));
}

void Engine::sent(std::uint64_t id, Delivery delivery) {
  JobPtr job;
  {
    std::lock_guard lock(mutex_);
    auto it = in_flight_.find(id);
    if (it == in_flight_.end()) return;  // abandoned by a drain meanwhile
    job = std::move(it->second);
    in_flight_.erase(it);
    if (!stopping_) {
      job->sent = std::move(delivery);
      const bool wake = settled_.empty() && !settling_;
      settled_.push_back(std::move(job));
      if (!wake) return;  // the batch under way or already signalled takes it
    }
  }
  if (!job) {
    work_cv_.notify_one();
    return;
  }
  // Stopping: the workers are gone or going; the outcome is recorded here.
  try {
    afterSend(std::move(job), std::move(delivery));
  } catch (const std::exception& e) {
    log::error("engine", std::string("a settlement at stop threw: ") + e.what());
  }
}

void Engine::afterSend(JobPtr job, Delivery d) {
  Exchange& ex = job->exchange;
  const Route& route = *job->route;
  const bool request_reply = ex.pattern() == ExchangePattern::kRequestReply;
  ex.setDeadline(job->deadline);
  if (route.breaker.failures > 0) breakerResult(*job, d.status == Delivery::Status::kRetry);
  switch (d.status) {
    case Delivery::Status::kAccepted:
      if (d.reply) mergeReply(ex.message(), std::move(*d.reply));
      d.reply.reset();
      complete(std::move(job), Outcome::Status::kDelivered, {}, std::move(d));
      return;
    case Delivery::Status::kRetry: {
      Error why(
          d.failure == Delivery::Failure::kTimeout ? ErrorCode::kTimeout : ErrorCode::kTransient,
          route.to->describe() + ": " + d.detail);
      retryLater(std::move(job), why, std::move(d));
      return;
    }
    case Delivery::Status::kRejected: {
      Error why(ErrorCode::kPermanent, route.to->describe() + ": " + d.detail);
      complete(std::move(job),
               request_reply ? Outcome::Status::kFailed : Outcome::Status::kDeadLettered, why,
               std::move(d));
      return;
    }
  }
}

void Engine::retryLater(JobPtr job, const Error& why, std::optional<Delivery> last) {
  const Route& route = *job->route;
  ++job->attempts;
  bool request_reply = job->exchange.pattern() == ExchangePattern::kRequestReply;
  Outcome::Status give_up =
      request_reply ? Outcome::Status::kFailed : Outcome::Status::kDeadLettered;
  if (route.retry.attempts != 0 && job->attempts >= route.retry.attempts) {
    Error final_error = why;
    if (route.retry.attempts > 1) {
      final_error.message += " (after " + std::to_string(job->attempts) + " attempts)";
    }
    complete(std::move(job), give_up, std::move(final_error), std::move(last));
    return;
  }
  auto delay = route.retry.delayAfter(job->attempts);
  job->due = SteadyClock::now() + delay;
  if (request_reply && job->due >= job->deadline) {
    // The caller cannot wait for another attempt: it gets the last failure as it was.
    complete(std::move(job), Outcome::Status::kFailed, why, std::move(last));
    return;
  }
  traces_.add({SystemClock::now(), route.id, job->exchange.routeVersion(),
               job->exchange.message().id(), dossierOf(job->exchange.message()),
               job->exchange.traceId(), job->attempts, "retry",
               why.message + " (next in " + std::to_string(delay.count()) + " ms)"});
  if (!job->steps_done) job->exchange.message() = job->original;
  log::debug("engine", "route " + route.id + ": message " + job->exchange.message().id() +
                           " attempt " + std::to_string(job->attempts) + " failed (" + why.message +
                           "); next in " + std::to_string(delay.count()) + "ms");
  {
    std::lock_guard lock(mutex_);
    ++counters_.retries;
    ++route_counters_[route.id].retried;
  }
  schedule(std::move(job));
}

void Engine::schedule(JobPtr job) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      retry_heap_.push_back(std::move(job));
      std::push_heap(retry_heap_.begin(), retry_heap_.end(), laterDue);
    }
  }
  if (job) {  // the engine stopped while this attempt ran
    complete(std::move(job), Outcome::Status::kAbandoned,
             Error(ErrorCode::kTransient, "the daemon stopped"));
    return;
  }
  timer_cv_.notify_one();
}

bool Engine::enqueueLocked(JobPtr job) {
  if (!job->lane.empty()) {
    auto [lane, fresh] = lanes_.try_emplace(job->lane);
    if (!fresh) {
      lane->second.push_back(std::move(job));
      ++in_order_;
      return false;
    }
    job->lane_head = true;
  }
  queue_.push_back(std::move(job));
  return true;
}

bool Engine::releaseLaneLocked(const std::string& lane_key) {
  auto lane = lanes_.find(lane_key);
  if (lane == lanes_.end()) return false;  // drained
  if (lane->second.empty()) {
    lanes_.erase(lane);
    return false;
  }
  JobPtr next = std::move(lane->second.front());
  lane->second.pop_front();
  --in_order_;
  next->lane_head = true;
  queue_.push_back(std::move(next));
  return true;
}

std::optional<SteadyClockPoint> Engine::breakerWait(Job& job) {
  const Route& route = *job.route;
  const auto now = SteadyClock::now();
  const std::string peer = route.to->peer();
  std::lock_guard lock(mutex_);
  Breaker& b = breakers_[peer];
  if (!b.open) return std::nullopt;
  ++counters_.breaker_waits;
  if (now < b.open_until) return b.open_until;
  if (!b.probing) {  // half-open: this attempt finds out whether the peer is back
    --counters_.breaker_waits;
    b.probing = true;
    job.probing = true;
    job.probe_generation = b.generation;
    return std::nullopt;
  }
  using std::chrono::milliseconds;
  return now + std::clamp(route.breaker.open_for, milliseconds(10), milliseconds(1000));
}

void Engine::breakerResult(Job& job, bool peer_failed) {
  const Route& route = *job.route;
  const std::string peer = route.to->peer();
  bool opened = false;
  bool closed = false;
  std::uint32_t failures = 0;
  {
    std::lock_guard lock(mutex_);
    Breaker& b = breakers_[peer];
    // A probe whose breaker closed or opened again meanwhile is an ordinary attempt.
    const bool probe = job.probing && job.probe_generation == b.generation;
    if (probe) b.probing = false;
    job.probing = false;
    if (!peer_failed) {
      closed = b.open;
      if (b.open) ++b.generation;
      b.failures = 0;
      b.open = false;
      b.probing = false;
    } else {
      failures = ++b.failures;
      if (probe || (!b.open && b.failures >= route.breaker.failures)) {
        opened = true;
        b.open = true;
        b.probing = false;
        ++b.generation;
        b.open_until = SteadyClock::now() + route.breaker.open_for;
      }
    }
  }
  if (opened) {
    log::warn("engine", "circuit breaker of " + peer + " open for " +
                            std::to_string(route.breaker.open_for.count()) + "ms after " +
                            std::to_string(failures) + " consecutive failure(s) (route " +
                            route.id + ")");
  } else if (closed) {
    log::info("engine", "circuit breaker of " + peer + " closed: the probe went through");
  }
}

bool Engine::toDeadLetterRoute(Job& job, const Error& error) {
  const Route& route = *job.route;
  if (!resolver_) return false;
  auto [target, version] = resolver_(route.dead_letter_route);
  if (!target || !target->enabled || target->pattern != ExchangePattern::kOneWay) {
    log::error("engine", "route " + route.id + ": dead-letter route '" + route.dead_letter_route +
                             "' is not loaded or not enabled; the dead letter stays in the store");
    return false;
  }
  Message m = job.original;
  m.setHeader("deadletter.route", route.id);
  m.setHeader("deadletter.reason", std::string(errorCodeName(error.code)) + ": " + error.message);
  m.setHeader("deadletter.attempts", std::to_string(job.attempts));
  if (job.seq != 0 && store_) {
    // One write moves the journal entry: a crash after it delivers to the target route.
    Result<void> moved = store_.load()->reroute(job.seq, target->id, m);
    if (!moved.ok()) {
      log::error("engine", "route " + route.id + ": the store did not move message " + m.id() +
                               " to dead-letter route " + target->id + ": " +
                               moved.error().message);
      return false;
    }
  }
  const std::string id = m.id();
  Admission a = admitJob(target, version, std::move(m), 0, false, true, nullptr, job.seq).admission;
  if (a != Admission::kAccepted && job.seq == 0) return false;
  log::error("engine", "dead letter: route " + route.id + ", message " + id + ", " +
                           std::string(errorCodeName(error.code)) + ": " + error.message +
                           " -> route " + target->id +
                           (a == Admission::kAccepted ? "" : " at the next start"));
  return true;
}

void Engine::complete(JobPtr job, Outcome::Status status, Error error,
                      std::optional<Delivery> delivery) {
  const Route& route = *job->route;
  const std::string route_id = route.id;
  const bool duplicate = job->duplicate;
  bool one_way = job->exchange.pattern() == ExchangePattern::kOneWay;
  bool rerouted = false;
  if (status == Outcome::Status::kDeadLettered && one_way && !route.dead_letter_route.empty()) {
    rerouted = toDeadLetterRoute(*job, error);
  }
  if (rerouted) {
    // Logged by toDeadLetterRoute; its journal entry belongs to the other route now.
  } else if (status == Outcome::Status::kDeadLettered) {
    log::error("engine", "dead letter: route " + route.id + ", message " +
                             job->exchange.message().id() + ", " +
                             std::string(errorCodeName(error.code)) + ": " + error.message);
  } else if (status == Outcome::Status::kAbandoned) {
    log::error("engine", "not delivered before stop: route " + route.id + ", message " +
                             job->exchange.message().id() + " (" + error.message + ")");
  }
  if (!job->remember_key.empty() && store_ &&
      (status == Outcome::Status::kDelivered || status == Outcome::Status::kStopped)) {
    auto kept = store_.load()->remember(route.id, job->remember_key,
                                        SystemClock::now() + route.idempotency_keep);
    if (!kept.ok()) {
      log::error("engine", "route " + route.id + ", message " + job->exchange.message().id() +
                               ": its idempotency key was not recorded (a redelivery would go "
                               "through again): " +
                               kept.error().message);
    }
  }
  const char* what = "failed";
  switch (status) {
    case Outcome::Status::kDelivered:
      what = "delivered";
      break;
    case Outcome::Status::kStopped:
      what = duplicate ? "duplicate" : "stopped";
      break;
    case Outcome::Status::kDeadLettered:
      what = rerouted ? "dead-letter route" : "dead-lettered";
      break;
    case Outcome::Status::kAbandoned:
      what = "abandoned";
      break;
    default:
      break;
  }
  // The audit chain's record of an exchange that ended (an abandoned one did not: it
  // goes on at the next start), or of a message a step holds (it goes on in a group,
  // which has its own record).
  std::optional<AuditRecord> audit;
  if (auditing_ && store_ && status != Outcome::Status::kAbandoned) {
    const Message& m = job->exchange.message();
    AuditRecord& r = audit.emplace();
    r.at_ms = toEpochMs(SystemClock::now());
    r.actor = "route:" + route.id;
    r.action = job->held ? "held" : what;
    r.subject = dossierOf(m);
    r.message_id = m.id();
    r.trace_id = job->exchange.traceId();
    r.digest = pki::sha256Hex(job->original.body());  // the message as it was accepted
    r.version = job->exchange.routeVersion();
    if (job->held) {
      r.detail = "kept by a step for its group";
    } else if (status == Outcome::Status::kDelivered) {
      r.detail = route.to ? "to " + route.to->peer() : std::string();
    } else if (!error.message.empty()) {
      r.detail = std::string(errorCodeName(error.code)) + ": " + error.message;
    }
  }
  bool audit_written = false;
  if (job->seq != 0 && store_ && !rerouted && !job->held) {
    // The journal follows the outcome, with the audit record in the same transaction; an
    // abandoned message stays for the next start.
    Result<void> settled;
    if (status == Outcome::Status::kDelivered || status == Outcome::Status::kStopped) {
      settled = store_.load()->delivered(job->seq, audit ? &*audit : nullptr);
      audit_written = true;
    } else if (status != Outcome::Status::kAbandoned) {
      // Against the dossier it is about, as far as its route found out (a MaHoSo header
      // a step set), when it came without one.
      const Message& m = job->exchange.message();
      const std::string dossier = dossierOf(m);
      settled = store_.load()->deadLetter(
          job->seq, std::string(errorCodeName(error.code)) + ": " + error.message, dossier,
          audit ? &*audit : nullptr);
      audit_written = true;
    }
    if (!settled.ok()) {
      log::error("engine", "route " + route.id + ", message " + job->exchange.message().id() +
                               ": the store did not record the outcome (it may be delivered "
                               "again after a restart): " +
                               settled.error().message);
    }
  }
  if (audit && !audit_written) {
    // Not journalled (request-reply, a broker's input): queued, not waited for.
    (void)store_.load()->audit(*audit, false);
  }
  {
    const Message& m = job->exchange.message();
    traces_.add({SystemClock::now(), route.id, job->exchange.routeVersion(), m.id(), dossierOf(m),
                 job->exchange.traceId(), job->attempts, what,
                 status == Outcome::Status::kDelivered ? std::string() : error.message});
  }
  Outcome outcome;
  outcome.status = status;
  outcome.message = std::move(job->exchange.message());
  outcome.error = std::move(error);
  outcome.delivery = std::move(delivery);
  Completion done = std::move(job->done);
  const std::string lane = job->lane_head ? job->lane : std::string();
  if (job->probing) {  // ended before its attempt said anything about the peer
    const std::string peer = route.to->peer();
    std::lock_guard lock(mutex_);
    Breaker& b = breakers_[peer];
    if (b.generation == job->probe_generation) b.probing = false;
  }
  const bool held = job->held;
  const SteadyClock::time_point admitted = job->admitted;
  job.reset();
  if (done) {
    try {
      done(std::move(outcome));
    } catch (const std::exception& e) {
      log::error("engine", "route " + route_id + ": completion threw: " + e.what());
    } catch (...) {
      log::error("engine", "route " + route_id + ": completion threw");
    }
  }
  bool next_in_lane = false;
  {
    std::lock_guard lock(mutex_);
    // The next message with the key starts only now: its predecessor is settled.
    if (!lane.empty()) next_in_lane = releaseLaneLocked(lane);
    if (one_way) --held_one_way_;
    --unsettled_;
    if (room_waiters_ > 0) room_cv_.notify_one();
    RouteCounters& rc = route_counters_[route_id];
    switch (status) {
      case Outcome::Status::kDelivered:
      case Outcome::Status::kStopped:
        // A duplicate is not delivered; a held part is, with its group.
        if (held) {
          ++counters_.held;
        } else if (!duplicate) {
          ++counters_.delivered;
          ++rc.delivered;
          rc.observe(SteadyClock::now() - admitted);
        }
        break;
      case Outcome::Status::kDeadLettered:
        ++counters_.dead_lettered;
        ++rc.dead_lettered;
        rc.observe(SteadyClock::now() - admitted);
        break;
      default:
        ++counters_.failed;
        ++rc.failed;
        rc.observe(SteadyClock::now() - admitted);
        break;
    }
  }
  if (next_in_lane) work_cv_.notify_one();
  idle_cv_.notify_all();
}

std::size_t Engine::drain(std::chrono::milliseconds timeout) {
  std::vector<JobPtr> abandoned;
  std::vector<JobPtr> settled;
  {
    std::unique_lock lock(mutex_);
    accepting_ = false;
    room_cv_.notify_all();
    if (workers_.empty() && !timer_.joinable()) return 0;
    idle_cv_.wait_for(lock, timeout, [&] { return unsettled_ == 0; });
    stopping_ = true;
  }
  work_cv_.notify_all();
  timer_cv_.notify_all();
  for (auto& w : workers_) w.join();
  workers_.clear();
  if (timer_.joinable()) timer_.join();
  {
    std::lock_guard lock(mutex_);
    for (auto& j : queue_) abandoned.push_back(std::move(j));
    for (auto& j : retry_heap_) abandoned.push_back(std::move(j));
    for (auto& [key, waiting] : lanes_) {
      for (auto& j : waiting) abandoned.push_back(std::move(j));
    }
    // Still with an asynchronous output: its late settlement finds nothing here.
    for (auto& [id, j] : in_flight_) abandoned.push_back(std::move(j));
    in_flight_.clear();
    settled.swap(settled_);
    queue_.clear();
    retry_heap_.clear();
    lanes_.clear();
    in_order_ = 0;
  }
  for (auto& job : settled) run(job);  // settled before the stop: their outcome counts
  std::size_t n = abandoned.size();
  for (auto& job : abandoned) {
    complete(std::move(job), Outcome::Status::kAbandoned,
             Error(ErrorCode::kTransient, "the daemon stopped"));
  }
  return n;
}

bool Engine::accepting() const {
  std::lock_guard lock(mutex_);
  return accepting_;
}

std::map<std::string, RouteCounters> Engine::routeCounters() const {
  std::lock_guard lock(mutex_);
  return route_counters_;
}

std::vector<Engine::BreakerState> Engine::breakerStates() const {
  std::lock_guard lock(mutex_);
  std::vector<BreakerState> out;
  for (const auto& [peer, b] : breakers_) out.push_back({peer, b.open, b.failures});
  return out;
}

Engine::Stats Engine::stats() const {
  std::lock_guard lock(mutex_);
  Stats s = counters_;
  s.queued = queue_.size();
  s.running = running_;
  s.sending = in_flight_.size() + settled_.size();
  s.waiting_for_room = room_waiters_;
  s.retrying = retry_heap_.size();
  s.held_one_way = held_one_way_;
  s.in_order = in_order_;
  for (const auto& [peer, b] : breakers_) s.open_breakers += b.open ? 1 : 0;
  return s;
}

}  // namespace lienthong
