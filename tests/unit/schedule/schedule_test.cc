#include "adapters/schedule/schedule.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <vector>

#include "adapters/schedule/schedule_inbound.h"
#include "core/daemon.h"
#include "core/dossier_code.h"
#include "integration/test_support.h"

namespace lienthong::adapters::schedule {
namespace {

using namespace std::chrono;
constexpr minutes kVietnam{7 * 60};

// A UTC instant from a wall time in Vietnam.
Clock::time_point vn(int y, unsigned mo, unsigned d, int h, int mi, int s = 0) {
  return Clock::time_point(sys_days(year(y) / mo / d) + hours(h) + minutes(mi) + seconds(s) -
                           kVietnam);
}

std::string nextOf(const std::string& cron, Clock::time_point after) {
  auto c = Cron::parse(cron);
  EXPECT_TRUE(c.ok()) << c.error().message;
  const auto t = c->next(after, kVietnam);
  return t == Clock::time_point::max() ? "never" : lienthong::dossier::nationalTime(t, kVietnam);
}

TEST(Cron, NextTicksInVietnamTime) {
  const auto at = vn(2024, 3, 15, 8, 30, 20);  // a Friday
  EXPECT_EQ(nextOf("* * * * *", at), "20240315083100");
  EXPECT_EQ(nextOf("0 2 * * *", at), "20240316020000");  // 02:00 tomorrow
  EXPECT_EQ(nextOf("*/15 * * * *", at), "20240315084500");
  EXPECT_EQ(nextOf("5/20 9-17 * * *", at), "20240315090500");  // 5, 25, 45 past, 9..17
  EXPECT_EQ(nextOf("0 8 * * 1-5", at), "20240318080000");      // next working day 08:00
  EXPECT_EQ(nextOf("0 0 1 * *", at), "20240401000000");
  EXPECT_EQ(nextOf("30 8 15 3 *", at), "20250315083000");  // just past: next year
  EXPECT_EQ(nextOf("0 0 29 2 *", at), "20280229000000");   // the next leap day
  EXPECT_EQ(nextOf("0 0 * * 0", at), "20240317000000");    // Sunday as 0 ...
  EXPECT_EQ(nextOf("0 0 * * 7", at), "20240317000000");    // ... and as 7
  // Day of the month and day of the week both given: either one (as cron does).
  EXPECT_EQ(nextOf("0 12 20 * 6", at), "20240316120000");  // Saturday 16th first
  EXPECT_EQ(nextOf("0 0 30 2 *", at), "never");
  // A step on a single start runs to the end of the range; "*/2" for the day of the month
  // does not restrict it when the day of the week is given (as cron reads it).
  EXPECT_EQ(nextOf("5/1 9 * * *", vn(2024, 3, 15, 9, 30)), "20240315093100");
  EXPECT_EQ(nextOf("0 0 */2 * 1", at), "20240318000000");  // Monday 18th, not odd day 17th
  // A tick exactly now is not the next one.
  EXPECT_EQ(nextOf("30 8 * * *", vn(2024, 3, 15, 8, 30)), "20240316083000");
}

TEST(Cron, SaysWhichFieldIsWrong) {
  struct Case {
    const char* text;
    const char* says;
  };
  const Case cases[] = {
      {"* * * *", "needs 5 fields (minute hour day-of-month month day-of-week), not 4"},
      {"0 25 * * *", "hour 25 is not one of 0..23"},
      {"60 * * * *", "minute 60 is not one of 0..59"},
      {"* * 0 * *", "day of the month 0 is not one of 1..31"},
      {"* * * 13 *", "month 13 is not one of 1..12"},
      {"* * * * 8", "day of the week 8 is not one of 0..7"},
      {"*/0 * * * *", "minute step '0' is not a number of 1 to 59"},
      {"1/2147483647 * * * *", "minute step '2147483647' is not a number of 1 to 59"},
      {"10-5 * * * *", "minute range '10-5' runs backwards"},
      {"a * * * *", "minute 'a' is not a number, range or *"},
  };
  for (const Case& c : cases) {
    auto cron = Cron::parse(c.text);
    ASSERT_FALSE(cron.ok()) << c.text;
    EXPECT_EQ(cron.error().message, "cron '" + std::string(c.text) + "': " + c.says);
  }
}

TEST(Schedule, IntervalsAndZones) {
  const Clock::time_point t(milliseconds(3'600'000 * 5 + 1234));
  EXPECT_EQ(nextInterval(t, hours(1)), Clock::time_point(hours(6)));
  EXPECT_EQ(nextInterval(Clock::time_point(hours(6)), hours(1)), Clock::time_point(hours(7)));
  EXPECT_EQ(*parseUtcOffset("Asia/Ho_Chi_Minh"), kVietnam);
  EXPECT_EQ(*parseUtcOffset("UTC"), minutes(0));
  EXPECT_EQ(*parseUtcOffset("-03:30"), minutes(-210));
  EXPECT_FALSE(parseUtcOffset("Europe/Paris").ok());
  EXPECT_EQ(lienthong::dossier::nationalTime(vn(2024, 12, 31, 23, 59, 58), kVietnam),
            "20241231235958");
  EXPECT_EQ(lienthong::dossier::nationalTime(vn(2024, 12, 31, 23, 59, 58), minutes(0)),
            "20241231165958");
}

// A route's side that takes every message and counts them.
class Collecting : public InboundContext {
 public:
  Admission submit(Message message, Completion done) override {
    std::lock_guard lock(mutex_);
    if (refuse_first_ > 0) {
      --refuse_first_;
      ++refused_;
      refused_tick_ = *message.header("schedule.tick-ms");
      return Admission::kBusy;
    }
    messages_.push_back(std::move(message));
    cv_.notify_all();
    done(Outcome{});
    return Admission::kAccepted;
  }
  const std::string& routeId() const override { return id_; }
  ExchangePattern pattern() const override { return ExchangePattern::kOneWay; }
  std::chrono::milliseconds timeout() const override { return seconds(1); }

