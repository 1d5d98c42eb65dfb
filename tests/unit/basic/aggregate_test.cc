// The aggregate step: completion on size and on timeout, order, the two ways of combining,
// hand-over across reloads, stop, and its refusals at load time.

#include "transforms/basic/aggregate.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "core/builtins.h"
#include "core/loader.h"
#include "integration/test_support.h"

namespace lienthong {
namespace {

using namespace std::chrono_literals;
using transforms::basic::AggregateSettings;
using transforms::basic::AggregateStep;

// Records what the step emits; refuses while `refuse` is set.
class RecordingEmitter final : public StepEmitter {
 public:
  bool emit(Message message, bool past_limits, const std::vector<std::int64_t>& settles) override {
    if (past_limits) ++forced;
    std::lock_guard lock(mutex_);
    ++asked_;
    cv_.notify_all();
    if (refuse) return false;
    emitted_.push_back(std::move(message));
    settles_.push_back(settles);
    cv_.notify_all();
    return true;
  }
  bool waitFor(std::size_t n, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return emitted_.size() >= n; });
  }
  // Waits until the step has asked at least n times (taken or refused).
  bool waitForAsks(int n, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return asked_ >= n; });
  }
  std::vector<Message> emitted() {
    std::lock_guard lock(mutex_);
    return emitted_;
  }
  // The journal entries each emitted group settles.
  std::vector<std::vector<std::int64_t>> settles() {
    std::lock_guard lock(mutex_);
    return settles_;
  }
  std::atomic<bool> refuse = false;
  std::atomic<int> forced = 0;  // emitted past the engine's limits (at a stop)

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Message> emitted_;
  std::vector<std::vector<std::int64_t>> settles_;
  int asked_ = 0;
};

std::shared_ptr<const Template> templ(const std::string& text) {
  return std::make_shared<const Template>(*Template::compile(text, nullptr));
}

AggregateSettings settings(std::optional<std::size_t> size = 3,
                           std::chrono::milliseconds timeout = 60s) {
  AggregateSettings s;
  s.key = templ("${Lo}");
  s.size = size;
  s.timeout = timeout;
  s.order = templ("${Thu}");
  s.element = "DanhSach";
  s.prefix = "ds";
  s.ns = "urn:lienthong:danhsach:1";
  return s;
}

Exchange part(const std::string& batch, int index, std::string body = "") {
  Message m;
  if (body.empty()) {
    body =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<h:HoSo xmlns:h=\"urn:lienthong:hoso:1\">"
        "<h:MaHoSo>HS-" +
        std::to_string(index) + "</h:MaHoSo></h:HoSo>\n";
  }
  m.setBody(std::move(body));
  m.setContentType("application/xml");
  m.setHeader("Lo", batch);
  m.setHeader("Thu", std::to_string(index));
  m.setCorrelationId("corr-" + batch);
  return Exchange(m, "r", ExchangePattern::kOneWay);
}

// Journalled parts stay in the journal while held: the group, once journalled, settles
// them in the same write.
TEST(Aggregate, AGroupSettlesTheJournalEntriesOfItsParts) {
  AggregateStep step(settings(2));
  RecordingEmitter emitter;
  step.start(emitter, nullptr);
  Exchange a = part("L1", 1);
  a.setJournalSeq(41);
  Exchange b = part("L1", 2);
  b.setJournalSeq(42);
  EXPECT_EQ(*step.process(a), StepOutcome::kHeld);
  EXPECT_TRUE(emitter.settles().empty());
  EXPECT_EQ(*step.process(b), StepOutcome::kHeld);
  ASSERT_EQ(emitter.settles().size(), 1u);
  EXPECT_EQ(emitter.settles()[0], (std::vector<std::int64_t>{41, 42}));
  step.stop(true);
}

