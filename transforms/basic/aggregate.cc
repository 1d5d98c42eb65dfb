#include "transforms/basic/aggregate.h"

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <libxml/tree.h>

#include "core/xml_document.h"
#include "lienthong/log.h"

namespace lienthong::transforms::basic {

namespace {

using Clock = std::chrono::steady_clock;

std::optional<std::size_t> positiveNumber(std::string_view text) {
  std::size_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n == 0) return std::nullopt;
  return n;
}

// The parsed document's element as UTF-8 text (whatever encoding the part arrived in),
// with the namespace declarations it carries, to go inside the wrapper.
std::string elementText(const XmlDocument& doc) {
  xmlBufferPtr buffer = xmlBufferCreate();
  xmlNodeDump(buffer, doc.doc(), doc.root(), 0, 0);
  std::string out(reinterpret_cast<const char*>(xmlBufferContent(buffer)),
                  static_cast<std::size_t>(xmlBufferLength(buffer)));
  xmlBufferFree(buffer);
  return out;
}

std::optional<std::size_t> orderNumber(std::string_view text) {
  std::size_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return n;
}

bool orderedBefore(const std::string& a, const std::string& b) {
  auto na = orderNumber(a);
  auto nb = orderNumber(b);
  if (na && nb) return *na < *nb;
  if (na != nb && (na || nb)) return na.has_value();  // numbers first
  return a < b;
}

}  // namespace

class AggregateStep::Groups {
 public:
  struct Part {
    std::string order;
    std::string body;
    std::int64_t seq = 0;  // its journal entry, settled when the group is journalled
  };
  struct Group {
    Message first{std::string()};  // headers and ids of the first message; no body
    std::vector<Part> parts;
    std::optional<std::size_t> expected;
    Clock::time_point deadline;
    bool complete = false;  // reached its size; waits only for the engine to take it
  };
  struct Owner {
    const AggregateStep* step;
    StepEmitter* emitter;
    std::shared_ptr<const AggregateSettings> settings;
  };

  ~Groups() {
    {
      std::lock_guard lock(mutex_);
      quit_ = true;
    }
    cv_.notify_all();
    if (timer_.joinable()) timer_.join();
    if (!open_.empty()) {
      log::error("aggregate", std::to_string(open_.size()) +
                                  " group(s) dropped unemitted when their route was unloaded "
                                  "(journalled parts are taken up again at the next start)");
    }
  }

  void attach(const AggregateStep* step, StepEmitter& emitter,
              std::shared_ptr<const AggregateSettings> settings) {
    std::lock_guard lock(mutex_);
    owners_.push_back({step, &emitter, std::move(settings)});
    closed_ = false;
    if (!timer_.joinable()) timer_ = std::thread([this] { timerLoop(); });
  }

  // A route version retires: the group set passes to the version after it, or back to
  // the one before (a reload that failed); with no version left, every group goes out now.
  void detach(const AggregateStep* step, bool final) {
    std::unique_lock lock(mutex_);
    auto it = std::find_if(owners_.begin(), owners_.end(),
                           [&](const Owner& o) { return o.step == step; });
    if (it == owners_.end()) return;
    if (final || owners_.size() == 1) {
      flush(lock, *it, final ? "stop" : "reload");
      closed_ = true;
      owners_.clear();
    } else {
      owners_.erase(it);
    }
    cv_.notify_all();
  }

  // The step goes away without a stop (its emitter may be gone): no emission.
  void forget(const AggregateStep* step) {
    std::lock_guard lock(mutex_);
    std::erase_if(owners_, [&](const Owner& o) { return o.step == step; });
  }

