#pragma once
// The `schedule` input: a message at each tick of a cron expression or an interval, for
// the periodic routes (catalogue sync, overdue detection). Headers: schedule.tick (the
// tick in the national time format, yyyyMMddHHmmss in the schedule's zone) and
// schedule.tick-ms (milliseconds since the epoch, UTC). A tick missed while the daemon
// was down is not made up; one the engine could not take (full, store unavailable) is
// tried again each second until the next tick, then given up with a warning.

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "adapters/schedule/schedule.h"
#include "lienthong/endpoint.h"

namespace lienthong::adapters::schedule {

struct ScheduleInboundSettings {
  std::optional<Cron> cron;  // one of cron and every
  std::chrono::milliseconds every{0};
  std::chrono::minutes utc_offset{7 * 60};  // Asia/Ho_Chi_Minh
  std::string body;
  std::string content_type = "text/plain";
};

class ScheduleInbound final : public InboundEndpoint {
 public:
  explicit ScheduleInbound(ScheduleInboundSettings settings) : s_(std::move(settings)) {}
  ~ScheduleInbound() override { stop(); }

  Result<void> start(InboundContext& context) override;
  void stop() override;
  // "schedule cron '0 2 * * *' +07:00" or "schedule every 3600000ms"
  std::string describe() const override;

  // The tick after `after`.
  Clock::time_point nextTick(Clock::time_point after) const;

 private:
  void run(InboundContext& context);
  // Waits until `t` or stop; false when stopping.
  bool waitUntil(Clock::time_point t);

  ScheduleInboundSettings s_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace lienthong::adapters::schedule
