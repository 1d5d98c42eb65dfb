#include "adapters/schedule/schedule.h"

#include <charconv>
#include <cstdio>
#include <vector>

namespace lienthong::adapters::schedule {
namespace {

using namespace std::chrono;

Error invalid(std::string_view text, const std::string& why) {
  return Error(ErrorCode::kInvalidConfig, "cron '" + std::string(text) + "': " + why);
}

bool number(std::string_view s, int& out) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

// One field ("*/15", "1-5", "0,30", "7") into `bits`; "" or the fault.
template <std::size_t N>
std::string field(std::string_view f, const char* name, int lo, int hi, std::bitset<N>& bits) {
  const std::string range = " is not one of " + std::to_string(lo) + ".." + std::to_string(hi);
  std::size_t start = 0;
  while (start <= f.size()) {
    std::size_t comma = f.find(',', start);
    if (comma == std::string_view::npos) comma = f.size();
    std::string_view part = f.substr(start, comma - start);
    int step = 1;
    if (std::size_t slash = part.find('/'); slash != std::string_view::npos) {
      if (!number(part.substr(slash + 1), step) || step < 1 || step > hi) {
        return std::string(name) + " step '" + std::string(part.substr(slash + 1)) +
               "' is not a number of 1 to " + std::to_string(hi);
      }
      part = part.substr(0, slash);
    }
    const bool stepped = part.size() != f.substr(start, comma - start).size();
    int from = lo;
    int to = hi;
    if (part != "*") {
      const std::size_t dash = part.find('-');
      if (!number(part.substr(0, dash), from)) {
        return std::string(name) + " '" + std::string(part) + "' is not a number, range or *";
      }
      to = from;
      if (dash != std::string_view::npos && !number(part.substr(dash + 1), to)) {
        return std::string(name) + " '" + std::string(part) + "' is not a range";
      }
      if (from < lo || from > hi) return std::string(name) + " " + std::to_string(from) + range;
      if (to < lo || to > hi) return std::string(name) + " " + std::to_string(to) + range;
      if (to < from) return std::string(name) + " range '" + std::string(part) + "' runs backwards";
      if (dash == std::string_view::npos && stepped) to = hi;  // "5/15": from 5 on
    }
    for (int v = from; v <= to; v += step) bits.set(static_cast<std::size_t>(v));
    start = comma + 1;
    if (comma == f.size()) break;
  }
  return {};
}

}  // namespace

Result<Cron> Cron::parse(std::string_view text) {
  std::vector<std::string_view> fields;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    const std::size_t start = i;
    while (i < text.size() && text[i] != ' ') ++i;
    if (i > start) fields.push_back(text.substr(start, i - start));
  }
  if (fields.size() != 5) {
    return invalid(text, "needs 5 fields (minute hour day-of-month month day-of-week), not " +
                             std::to_string(fields.size()));
  }
  Cron c;
  c.text_ = std::string(text);
  std::bitset<8> weekdays;  // 0..7, 7 = Sunday too
  std::string why = field(fields[0], "minute", 0, 59, c.minutes_);
  if (why.empty()) why = field(fields[1], "hour", 0, 23, c.hours_);
  if (why.empty()) why = field(fields[2], "day of the month", 1, 31, c.days_);
  if (why.empty()) why = field(fields[3], "month", 1, 12, c.months_);
  if (why.empty()) why = field(fields[4], "day of the week", 0, 7, weekdays);
  if (!why.empty()) return invalid(text, why);
  for (std::size_t d = 0; d < 7; ++d) c.weekdays_[d] = weekdays[d];
  if (weekdays[7]) c.weekdays_.set(0);
  // A field starting with * ("*", "*/2") does not restrict the day as cron reads it: with
  // the other day field given, that one decides alone.
  c.any_day_ = fields[2].front() == '*';
  c.any_weekday_ = fields[4].front() == '*';
  return c;
}

Clock::time_point Cron::next(Clock::time_point after, minutes utc_offset) const {
  // Local wall time, to the next whole minute.
  const auto local = floor<minutes>(after + utc_offset) + minutes(1);
  sys_days day = floor<days>(local);
  minutes from = local - day;  // the first minute of that day still possible
  for (int n = 0; n < 366 * 8; ++n, ++day, from = minutes(0)) {
    const year_month_day ymd(day);
    const auto dom = static_cast<unsigned>(ymd.day());
    const auto month = static_cast<unsigned>(ymd.month());
    const auto wd = weekday(day).c_encoding();
    if (!months_[month]) continue;
    const bool dom_ok = days_[dom];
    const bool wd_ok = weekdays_[wd];
    // Both restricted: either one matches (as cron does); else the restricted one.
    const bool day_ok = any_day_ && any_weekday_ ? true
                        : any_day_               ? wd_ok
                        : any_weekday_           ? dom_ok
                                                 : (dom_ok || wd_ok);
    if (!day_ok) continue;
    for (auto m = from.count(); m < 24 * 60; ++m) {
      if (hours_[static_cast<std::size_t>(m / 60)] && minutes_[static_cast<std::size_t>(m % 60)]) {
        return Clock::time_point(day + minutes(m) - utc_offset);
      }
    }
  }
  return Clock::time_point::max();
}

Clock::time_point nextInterval(Clock::time_point after, milliseconds every) {
  const auto since = duration_cast<milliseconds>(after.time_since_epoch());
  return Clock::time_point((since / every + 1) * every);
}

Result<minutes> parseUtcOffset(std::string_view text) {
  if (text == "UTC" || text == "Z") return minutes(0);
  if (text == "Asia/Ho_Chi_Minh" || text == "Asia/Saigon" || text == "Asia/Bangkok") {
    return minutes(7 * 60);
  }
  int h = 0;
  int m = 0;
  if (text.size() == 6 && (text[0] == '+' || text[0] == '-') && text[3] == ':' &&
      number(text.substr(1, 2), h) && number(text.substr(4, 2), m) && h <= 14 && m < 60) {
    const minutes offset(h * 60 + m);
    return text[0] == '-' ? -offset : offset;
  }
  return Error(ErrorCode::kInvalidConfig,
               "time zone '" + std::string(text) +
                   "' is not UTC, Asia/Ho_Chi_Minh or an offset such as +07:00");
}

}  // namespace lienthong::adapters::schedule