TEST(Aggregate, CompletesOnSizeInOrderWithinOneWrapper) {
  AggregateStep step(settings());
  RecordingEmitter emitter;
  step.start(emitter, nullptr);
  for (int i : {3, 1}) {
    Exchange ex = part("L1", i);
    auto r = step.process(ex);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(*r, StepOutcome::kHeld);  // held in its group
  }
  Exchange other = part("L2", 1);
  EXPECT_EQ(*step.process(other), StepOutcome::kHeld);
  EXPECT_EQ(step.openGroups(), 2u);

  // The part that completes the group ends its exchange too: the whole group enters the
  // route after the aggregate as a new exchange, so that a retry resends all of it.
  Exchange last = part("L1", 2);
  auto r = step.process(last);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, StepOutcome::kHeld);
  ASSERT_EQ(emitter.emitted().size(), 1u);
  const Message whole = emitter.emitted()[0];
  EXPECT_EQ(whole.body(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<ds:DanhSach xmlns:ds=\"urn:lienthong:danhsach:1\">"
            "<h:HoSo xmlns:h=\"urn:lienthong:hoso:1\"><h:MaHoSo>HS-1</h:MaHoSo></h:HoSo>"
            "<h:HoSo xmlns:h=\"urn:lienthong:hoso:1\"><h:MaHoSo>HS-2</h:MaHoSo></h:HoSo>"
            "<h:HoSo xmlns:h=\"urn:lienthong:hoso:1\"><h:MaHoSo>HS-3</h:MaHoSo></h:HoSo>"
            "</ds:DanhSach>\n");
  EXPECT_EQ(*whole.header("aggregate.key"), "L1");
  EXPECT_EQ(*whole.header("aggregate.size"), "3");
  EXPECT_EQ(*whole.header("aggregate.completed-by"), "size");
  EXPECT_EQ(*whole.header("Thu"), "3");  // the headers of the group's first message
  EXPECT_EQ(whole.correlationId(), "corr-L1");
  EXPECT_EQ(whole.contentType(), "application/xml");
  EXPECT_EQ(step.openGroups(), 1u);
  step.stop(true);
  EXPECT_EQ(emitter.forced, 1);  // L2, handed over at the stop past the engine's limits
}

TEST(Aggregate, SizeCanComeFromTheMessagesAndConcatJoinsBodies) {
  AggregateSettings s = settings(std::nullopt);
  s.size_from = templ("${split.size}");
  s.combine = AggregateSettings::Combine::kConcat;
  s.separator = ";";
  AggregateStep step(std::move(s));
  RecordingEmitter emitter;
  step.start(emitter, nullptr);
  Exchange a = part("L", 2, "b");
  a.message().setHeader("split.size", "2");
  a.message().setContentType("text/plain");
  EXPECT_EQ(*step.process(a), StepOutcome::kHeld);
  Exchange b = part("L", 1, "a");
  b.message().setHeader("split.size", "2");
  EXPECT_EQ(*step.process(b), StepOutcome::kHeld);
  ASSERT_EQ(emitter.emitted().size(), 1u);
  EXPECT_EQ(emitter.emitted()[0].body(), "a;b");
  EXPECT_EQ(emitter.emitted()[0].contentType(), "text/plain");
  step.stop(true);
}

TEST(Aggregate, AGroupThatTimesOutIsEmittedWithWhatItHas) {
  AggregateStep step(settings(5, 1s));  // long enough for both parts to meet
  RecordingEmitter emitter;
  step.start(emitter, nullptr);
  for (int i : {1, 2}) {
    Exchange ex = part("L1", i);
    ASSERT_EQ(*step.process(ex), StepOutcome::kHeld);
  }
  ASSERT_TRUE(emitter.waitFor(1));
  auto out = emitter.emitted();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(*out[0].header("aggregate.completed-by"), "timeout");
  EXPECT_EQ(*out[0].header("aggregate.size"), "2");
  EXPECT_NE(out[0].body().find("HS-2"), std::string::npos);
  EXPECT_EQ(step.openGroups(), 0u);
  step.stop(true);
  EXPECT_EQ(emitter.emitted().size(), 1u);
}

TEST(Aggregate, AnEngineThatCannotTakeTheGroupGetsItAgainLater) {
  AggregateStep step(settings(5, 50ms));
  RecordingEmitter emitter;
  emitter.refuse = true;
  step.start(emitter, nullptr);
  Exchange ex = part("L1", 1);
  ASSERT_EQ(*step.process(ex), StepOutcome::kHeld);
  ASSERT_TRUE(emitter.waitForAsks(1));  // its time ran out and the engine refused it
  EXPECT_EQ(step.openGroups(), 1u);     // kept, not dropped
  emitter.refuse = false;
  ASSERT_TRUE(emitter.waitFor(1));
  EXPECT_EQ(step.openGroups(), 0u);
  step.stop(true);
}