  bool waitFor(std::size_t n, milliseconds within) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, within, [&] { return messages_.size() >= n; });
  }
  std::vector<Message> messages() {
    std::lock_guard lock(mutex_);
    return messages_;
  }
  void refuseFirst(int n) {
    std::lock_guard lock(mutex_);
    refuse_first_ = n;
  }
  int refused() {
    std::lock_guard lock(mutex_);
    return refused_;
  }
  std::string refusedTick() {
    std::lock_guard lock(mutex_);
    return refused_tick_;
  }

 private:
  std::string id_ = "tick";
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Message> messages_;
  int refuse_first_ = 0;
  int refused_ = 0;
  std::string refused_tick_;
};

TEST(ScheduleInbound, SubmitsAMessageAtEachTickWithItsTime) {
  ScheduleInboundSettings s;
  s.every = milliseconds(40);
  s.body = "<DongBo/>";
  s.content_type = "application/xml";
  ScheduleInbound in(s);
  Collecting route;
  ASSERT_TRUE(in.start(route).ok());
  ASSERT_TRUE(route.waitFor(3, seconds(10)));
  in.stop();
  const auto got = route.messages();
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].body(), "<DongBo/>");
    EXPECT_EQ(got[i].contentType(), "application/xml");
    const long long ms = std::stoll(*got[i].header("schedule.tick-ms"));
    EXPECT_EQ(ms % 40, 0) << "ticks are multiples of the interval since the epoch";
    EXPECT_EQ(*got[i].header("schedule.tick"),
              lienthong::dossier::nationalTime(Clock::time_point(milliseconds(ms)), kVietnam));
    if (i > 0) {
      EXPECT_GT(ms, std::stoll(*got[i - 1].header("schedule.tick-ms"))) << "each tick once";
    }
  }
  // Nothing after stop().
  const std::size_t after_stop = route.messages().size();
  EXPECT_FALSE(route.waitFor(after_stop + 1, milliseconds(120)));
}

TEST(ScheduleInbound, ATickTheEngineCannotTakeIsTriedAgain) {
  ScheduleInboundSettings s;
  s.every = seconds(3);  // room for a retry (each second) before the next tick
  ScheduleInbound in(s);
  Collecting route;
  route.refuseFirst(1);
  ASSERT_TRUE(in.start(route).ok());
  ASSERT_TRUE(route.waitFor(1, seconds(10)));
  in.stop();
  EXPECT_EQ(route.refused(), 1);
  // The tick taken is the one refused, tried again, not the next one.
  EXPECT_EQ(*route.messages().front().header("schedule.tick-ms"), route.refusedTick());
}

}  // namespace
}  // namespace lienthong::adapters::schedule

namespace lienthong {
namespace {

using namespace std::chrono_literals;

// Through the daemon: a schedule route writes a file per tick; mistakes at their place.
TEST(ScheduleRoute, TicksReachTheRoutesOutput) {
  testing::TempHome home;
  home.write("config.yaml", testing::kPublicListenerConfig);
  home.write("routes/r.yaml",
             "routes:\n"
             "  - id: tick\n"
             "    pattern: one-way\n"
             "    from: { schedule: { every: 50ms, body: \"<Tick/>\", content-type: "
             "application/xml } }\n"
             "    to: { file: { dir: out, name: \"${schedule.tick-ms}.xml\" } }\n");
  std::unique_ptr<Daemon> daemon;
  ASSERT_NE(testing::startDaemon(home.path("config.yaml"), daemon), 0u);
  auto count = [&] {
    std::error_code ec;
    if (!std::filesystem::exists(home.path("out"), ec)) return std::size_t{0};
    return static_cast<std::size_t>(
        std::distance(std::filesystem::directory_iterator(home.path("out")),
                      std::filesystem::directory_iterator{}));
  };
  EXPECT_TRUE(testing::eventually([&] { return count() >= 3; }, 10s)) << count();
  daemon->stop();
}

TEST(ScheduleRoute, BadSchedulesAreReportedAtTheirPlace) {
  testing::TempHome home;
  home.write("config.yaml", testing::kPublicListenerConfig);
  home.write("routes/r.yaml",
             "routes:\n"
             "  - id: cron\n"
             "    pattern: one-way\n"
             "    from: { schedule: { cron: \"0 25 * * *\", timezone: Europe/Paris } }\n"
             "  - id: both\n"
             "    pattern: one-way\n"
             "    from: { schedule: { cron: \"0 2 * * *\", every: 1h } }\n"
             "  - id: ask\n"
             "    pattern: request-reply\n"
             "    from: { schedule: { every: 1h } }\n"
             "  - id: never\n"
             "    pattern: one-way\n"
             "    from: { schedule: { cron: \"0 0 30 2 *\" } }\n");
  ConfigErrors errors;
  EXPECT_FALSE(Daemon::create(home.path("config.yaml").string(), errors));
  const std::string text = errors.str();
  EXPECT_NE(text.find("r.yaml:4:31: cron '0 25 * * *': hour 25 is not one of 0..23"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("r.yaml:4:55: time zone 'Europe/Paris' is not UTC, Asia/Ho_Chi_Minh or "
                      "an offset such as +07:00"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("r.yaml:7:23: a schedule needs one of 'cron'"), std::string::npos) << text;
  EXPECT_NE(text.find("r.yaml:10:23: a schedule feeds one-way routes"), std::string::npos) << text;
  EXPECT_NE(text.find("r.yaml:13:31: cron '0 0 30 2 *' never fires (no such day)"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace lienthong
