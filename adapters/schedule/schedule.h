#pragma once
// When a scheduled input fires: a cron expression (five fields: minute, hour, day of the
// month, month, day of the week; `*`, lists, ranges and steps) in a fixed UTC offset
// (Vietnam keeps +07:00 all year), or a fixed interval. Ticks are computed from the
// clock alone, so every node of a cluster agrees on them. Pure; any thread.

#include <bitset>
#include <chrono>
#include <string>
#include <string_view>

#include "lienthong/result.h"

namespace lienthong::adapters::schedule {

using Clock = std::chrono::system_clock;

class Cron {
 public:
  // InvalidConfig naming the field and the fault: "cron '0 25 * * *': hour 25 is not one
  // of 0..23".
  static Result<Cron> parse(std::string_view text);

  // The first tick strictly after `after`, in the zone `utc_offset` ahead of UTC.
  // Clock::time_point::max() when the expression never matches (30 February).
  Clock::time_point next(Clock::time_point after, std::chrono::minutes utc_offset) const;
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;     // 1..31
  std::bitset<13> months_;   // 1..12
  std::bitset<7> weekdays_;  // 0 = Sunday
  bool any_day_ = true;      // day of the month is `*`
  bool any_weekday_ = true;  // day of the week is `*`
};

// The first multiple of `every` since the epoch strictly after `after`.
Clock::time_point nextInterval(Clock::time_point after, std::chrono::milliseconds every);

// "+07:00", "-03:30", "UTC" or "Asia/Ho_Chi_Minh" (the zones of this field, which keep one
// offset all year); InvalidConfig otherwise.
Result<std::chrono::minutes> parseUtcOffset(std::string_view text);

}  // namespace lienthong::adapters::schedule