TEST(Aggregate, ACompleteGroupWaitsForAFullEngineAndKeepsItsReason) {
  AggregateStep step(settings(2));
  RecordingEmitter emitter;
  emitter.refuse = true;
  step.start(emitter, nullptr);
  for (int i : {0, 1}) {
    Exchange ex = part("L1", i);
    ASSERT_EQ(*step.process(ex), StepOutcome::kHeld);
  }
  EXPECT_EQ(step.openGroups(), 1u);  // complete, not yet taken
  emitter.refuse = false;
  ASSERT_TRUE(emitter.waitFor(1));
  const Message whole = emitter.emitted()[0];
  EXPECT_EQ(*whole.header("aggregate.completed-by"), "size");
  // Order 0 is a number like the others.
  EXPECT_LT(whole.body().find("HS-0"), whole.body().find("HS-1")) << whole.body();
  step.stop(true);
}

TEST(Aggregate, PartsInOtherEncodingsAreJoinedAsUtf8) {
  AggregateStep step(settings(2));
  RecordingEmitter emitter;
  step.start(emitter, nullptr);
  Exchange latin =
      part("L1", 1, "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<Ten>Jos\xE9</Ten>");
  ASSERT_EQ(*step.process(latin), StepOutcome::kHeld);
  Exchange utf8 = part("L1", 2, "<Ten>Nguyễn</Ten>");
  ASSERT_EQ(*step.process(utf8), StepOutcome::kHeld);
  ASSERT_EQ(emitter.emitted().size(), 1u);
  const std::string body = emitter.emitted()[0].body();
  EXPECT_NE(body.find("<Ten>José</Ten><Ten>Nguyễn</Ten>"), std::string::npos) << body;
  step.stop(true);
}

TEST(Aggregate, StopEmitsOpenGroupsAndThenPassesPartsThrough) {
  AggregateStep step(settings());
  RecordingEmitter emitter;
  step.start(emitter, nullptr);
  Exchange ex = part("L1", 1);
  ASSERT_EQ(*step.process(ex), StepOutcome::kHeld);
  step.stop(true);
  auto out = emitter.emitted();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(*out[0].header("aggregate.completed-by"), "stop");
  // An exchange still in flight after the stop is not held: nothing is lost.
  Exchange late = part("L1", 2);
  EXPECT_EQ(*step.process(late), StepOutcome::kContinue);
  EXPECT_EQ(*late.message().header("aggregate.size"), "1");
  EXPECT_EQ(*late.message().header("aggregate.completed-by"), "stop");
}

TEST(Aggregate, AReloadHandsOpenGroupsToTheNewVersion) {
  AggregateStep before(settings());
  RecordingEmitter old_emitter;
  before.start(old_emitter, nullptr);
  Exchange a = part("L1", 1);
  ASSERT_EQ(*before.process(a), StepOutcome::kHeld);

  AggregateStep after(settings());
  RecordingEmitter new_emitter;
  after.start(new_emitter, &before);
  before.stop(false);
  EXPECT_TRUE(old_emitter.emitted().empty());
  EXPECT_EQ(after.openGroups(), 1u);
  Exchange b = part("L1", 2);
  ASSERT_EQ(*after.process(b), StepOutcome::kHeld);
  Exchange c = part("L1", 3);
  ASSERT_EQ(*after.process(c), StepOutcome::kHeld);
  ASSERT_EQ(new_emitter.emitted().size(), 1u);
  EXPECT_EQ(*new_emitter.emitted()[0].header("aggregate.size"), "3");
  after.stop(true);
}

TEST(Aggregate, AFailedReloadGivesTheGroupsBackAndARemovedStepEmitsThem) {
  AggregateStep before(settings(3, 1s));  // L2 must not time out before the stop
  RecordingEmitter old_emitter;
  before.start(old_emitter, nullptr);
  AggregateStep attempt(settings(3, 1s));
  RecordingEmitter attempt_emitter;
  attempt.start(attempt_emitter, &before);
  attempt.stop(false);  // the new version did not start
  Exchange a = part("L1", 1);
  ASSERT_EQ(*before.process(a), StepOutcome::kHeld);
  ASSERT_TRUE(old_emitter.waitFor(1));  // timed out, through the version still running
  EXPECT_TRUE(attempt_emitter.emitted().empty());

  Exchange b = part("L2", 1);
  ASSERT_EQ(*before.process(b), StepOutcome::kHeld);
  before.stop(false);  // retired with no successor: its groups go out now
  auto out = old_emitter.emitted();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(*out[1].header("aggregate.completed-by"), "reload");
}

