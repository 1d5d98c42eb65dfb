#include "adapters/schedule/schedule_inbound.h"
#include "core/dossier_code.h"

#include <cstdio>
#include <cstdlib>

#include "lienthong/log.h"

namespace lienthong::adapters::schedule {

Clock::time_point ScheduleInbound::nextTick(Clock::time_point after) const {
  return s_.cron ? s_.cron->next(after, s_.utc_offset) : nextInterval(after, s_.every);
}

std::string ScheduleInbound::describe() const {
  if (s_.cron) {
    const auto m = s_.utc_offset.count();
    char zone[48];
    std::snprintf(zone, sizeof zone, "%c%02ld:%02ld", m < 0 ? '-' : '+',
                  static_cast<long>(std::abs(m) / 60), static_cast<long>(std::abs(m) % 60));
    return "schedule cron '" + s_.cron->text() + "' " + zone;
  }
  return "schedule every " + std::to_string(s_.every.count()) + "ms";
}

Result<void> ScheduleInbound::start(InboundContext& context) {
  {
    std::lock_guard lock(mutex_);
    stopping_ = false;
  }
  thread_ = std::thread([this, &context] { run(context); });
  return {};
}

void ScheduleInbound::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool ScheduleInbound::waitUntil(Clock::time_point t) {
  std::unique_lock lock(mutex_);
  // A far tick (a cron of once a year) in steps, so a clock set forward is noticed.
  while (!stopping_ && Clock::now() < t) {
    cv_.wait_until(lock, std::min(t, Clock::now() + std::chrono::minutes(1)));
  }
  return !stopping_;
}

void ScheduleInbound::run(InboundContext& context) {
  Clock::time_point tick = nextTick(Clock::now());
  while (tick != Clock::time_point::max() && waitUntil(tick)) {
    const Clock::time_point following = nextTick(tick);
    Message m;
    m.setBody(s_.body);
    m.setContentType(s_.content_type);
    m.setHeader("schedule.tick", lienthong::dossier::nationalTime(tick, s_.utc_offset));
    m.setHeader("schedule.tick-ms",
                std::to_string(
                    std::chrono::duration_cast<std::chrono::milliseconds>(tick.time_since_epoch())
                        .count()));
    for (;;) {
      const Admission a = context.submit(m, [](Outcome&&) {});
      if (a == Admission::kAccepted || a == Admission::kStopping) break;
      const Clock::time_point retry = Clock::now() + std::chrono::seconds(1);
      if (retry >= following) {
        log::warn("schedule", "route " + context.routeId() + ": the tick of " +
                                  lienthong::dossier::nationalTime(tick, s_.utc_offset) +
                                  " was not taken before the next one (the engine is full or "
                                  "its store unavailable); it is skipped");
        break;
      }
      if (!waitUntil(retry)) return;
    }
    // A clock set back must not fire the same tick again.
    tick = nextTick(std::max(tick, Clock::now()));
  }
}

}  // namespace lienthong::adapters::schedule