  // Adds a part; returns the whole group's message when this part completes it.
  // Adds a part. A group that reaches its size is emitted as a new exchange that starts
  // after the aggregate step, so a later failure retries the whole group from there, not
  // this part alone. Returns a message only when the step is closed (the part goes on
  // alone).
  Result<std::optional<Message>> add(const std::string& key, const AggregateSettings& s,
                                     const Message& message, Part part,
                                     std::optional<std::size_t> expected) {
    std::lock_guard lock(mutex_);
    if (closed_) {
      // The route is stopping: nothing is held any more; the part goes on by itself.
      Group alone;
      alone.first = message;
      alone.parts.push_back(std::move(part));
      return std::optional<Message>(build(key, alone, s, "stop"));
    }
    auto it = open_.find(key);
    if (it == open_.end()) {
      if (open_.size() >= s.max_groups) {
        return Error(ErrorCode::kTransient, "aggregate: " + std::to_string(open_.size()) +
                                                " groups are open (max-groups); try later");
      }
      Group g;
      g.first = message;
      g.first.setBody(std::string());
      g.deadline = Clock::now() + s.timeout;
      it = open_.emplace(key, std::move(g)).first;
      cv_.notify_all();
    }
    Group& g = it->second;
    g.parts.push_back(std::move(part));
    if (!g.expected && expected) g.expected = expected;
    if (!g.expected || g.parts.size() < *g.expected) return std::optional<Message>();
    g.complete = true;
    if (!owners_.empty() &&
        owners_.back().emitter->emit(build(key, g, s, "size"), false, journalled(g))) {
      open_.erase(it);
    } else {
      g.deadline = Clock::now();  // the timer hands it over as soon as the engine can
      cv_.notify_all();
    }
    return std::optional<Message>();
  }

  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return open_.size();
  }

 private:
  static std::vector<std::int64_t> journalled(const Group& g) {
    std::vector<std::int64_t> out;
    for (const Part& p : g.parts) {
      if (p.seq != 0) out.push_back(p.seq);
    }
    return out;
  }

  static Message build(const std::string& key, const Group& g, const AggregateSettings& s,
                       std::string_view completed_by) {
    Message out;
    out.setCorrelationId(g.first.correlationId());
    out.setDossierKey(g.first.dossierKey());
    out.headers() = g.first.headers();
    out.setHeader("aggregate.key", key);
    out.setHeader("aggregate.size", std::to_string(g.parts.size()));
    out.setHeader("aggregate.completed-by", std::string(completed_by));
    std::vector<const Part*> parts;
    parts.reserve(g.parts.size());
    for (const Part& p : g.parts) parts.push_back(&p);
    if (s.order) {
      std::stable_sort(parts.begin(), parts.end(), [](const Part* a, const Part* b) {
        return orderedBefore(a->order, b->order);
      });
    }
    std::string body;
    if (s.combine == AggregateSettings::Combine::kXml) {
      const std::string qname = s.prefix.empty() ? s.element : s.prefix + ":" + s.element;
      body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<" + qname;
      if (!s.ns.empty()) {
        body += s.prefix.empty() ? " xmlns=\"" : " xmlns:" + s.prefix + "=\"";
        body += s.ns + "\"";
      }
      body += ">";
      for (const Part* p : parts) body += p->body;
      body += "</" + qname + ">\n";
      out.setContentType("application/xml");
    } else {
      for (std::size_t i = 0; i < parts.size(); ++i) {
        if (i > 0) body += s.separator;
        body += parts[i]->body;
      }
      out.setContentType(g.first.contentType());
    }
    out.setBody(std::move(body));
    return out;
  }

  // Emits every group through `owner`; waits a while for an engine that is full.
  void flush(std::unique_lock<std::mutex>& lock, const Owner& owner, std::string_view why) {
    auto give_up = Clock::now() + std::chrono::seconds(10);
    while (!open_.empty()) {
      auto it = open_.begin();
      const std::string_view reason = it->second.complete ? std::string_view("size") : why;
      if (owner.emitter->emit(build(it->first, it->second, *owner.settings, reason), true,
                              journalled(it->second))) {
        open_.erase(it);
        continue;
      }
      if (Clock::now() >= give_up) break;
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      lock.lock();
    }
    if (!open_.empty()) {
      log::error("aggregate", std::to_string(open_.size()) +
                                  " group(s) could not be handed to the engine at " +
                                  std::string(why) +
                                  " and were dropped (journalled parts are taken up again at "
                                  "the next start)");
      open_.clear();
    }
  }

  void timerLoop() {
    std::unique_lock lock(mutex_);
    while (!quit_) {
      if (open_.empty()) {
        cv_.wait(lock);
        continue;
      }
      auto next = Clock::time_point::max();
      for (const auto& [key, g] : open_) next = std::min(next, g.deadline);
      auto now = Clock::now();
      if (now < next) {
        cv_.wait_until(lock, next);
        continue;
      }
      for (auto it = open_.begin(); it != open_.end();) {
        if (it->second.deadline > now) {
          ++it;
          continue;
        }
        if (!owners_.empty()) {
          const Owner& owner = owners_.back();
          const char* reason = it->second.complete ? "size" : "timeout";
          if (owner.emitter->emit(build(it->first, it->second, *owner.settings, reason), false,
                                  journalled(it->second))) {
            it = open_.erase(it);
            continue;
          }
        }
        // No engine slot (or no live route) now: try again shortly.
        it->second.deadline = now + std::chrono::seconds(1);
        ++it;
      }
    }
  }

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::map<std::string, Group> open_;
  std::vector<Owner> owners_;  // route versions using this set; the last one emits
  bool closed_ = false;
  bool quit_ = false;
  std::thread timer_;
};

AggregateStep::AggregateStep(AggregateSettings settings)
    : s_(std::make_shared<const AggregateSettings>(std::move(settings))),
      groups_(std::make_shared<Groups>()) {}

AggregateStep::~AggregateStep() {
  if (emitter_) groups_->forget(this);
}

void AggregateStep::start(StepEmitter& emitter, Step* previous) {
  if (auto* before = dynamic_cast<AggregateStep*>(previous); before && before->emitter_) {
    groups_ = before->groups_;
  }
  emitter_ = &emitter;
  groups_->attach(this, emitter, s_);
}

void AggregateStep::stop(bool final) {
  if (!emitter_) return;
  groups_->detach(this, final);
  emitter_ = nullptr;
}

std::size_t AggregateStep::openGroups() const { return groups_->size(); }

Result<StepOutcome> AggregateStep::process(Exchange& exchange) {
  const std::string key = s_->key->render(exchange);
  if (key.empty()) {
    return Error(ErrorCode::kInvalidMessage,
                 "aggregate: the correlation key '" + s_->key->source() + "' is empty");
  }
  Groups::Part part;
  part.seq = exchange.journalSeq();
  if (s_->order) part.order = s_->order->render(exchange);
  if (s_->combine == AggregateSettings::Combine::kXml) {
    auto doc = xmlOf(exchange);
    if (!doc.ok()) return Error(doc.error().code, "aggregate: " + doc.error().message);
    part.body = elementText(**doc);
  } else {
    part.body = exchange.message().body();
  }
  std::optional<std::size_t> expected = s_->size;
  if (!expected && s_->size_from) {
    expected = positiveNumber(s_->size_from->render(exchange));
    if (expected && *expected > 1'000'000) expected.reset();  // as `size` itself: at most 1e6
  }
  auto whole = groups_->add(key, *s_, exchange.message(), std::move(part), expected);
  if (!whole.ok()) return whole.error();
  if (!*whole) return StepOutcome::kHeld;   // held in its group, or the group went on
  exchange.message() = std::move(**whole);  // the step is closed: this part goes on alone
  return StepOutcome::kContinue;
}

}  // namespace lienthong::transforms::basic