TEST(Aggregate, RefusesBadPartsAndTooManyGroups) {
  AggregateSettings s = settings();
  s.max_groups = 1;
  AggregateStep step(std::move(s));
  RecordingEmitter emitter;
  step.start(emitter, nullptr);
  Exchange not_xml = part("L1", 1, "HS-1;Nguyen Van An");
  auto r = step.process(not_xml);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidMessage);
  EXPECT_NE(r.error().message.find("aggregate: "), std::string::npos);

  Exchange no_key = part("", 1);
  r = step.process(no_key);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("correlation key '${Lo}' is empty"), std::string::npos);

  Exchange first = part("L1", 1);
  ASSERT_EQ(*step.process(first), StepOutcome::kHeld);
  Exchange second = part("L2", 1);
  r = step.process(second);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kTransient);  // retried later by the engine
  EXPECT_NE(r.error().message.find("max-groups"), std::string::npos);
  step.stop(true);
}

TEST(AggregateFactory, BadSettingsAreRefusedAtTheirPlace) {
  testing::TempHome home;
  home.write("config.yaml", "listeners:\n  public: { http: { port: 0 } }\nroutes: [ routes ]\n");
  const std::string head =
      "namespaces: { ds: \"urn:lienthong:danhsach:1\" }\n"
      "routes:\n"
      "  - id: gom\n"
      "    pattern: one-way\n"
      "    from: { http: { listener: public, path: /gom } }\n"
      "    steps:\n";
  Registry registry;
  registerBuiltins(registry);
  Loader loader(registry, true);
  ConfigErrors errors;
  auto config = loader.loadConfig(home.path("config.yaml").string(), errors);
  ASSERT_TRUE(config) << errors.str();
  home.write("routes/r.yaml", head +
                                  "      - aggregate: { key: \"${Lo}\", size: \"${split.size}\","
                                  " timeout: 30s, order: \"${Thu}\", element: ds:DanhSach }\n");
  EXPECT_TRUE(loader.loadRoutes(*config, config->route_paths, errors)) << errors.str();

  struct Case {
    std::string steps;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"      - aggregate: { key: \"${Lo}\", size: 3 }\n",
       "r.yaml:7:20: aggregate step needs 'timeout'"},
      {"      - aggregate: { size: 3, timeout: 1s }\n", "r.yaml:7:20: aggregate step needs 'key'"},
      {"      - aggregate: { key: \"${Lo}\", size: 0, timeout: 1s }\n",
       "r.yaml:7:42: size must be between 1 and 1000000"},
      {"      - aggregate: { key: \"${Lo}\", timeout: 1s, element: q:X }\n",
       "r.yaml:7:58: prefix 'q' is not declared"},
      {"      - aggregate: { key: \"${Lo}\", timeout: 1s, combine: concat, element: X }\n",
       "element is for combine: xml"},
      {"      - aggregate: { key: \"${Lo}\", timeout: 1s, size: -1 }\n",
       "size must be a number from 1 to 1000000 or a template"},
      {"      - aggregate: { key: \"${Lo}\", timeout: 1s, element: \"Danh Sach\" }\n",
       "element must be an XML name"},
      {"      - choice:\n"
       "          - otherwise:\n"
       "            steps: [ { aggregate: { key: \"${Lo}\", timeout: 1s } } ]\n",
       "aggregate must be a top-level step"},
  };
  for (const Case& c : cases) {
    home.write("routes/r.yaml", head + c.steps);
    ConfigErrors bad;
    EXPECT_FALSE(loader.loadRoutes(*config, config->route_paths, bad)) << c.steps;
    EXPECT_NE(bad.str().find(c.expected), std::string::npos) << bad.str();
  }
  home.write("routes/r.yaml",
             "routes:\n"
             "  - id: gom\n"
             "    pattern: request-reply\n"
             "    from: { http: { listener: public, path: /gom } }\n"
             "    steps:\n"
             "      - aggregate: { key: \"${Lo}\", timeout: 1s }\n");
  ConfigErrors bad;
  EXPECT_FALSE(loader.loadRoutes(*config, config->route_paths, bad));
  EXPECT_NE(bad.str().find("r.yaml:6:20: aggregate needs a one-way route"), std::string::npos)
      << bad.str();
}

}  // namespace
}  // namespace lienthong
