#include "core/daemon.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "core/builtins.h"
#include "core/xpath.h"
#include "lienthong/log.h"

namespace lienthong {

std::unique_ptr<Daemon> Daemon::create(const std::string& config_file, ConfigErrors& errors) {
  initXml();
  std::unique_ptr<Daemon> d(new Daemon());
  d->registry_ = std::make_unique<Registry>();
  registerBuiltins(*d->registry_);
  Loader loader(*d->registry_, false);
  auto config = loader.loadConfig(config_file, errors);
  if (!config) return nullptr;
  d->config_ = std::move(*config);
  log::setLevel(d->config_.log_level);
  log::setFormat(d->config_.log_json ? log::Format::kJson : log::Format::kText);
  log::setRedact(d->config_.log_redact);
  setXmlLimits(d->config_.xml);
  if (!d->plugins_.load(d->config_.plugin_paths, *d->registry_, errors, d->config_.plugins_where)) {
    return nullptr;
  }
  if (d->config_.store.configured()) loader.setStoreSlot(d->store_slot_);
  d->pending_ = loader.loadRoutes(d->config_, d->config_.route_paths, errors);
  if (!d->pending_) return nullptr;
  d->engine_ = std::make_unique<Engine>(d->config_.engine);
  d->engine_->setAuditing(d->auditing());
  Daemon* self = d.get();
  d->engine_->setRouteResolver([self](const std::string& id) {
    std::shared_ptr<const RouteTable> table = self->routes();
    std::shared_ptr<const Route> route = table ? table->find(id) : nullptr;
    return std::make_pair(route, table ? table->version : 0);
  });
  return d;
}

Daemon::~Daemon() {
  if (running_) stop();
  store_slot_->set(nullptr);  // the routes' steps may outlive the daemon; the store does not
}

Result<void> Daemon::start() {
  if (config_.store.configured() && !store_) {
    if (!config_.store.path.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(std::filesystem::path(config_.store.path).parent_path(),
                                          ec);
    }
    // One-way messages wait for the store and its journal's recovery (in activate()):
    // nothing one-way is accepted that could not be kept, or ahead of what the journal
    // holds; the rest runs.
    engine_->requireStore();
    auto store = openStore(config_.store);
    if (store.ok()) {
      store_ = std::move(*store);
      store_view_ = store_.get();
      engine_->attachStore(store_.get());
      store_slot_->set(store_.get());
    } else {
      log::error("daemon", store.error().message +
                               "; one-way messages are refused (HTTP 503) until the store "
                               "opens; trying again every " +
                               std::to_string(config_.store_reopen.count()) + "ms");
    }
  }
  engine_->start();
  for (const auto& [name, listener] : config_.listeners) {
    Result<void> r = listener->start();
    if (!r.ok()) {
      stop();
      return makeError(r.error().code, "listener '" + name + "': " + r.error().message);
    }
    started_listeners_.push_back(name);
    log::info("daemon", listener->describe());
  }
  started_at_ = std::chrono::steady_clock::now();
  running_ = true;
  Result<void> r = activate(pending_, store_ != nullptr);
  if (!r.ok()) {
    stop();
    return r;
  }
  {
    std::lock_guard lock(mutex_);
    pending_.reset();
  }
  // The opener tries the store until it opens; with a shared store it then goes on taking
  // over the journal of nodes that are gone.
  if (config_.store.configured() && (!journal_recovered_ || !config_.store.url.empty())) {
    opener_quit_ = false;
    store_opener_ = std::thread([this] { reopenStore(); });
  }
  if (auditing()) {
    if (store_) recordStart();
    if (!config_.audit.key) {
      log::warn("daemon",
                "the audit chain has no checkpoints: audit.key names no signing key (a "
                "rewrite of the whole chain would not show)");
    }
    auditor_quit_ = false;
    auditor_ = std::thread([this] { auditLoop(); });
  }
  return {};
}

void Daemon::recordStart() {
  if (start_recorded_.exchange(true)) return;
  AuditRecord started;
  started.actor = "daemon";
  started.action = "start";
  started.subject = config_.file;
  started.version = routes() ? routes()->version : 0;
  started.detail = "lienthong " LIENTHONG_VERSION;
  (void)audit(started, false);
}

Result<void> Daemon::audit(const AuditRecord& record, bool wait) {
  if (!auditing()) return makeError(ErrorCode::kInvalidConfig, "the audit chain is off");
  Store* store = store_view_.load();
  if (!store) return makeError(ErrorCode::kTransient, "the store is not open");
  return store->audit(record, wait);
}

Result<std::optional<AuditCheckpoint>> Daemon::checkpointAudit() {
  if (!auditing()) return makeError(ErrorCode::kInvalidConfig, "the audit chain is off");
  if (!config_.audit.key) {
    return makeError(ErrorCode::kInvalidConfig, "audit.key names no signing key");
  }
  Store* store = store_view_.load();
  if (!store) return makeError(ErrorCode::kTransient, "the store is not open");
  std::lock_guard lock(audit_mutex_);
  const std::string& chain = store->auditChain();
  if (last_checkpoint_ < 0) {
    auto kept = store->auditCheckpoints(chain);
    if (!kept.ok()) return kept.error();
    last_checkpoint_ = kept->empty() ? 0 : kept->back().seq;
  }
  auto head = store->auditHead(chain);
  if (!head.ok()) return head.error();
  if (head->first <= last_checkpoint_) return std::optional<AuditCheckpoint>();
  auto cp = signCheckpoint(*config_.audit.key, chain, head->first, head->second,
                           toEpochMs(SystemClock::now()));
  if (!cp.ok()) return cp.error();
  if (auto kept = store->addAuditCheckpoint(*cp); !kept.ok()) return kept.error();
  last_checkpoint_ = cp->seq;
  return std::optional<AuditCheckpoint>(std::move(*cp));
}

void Daemon::auditLoop() {
  std::unique_lock lock(audit_mutex_);
  while (!auditor_quit_) {
    audit_cv_.wait_for(lock, config_.audit.checkpoint_every);
    if (auditor_quit_) return;
    lock.unlock();
    std::string problem;
    if (config_.audit.key) {
      auto cp = checkpointAudit();
      if (!cp.ok()) problem = "audit checkpoint: " + cp.error().message;
    }
    Store* store = store_view_.load();
    if (config_.audit.keep.count() > 0 && store) {
      auto pruned = store->pruneAudit(SystemClock::now() - config_.audit.keep, "daemon");
      if (!pruned.ok()) {
        problem = "audit pruning: " + pruned.error().message;
      } else if (*pruned > 0) {
        log::info("daemon", "audit chain: " + std::to_string(*pruned) +
                                " records older than audit.keep pruned");
      }
    }
    if (!problem.empty() && problem != audit_error_) log::error("daemon", problem);
    audit_error_ = problem;
    lock.lock();
  }
}

bool Daemon::takeUpStore() {
  if (!store_) {
    auto store = openStore(config_.store);
    if (!store.ok()) {
      if (store.error().message != opener_error_) {
        opener_error_ = store.error().message;
        log::error("daemon", opener_error_ + "; one-way messages are still refused");
      }
      return false;
    }
    store_ = std::move(*store);
    store_view_ = store_.get();
    engine_->attachStore(store_.get());
    store_slot_->set(store_.get());
  }
  std::shared_ptr<RouteTable> table;
  {
    std::lock_guard daemon_lock(mutex_);
    if (active_) table = active_->table;
  }
  if (!table || !recoverJournal(table)) return false;
  journal_recovered_ = true;
  engine_->storeReady();
  if (auditing()) recordStart();  // the store opened after the start
  log::info("daemon", config_.store.describe() + " open: one-way messages are accepted");
  return true;
}

void Daemon::reopenStore() {
  std::unique_lock lock(opener_mutex_);
  while (!opener_quit_) {
    const bool open = journal_recovered_;
    opener_cv_.wait_for(lock, open ? config_.store.take_over_every : config_.store_reopen);
    if (opener_quit_) return;
    lock.unlock();  // a stop does not wait for the lock behind an open or a recovery
    if (!open) {
      const bool done = takeUpStore();
      if (done && !store_->shared()) return;
    } else {
      takeOver();
    }
    lock.lock();
  }
}

void Daemon::takeOver() {
  auto claimed = store_->takeOver();
  if (!claimed.ok()) {
    if (claimed.error().message != opener_error_) {
      opener_error_ = claimed.error().message;
      log::warn("daemon", "looking for the journal of nodes that are gone: " + opener_error_);
    }
    return;
  }
  opener_error_.clear();
  if (claimed->empty()) return;
  std::shared_ptr<RouteTable> table;
  {
    std::lock_guard lock(mutex_);
    if (active_) table = active_->table;
  }
  if (!table) return;  // stays claimed: taken up at this node's next start
  const std::size_t n = claimed->size();
  const std::size_t resumed = resume(table, *claimed);
  log::warn("daemon", std::to_string(resumed) + " journalled message(s) of " + std::to_string(n) +
                          " taken over from nodes that are gone (or replayed)");
}

bool Daemon::recoverJournal(const std::shared_ptr<RouteTable>& table) {
  auto pending = store_->pending();
  if (!pending.ok()) {
    log::error("daemon", "the journal could not be read (" + pending.error().message +
                             "); one-way messages are refused until it can be");
    return false;
  }
  const std::size_t recovered = resume(table, *pending);
  if (!pending->empty()) {
    log::info("daemon", std::to_string(recovered) + " journalled message(s) of " +
                            std::to_string(pending->size()) + " taken up again after a restart");
  }
  return true;
}

std::size_t Daemon::resume(const std::shared_ptr<RouteTable>& table,
                           std::vector<StoredMessage>& messages) {
  std::size_t recovered = 0;
  for (StoredMessage& p : messages) {
    auto route = table->find(p.route);
    if (!route || !route->enabled) {
      const std::string why = "route '" + p.route + "' is not loaded or not enabled any more";
      if (!store_->deadLetter(p.seq, why).ok()) {
        log::error("daemon", "journal entry " + std::to_string(p.seq) + ": " + why);
      }
      continue;
    }
    if (engine_->recover(route, table->version, std::move(p)) == Admission::kAccepted) {
      ++recovered;
    }
  }
  return recovered;
}

Result<void> Daemon::activate(std::shared_ptr<RouteTable> table, bool recover) {
  auto next = std::make_unique<Active>();
  {
    std::lock_guard lock(mutex_);
    table->version = next_version_++;
  }
  next->table = std::move(table);
  std::shared_ptr<const RouteTable> current = routes();
  for (const auto& route : next->table->routes) {
    if (!route->enabled || !route->from) continue;
    // Steps first, so that the input's first message finds them live; a step that holds
    // messages across exchanges takes over from the same step of the running version.
    std::shared_ptr<Route> before = current ? current->find(route->id) : nullptr;
    for (std::size_t i = 0; i < route->steps.size(); ++i) {
      auto emitter = std::make_unique<RouteStepEmitter>(*engine_, route, next->table->version, i);
      Step* previous = before && i < before->steps.size() ? before->steps[i].get() : nullptr;
      route->steps[i]->start(*emitter, previous);
      next->started_steps.push_back(route->steps[i].get());
      next->emitters.push_back(std::move(emitter));
    }
  }
  if (recover && recoverJournal(next->table)) {
    journal_recovered_ = true;
    engine_->storeReady();
  }
  for (const auto& route : next->table->routes) {
    if (!route->enabled || !route->from) continue;
    if (disabledByOperator(route->id)) {
      log::info("daemon",
                "route " + route->id + ": its input stays stopped (disabled by an operator)");
      continue;
    }
    auto ctx = std::make_unique<RouteContext>(*engine_, route, next->table->version);
    Result<void> r = route->from->start(*ctx);
    if (!r.ok()) {
      stopInputs(*next);
      stopSteps(*next, false);
      return makeError(r.error().code, "route " + route->id + " (" + route->from->describe() +
                                           "): " + r.error().message);
    }
    next->started.push_back(route->from.get());
    next->contexts.push_back(std::move(ctx));
  }
  std::unique_ptr<Active> old;
  {
    std::lock_guard lock(mutex_);
    old = std::move(active_);
    active_ = std::move(next);
  }
  if (old) {
    previous_table_ = old->table;
    // New inputs are live; the old ones stop now. Their contexts stay alive a while for
    // requests that looked up the old binding just before the swap.
    stopInputs(*old);
    stopSteps(*old, false);
    auto now = std::chrono::steady_clock::now();
    old->retired_at = now;
    std::erase_if(retired_, [&](const std::unique_ptr<Active>& a) {
      return now - a->retired_at > std::chrono::minutes(1);
    });
    retired_.push_back(std::move(old));
  }
  {
    // A route gone with the reload forgets an operator's disable.
    std::lock_guard lock(mutex_);
    std::erase_if(paused_, [&](const std::string& id) { return !active_->table->find(id); });
  }
  std::size_t enabled = 0;
  for (const auto& route : active_->table->routes) {
    enabled += route->enabled && !disabledByOperator(route->id) ? 1 : 0;
  }
  log::info("daemon", "route table version " + std::to_string(active_->table->version) +
                          " active: " + std::to_string(enabled) + " route(s) enabled of " +
                          std::to_string(active_->table->routes.size()));
  return {};
}

void Daemon::stopInputs(Active& active) {
  for (InboundEndpoint* in : active.started) in->stop();
  active.started.clear();
}

void Daemon::stopSteps(Active& active, bool final) {
  for (auto it = active.started_steps.rbegin(); it != active.started_steps.rend(); ++it) {
    (*it)->stop(final);
  }
  active.started_steps.clear();
}

bool Daemon::reload(ConfigErrors& errors) {
  std::lock_guard control(control_mutex_);
  if (!running_.load()) {
    errors.add({config_.file, 0, 0}, "the daemon is not running (stopping, or not started)");
    return false;
  }
  Loader loader(*registry_, false);
  if (config_.store.configured()) loader.setStoreSlot(store_slot_);
  auto table = loader.loadRoutes(config_, config_.route_paths, errors);
  if (!table) {
    log::error("daemon", "reload refused; the running routes stay active:\n" + errors.str());
    return false;
  }
  Result<void> r = activate(std::move(table));
  if (!r.ok()) {
    errors.add({config_.file, 0, 0}, r.error().message);
    log::error("daemon", "reload refused; the running routes stay active: " + r.error().message);
    return false;
  }
  return true;
}

Result<std::uint64_t> Daemon::rollback() {
  std::lock_guard control(control_mutex_);
  if (!running_.load()) return makeError(ErrorCode::kTransient, "the daemon is not running");
  if (!previous_table_) {
    return makeError(ErrorCode::kInvalidConfig,
                     "no route set to return to: no reload replaced one since the start");
  }
  std::shared_ptr<RouteTable> table = previous_table_;
  const std::uint64_t was = table->version;
  if (Result<void> r = activate(table); !r.ok()) {
    log::error("daemon", "rollback refused; the running routes stay active: " + r.error().message);
    return r.error();
  }
  log::info("daemon", "rolled back to the route set of version " + std::to_string(was) +
                          ", now version " + std::to_string(table->version));
  return was;
}

std::size_t Daemon::stop() {
  std::lock_guard control(control_mutex_);
  // The engine stops admitting first, so inputs still bound push back (HTTP 503 with
  // Retry-After, a file goes back to its folder) instead of answering "no route"; then
  // the inputs stop and the listeners close.
  // Steps that hold messages (aggregations) hand them to the engine while it still
  // admits, so the drain delivers them.
  Active* active = nullptr;
  {
    std::lock_guard lock(mutex_);
    active = active_.get();  // replaced only on this (the control) thread
  }
  {
    std::lock_guard lock(opener_mutex_);
    opener_quit_ = true;
  }
  opener_cv_.notify_all();
  if (store_opener_.joinable()) store_opener_.join();
  if (active) stopSteps(*active, true);
  std::size_t abandoned = engine_ ? engine_->drain(config_.engine.drain_timeout) : 0;
  {
    std::lock_guard lock(audit_mutex_);
    auditor_quit_ = true;
  }
  audit_cv_.notify_all();
  if (auditor_.joinable()) {
    auditor_.join();
    // The last records of this run are vouched for before the store closes.
    if (store_view_.load()) {
      AuditRecord stopped;
      stopped.actor = "daemon";
      stopped.action = "stop";
      stopped.subject = config_.file;
      stopped.detail = std::to_string(abandoned) + " message(s) abandoned";
      (void)audit(stopped, true);
      if (config_.audit.key) {
        if (auto cp = checkpointAudit(); !cp.ok()) {
          log::error("daemon", "audit checkpoint at stop: " + cp.error().message);
        }
      }
    }
  }
  {
    std::lock_guard lock(mutex_);
    if (active_) stopInputs(*active_);
  }
  for (auto it = started_listeners_.rbegin(); it != started_listeners_.rend(); ++it) {
    config_.listeners[*it]->stop();
  }
  started_listeners_.clear();
  running_ = false;
  if (abandoned > 0) {
    log::error("daemon", std::to_string(abandoned) + " message(s) abandoned at stop");
  }
  return abandoned;
}

Result<std::map<std::string, RouteDepth>> Daemon::storeFigures() {
  if (!config_.store.configured()) {
    return makeError(ErrorCode::kInvalidConfig, "the daemon has no store");
  }
  Store* store = store_view_.load();
  if (!store) return makeError(ErrorCode::kTransient, "the store is not open");
  return store->depths();
}

bool Daemon::disabledByOperator(const std::string& id) const {
  std::lock_guard lock(mutex_);
  return paused_.count(id) != 0;
}

Result<bool> Daemon::setRouteEnabled(const std::string& id, bool enabled) {
  std::lock_guard control(control_mutex_);
  Active* active = nullptr;
  {
    std::lock_guard lock(mutex_);
    active = active_.get();  // replaced only under the control mutex
  }
  if (!active || !running_.load()) {
    return makeError(ErrorCode::kTransient, "the daemon is not running");
  }
  std::shared_ptr<Route> route = active->table->find(id);
  if (!route)
    return makeError(ErrorCode::kInvalidConfig, "no route '" + id + "' in the active table");
  if (!route->from) return makeError(ErrorCode::kInvalidConfig, "route " + id + " has no input");
  if (!route->enabled) {
    return makeError(ErrorCode::kInvalidConfig, "route " + id + " is disabled in its file (" +
                                                    route->where.file +
                                                    "): change 'enabled' there and reload");
  }
  InboundEndpoint* input = route->from.get();
  const auto started = std::find(active->started.begin(), active->started.end(), input);
  if (!enabled) {
    {
      std::lock_guard lock(mutex_);
      paused_.insert(id);
    }
    if (started == active->started.end()) return false;
    input->stop();  // what it handed in goes on; nothing new comes in
    active->started.erase(started);
    log::info("daemon",
              "route " + id + " disabled: its input (" + input->describe() + ") is stopped");
    return true;
  }
  {
    std::lock_guard lock(mutex_);
    paused_.erase(id);
  }
  if (started != active->started.end()) return false;
  auto ctx = std::make_unique<RouteContext>(*engine_, route, active->table->version);
  if (Result<void> r = input->start(*ctx); !r.ok()) {
    std::lock_guard lock(mutex_);
    paused_.insert(id);
    return makeError(r.error().code,
                     "route " + id + " (" + input->describe() + "): " + r.error().message);
  }
  active->started.push_back(input);
  active->contexts.push_back(std::move(ctx));
  log::info("daemon", "route " + id + " enabled: its input (" + input->describe() + ") is started");
  return true;
}

Result<std::int64_t> Daemon::replayDeadLetter(std::int64_t seq, const std::string& route,
                                              const std::string& who) {
  Store* store = storeIfOpen();
  if (!store) {
    return makeError(ErrorCode::kTransient, config_.store.configured() ? "the store is not open"
                                                                       : "the daemon has no store");
  }
  std::shared_ptr<RouteTable> table;
  {
    std::lock_guard lock(mutex_);
    if (active_) table = active_->table;
  }
  if (!table || !running_.load()) {
    return makeError(ErrorCode::kTransient, "the daemon is not running");
  }
  // Not while the journal is taken up after the store opened: the entry would go through
  // twice (here and in that recovery).
  if (!engine_->journals()) {
    return makeError(ErrorCode::kTransient, "the store's journal is not taken up yet");
  }
  auto target = table->find(route);
  if (!target || !target->enabled || !target->from) {
    return makeError(ErrorCode::kInvalidConfig,
                     "no enabled route '" + route + "' in the active table");
  }
  auto back = store->replay(seq, route, who);
  if (!back.ok()) return back.error();
  // Its journal entry, delivered now: a shared store's belongs to no node until this one
  // claims it (with any other an operator replayed); the embedded store's is pending.
  Result<std::vector<StoredMessage>> entries =
      store->shared() ? store->takeOver() : store->pending();
  if (!entries.ok()) {
    return makeError(entries.error().code,
                     "dead letter " + std::to_string(seq) + " is back in the journal as " +
                         std::to_string(*back) +
                         " and goes through at the next start: " + entries.error().message);
  }
  std::vector<StoredMessage> mine;
  for (StoredMessage& m : *entries) {
    if (store->shared() || m.seq == *back) mine.push_back(std::move(m));
  }
  resume(table, mine);
  log::info("daemon", "dead letter " + std::to_string(seq) + " replayed by " + who +
                          " as journal entry " + std::to_string(*back));
  return *back;
}

bool Daemon::ready() const {
  return running_.load() && engine_->accepting() &&
         (!config_.store.configured() || store_view_.load() != nullptr);
}

MetricsSnapshot Daemon::metrics() {
  MetricsSnapshot s;
  const auto table = routes();
  s.route_table_version = table ? table->version : 0;
  s.uptime_seconds =
      running_.load()
          ? std::chrono::duration<double>(std::chrono::steady_clock::now() - started_at_).count()
          : 0;
  const Engine::Stats stats = engine_->stats();
  s.queued = stats.queued;
  s.running = stats.running;
  s.retrying = stats.retrying;
  s.held_one_way = stats.held_one_way;
  s.store_configured = config_.store.configured();
  s.store_open = store_view_.load() != nullptr;
  auto counters = engine_->routeCounters();
  std::map<std::string, RouteDepth> depths;
  if (s.store_configured && s.store_open) {
    if (auto d = storeFigures(); d.ok()) depths = std::move(*d);
  }
  const auto now = SystemClock::now();
  auto add = [&](const std::string& id, const Route* route) {
    MetricsSnapshot::Route r;
    r.id = id;
    r.enabled = false;  // gone with a reload, unless it is in the active table
    if (route) {
      r.enabled = route->enabled && !disabledByOperator(id);
      if (route->to) r.endpoint = route->to->describe();
    }
    if (auto c = counters.find(id); c != counters.end()) r.counters = c->second;
    if (s.store_configured && s.store_open) {
      auto d = depths.find(id);
      const RouteDepth figures = d == depths.end() ? RouteDepth{} : d->second;
      r.depth = figures.depth;
      r.dead_letters = figures.dead_letters;
      if (figures.oldest) {
        r.oldest_age_seconds = std::chrono::duration<double>(now - *figures.oldest).count();
      }
    }
    s.routes.push_back(std::move(r));
  };
  std::set<std::string> seen;
  if (table) {
    for (const auto& route : table->routes) {
      seen.insert(route->id);
      add(route->id, route.get());
    }
  }
  // Routes gone with a reload keep their counts (and their dead letters).
  for (const auto& [id, c] : counters) {
    if (seen.insert(id).second) add(id, nullptr);
  }
  for (const auto& [id, d] : depths) {
    if (seen.insert(id).second) add(id, nullptr);
  }
  for (const auto& b : engine_->breakerStates()) s.breakers.push_back({b.peer, b.open, b.failures});
  for (auto& c : certificateInventory(config_.keys, config_.trust, std::time(nullptr))) {
    s.certificates.push_back(
        {c.where, c.role, c.facts.subject, static_cast<double>(c.facts.days_left)});
  }
  return s;
}

std::shared_ptr<const RouteTable> Daemon::routes() const {
  std::lock_guard lock(mutex_);
  if (active_) return active_->table;
  return pending_;
}

std::shared_ptr<Listener> Daemon::listener(const std::string& name) const {
  auto it = config_.listeners.find(name);
  return it == config_.listeners.end() ? nullptr : it->second;
}

}  // namespace lienthong
