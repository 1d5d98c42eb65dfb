#include "core/engine.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <latch>
#include <stdexcept>

#include "core/store.h"
#include "fakes/fake_outbound.h"
#include "lienthong/template.h"

namespace lienthong {
namespace {

using testing::FakeOutbound;
using namespace std::chrono_literals;

// A step given as a function.
class FnStep : public Step {
 public:
  explicit FnStep(std::function<Result<StepOutcome>(Exchange&)> fn) : fn_(std::move(fn)) {}
  Result<StepOutcome> process(Exchange& ex) override { return fn_(ex); }

 private:
  std::function<Result<StepOutcome>(Exchange&)> fn_;
};

std::shared_ptr<Route> makeRoute(ExchangePattern pattern, std::shared_ptr<OutboundEndpoint> to) {
  auto r = std::make_shared<Route>();
  r->id = "test-route";
  r->pattern = pattern;
  r->to = std::move(to);
  r->retry.attempts = pattern == ExchangePattern::kOneWay ? 0 : 1;
  r->retry.initial = 5ms;
  r->retry.max = 20ms;
  return r;
}

struct Waiter {
  std::promise<Outcome> promise;
  std::future<Outcome> future = promise.get_future();
  Completion completion() {
    return [this](Outcome&& o) { promise.set_value(std::move(o)); };
  }
  Outcome get() {
    if (future.wait_for(5s) != std::future_status::ready) {
      ADD_FAILURE() << "no outcome within 5s";
      return {};
    }
    return future.get();
  }
};

// The endpoint holds every send until `release` is set, then accepts.
void holdUntil(FakeOutbound& out, std::promise<void>& release) {
  std::shared_future<void> released = release.get_future().share();
  out.setScript([released](const Exchange&) {
    released.wait();
    return Delivery::accepted();
  });
}

Message body(std::string text) {
  Message m;
  m.setBody(std::move(text));
  return m;
}

// Polls the engine's figures until `holds` (they have no event of their own).
bool statsUntil(const Engine& engine, const std::function<bool(const Engine::Stats&)>& holds) {
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (!holds(engine.stats())) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// Counts the calls of a completion and keeps the last outcome.
struct Counted {
  std::atomic<int> calls{0};
  std::atomic<Outcome::Status> last{Outcome::Status::kFailed};
  Completion completion() {
    return [this](Outcome&& o) {
      last = o.status;
      calls.fetch_add(1);
    };
  }
};

TEST(Engine, RequestReplyMergesTheReply) {
  auto out = std::make_shared<FakeOutbound>();
  Message reply = body("pong");
  reply.setHeader("http.status", "200");
  reply.setContentType("text/plain");
  out->push(Delivery::accepted(reply));
  Engine engine(EngineSettings{2, 8, 8, 1s});
  engine.start();
  auto route = makeRoute(ExchangePattern::kRequestReply, out);
  Message m = body("ping");
  m.setHeader("MaHoSo", "X-1");
  Waiter w;
  ASSERT_EQ(engine.submit(route, 1, m, w.completion()), Admission::kAccepted);
  Outcome o = w.get();
  EXPECT_EQ(o.status, Outcome::Status::kDelivered);
  EXPECT_EQ(o.message.body(), "pong");
  EXPECT_EQ(o.message.contentType(), "text/plain");
  EXPECT_EQ(*o.message.header("MaHoSo"), "X-1");
  EXPECT_EQ(*o.message.header("http.status"), "200");
  ASSERT_EQ(out->sent().size(), 1u);
  EXPECT_EQ(out->sent()[0].body(), "ping");
  EXPECT_EQ(out->sent()[0].attempt(), 1u);
}

TEST(Engine, PushesBackWhenTheQueueIsFull) {
  auto out = std::make_shared<FakeOutbound>();
  std::promise<void> release;
  holdUntil(*out, release);
  Engine engine(EngineSettings{1, 1, 100, 1s, 0ms});  // no admission wait: refused at once
  engine.start();
  auto route = makeRoute(ExchangePattern::kOneWay, out);
  Waiter a, b;
  ASSERT_EQ(engine.submit(route, 1, body("a"), a.completion()), Admission::kAccepted);
  ASSERT_TRUE(out->waitForSent(1, 5s));  // the only worker is busy with a
  ASSERT_EQ(engine.submit(route, 1, body("b"), b.completion()), Admission::kAccepted);  // queued
  EXPECT_EQ(engine.submit(route, 1, body("c"), [](Outcome&&) { FAIL(); }), Admission::kBusy);
  EXPECT_EQ(engine.stats().refused, 1u);
  release.set_value();
  EXPECT_EQ(a.get().status, Outcome::Status::kDelivered);
  EXPECT_EQ(b.get().status, Outcome::Status::kDelivered);
  Waiter d;
  EXPECT_EQ(engine.submit(route, 1, body("d"), d.completion()), Admission::kAccepted);
  EXPECT_EQ(d.get().status, Outcome::Status::kDelivered);
}

TEST(Engine, RequestReplyRunsOnTheCallersThreadOnlyWhenASlotIsFree) {
  auto out = std::make_shared<FakeOutbound>();
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  auto threads = std::make_shared<std::vector<std::thread::id>>();
  auto mutex = std::make_shared<std::mutex>();
  out->setScript([=](const Exchange& ex) {
    {
      std::lock_guard lock(*mutex);
      threads->push_back(std::this_thread::get_id());
    }
    if (ex.pattern() == ExchangePattern::kOneWay) released.wait();
    return Delivery::accepted();
  });
  Engine engine(EngineSettings{1, 4, 100, 1s});
  engine.start();
  auto rr = makeRoute(ExchangePattern::kRequestReply, out);
  auto ow = makeRoute(ExchangePattern::kOneWay, out);

  Waiter first;
  ASSERT_EQ(engine.submit(rr, 1, body("1"), first.completion()), Admission::kAccepted);
  ASSERT_EQ(first.future.wait_for(0s), std::future_status::ready);  // done before returning
  EXPECT_EQ(first.get().status, Outcome::Status::kDelivered);

  ASSERT_EQ(engine.submit(ow, 1, body("2"), nullptr), Admission::kAccepted);
  ASSERT_TRUE(out->waitForSent(2, 5s));  // the only slot is taken
  Waiter third;
  ASSERT_EQ(engine.submit(rr, 1, body("3"), third.completion()), Admission::kAccepted);
  EXPECT_EQ(third.future.wait_for(50ms), std::future_status::timeout);  // queued, not run here
  EXPECT_EQ(engine.stats().queued, 1u);
  release.set_value();
  EXPECT_EQ(third.get().status, Outcome::Status::kDelivered);
  std::lock_guard lock(*mutex);
  ASSERT_EQ(threads->size(), 3u);
  EXPECT_EQ((*threads)[0], std::this_thread::get_id());
  EXPECT_NE((*threads)[2], std::this_thread::get_id());
}

TEST(Engine, AThrowingStepFailsItsMessageAndLeavesTheEngineUsable) {
  auto out = std::make_shared<FakeOutbound>();
  auto route = makeRoute(ExchangePattern::kRequestReply, out);
  route->steps.push_back(std::make_unique<FnStep>([](Exchange& ex) -> Result<StepOutcome> {
    if (ex.message().body() == "boom") throw std::runtime_error("plugin bug");
    return StepOutcome::kContinue;
  }));
  Engine engine(EngineSettings{1, 4, 8, 1s});
  engine.start();
  for (int i = 0; i < 3; ++i) {  // the only slot must come back each time
    Waiter w;
    ASSERT_EQ(engine.submit(route, 1, body("boom"), w.completion()), Admission::kAccepted);
    Outcome o = w.get();
    EXPECT_EQ(o.status, Outcome::Status::kFailed);
    EXPECT_EQ(o.error.code, ErrorCode::kInternal);
    EXPECT_NE(o.error.message.find("plugin bug"), std::string::npos);
  }
  Waiter ok;
  ASSERT_EQ(engine.submit(route, 1, body("fine"), ok.completion()), Admission::kAccepted);
  EXPECT_EQ(ok.get().status, Outcome::Status::kDelivered);
  EXPECT_EQ(engine.stats().running, 0u);
  EXPECT_EQ(engine.drain(1s), 0u);
}

TEST(Engine, RequestReplyRetriesKeepThePeersLastAnswer) {
  auto out = std::make_shared<FakeOutbound>();
  Message busy = body("busy");
  busy.setHeader("http.status", "503");
  out->setScript([busy](const Exchange&) {
    return Delivery::retry(Delivery::Failure::kRemote, "HTTP 503", busy);
  });
  auto route = makeRoute(ExchangePattern::kRequestReply, out);
  route->retry.attempts = 3;
  Engine engine(EngineSettings{1, 4, 8, 1s});
  engine.start();
  Waiter w;
  ASSERT_EQ(engine.submit(route, 1, body("x"), w.completion()), Admission::kAccepted);
  Outcome o = w.get();
  EXPECT_EQ(o.status, Outcome::Status::kFailed);
  EXPECT_EQ(out->sent().size(), 3u);
  ASSERT_TRUE(o.delivery);
  ASSERT_TRUE(o.delivery->reply);
  EXPECT_EQ(*o.delivery->reply->header("http.status"), "503");
}

TEST(Engine, RequestReplyWithUnlimitedAttemptsRetriesUntilItsDeadline) {
  auto out = std::make_shared<FakeOutbound>();
  out->push(Delivery::retry(Delivery::Failure::kConnect, "refused"));
  out->push(Delivery::retry(Delivery::Failure::kConnect, "refused"));
  auto route = makeRoute(ExchangePattern::kRequestReply, out);
  route->retry.attempts = 0;
  Engine engine(EngineSettings{1, 4, 8, 1s});
  engine.start();
  Waiter w;
  ASSERT_EQ(engine.submit(route, 1, body("x"), w.completion()), Admission::kAccepted);
  EXPECT_EQ(w.get().status, Outcome::Status::kDelivered);
  EXPECT_EQ(out->sent().size(), 3u);
}

TEST(Engine, AnAdmittedCallerRunThatIsDroppedStillRunsAndCompletes) {
  auto out = std::make_shared<FakeOutbound>();
  Engine engine(EngineSettings{1, 4, 8, 1s});
  engine.start();
  Waiter w;
  {
    auto admitted =
        engine.admit(makeRoute(ExchangePattern::kRequestReply, out), 1, body("x"), w.completion());
    ASSERT_EQ(admitted.admission, Admission::kAccepted);
    ASSERT_TRUE(admitted.run);
    EXPECT_TRUE(out->sent().empty());  // not run inside admit()
  }
  EXPECT_EQ(w.get().status, Outcome::Status::kDelivered);
  EXPECT_EQ(engine.stats().running, 0u);
}

// With an admission wait, an input's message waits for a place instead of being refused
// at once; past the wait it is refused.
TEST(Engine, AnInputWaitsUpToAdmissionWaitForAPlace) {
  auto out = std::make_shared<FakeOutbound>();
  std::promise<void> release;
  holdUntil(*out, release);
  Engine engine(EngineSettings{1, 1, 100, 1s, 10s});
  engine.start();
  auto route = makeRoute(ExchangePattern::kOneWay, out);
  Waiter a, b, c;
  ASSERT_EQ(engine.submit(route, 1, body("a"), a.completion()), Admission::kAccepted);
  ASSERT_TRUE(out->waitForSent(1, 5s));
  ASSERT_EQ(engine.submit(route, 1, body("b"), b.completion()), Admission::kAccepted);
  auto waiting = std::async(std::launch::async,
                            [&] { return engine.submit(route, 1, body("c"), c.completion()); });
  ASSERT_TRUE(statsUntil(engine, [](const Engine::Stats& st) { return st.waiting_for_room == 1; }));
  release.set_value();  // a settles, b leaves the queue: c finds its place
  EXPECT_EQ(waiting.get(), Admission::kAccepted);
  EXPECT_EQ(c.get().status, Outcome::Status::kDelivered);
  EXPECT_EQ(engine.stats().refused, 0u);

  Engine short_wait(EngineSettings{1, 1, 100, 10s, 30ms});
  short_wait.start();
  auto held = std::make_shared<FakeOutbound>();
  std::promise<void> hold;
  holdUntil(*held, hold);
  auto route2 = makeRoute(ExchangePattern::kOneWay, held);
  ASSERT_EQ(short_wait.submit(route2, 1, body("x"), nullptr), Admission::kAccepted);
  ASSERT_TRUE(held->waitForSent(1, 5s));
  ASSERT_EQ(short_wait.submit(route2, 1, body("y"), nullptr), Admission::kAccepted);
  const auto asked = std::chrono::steady_clock::now();
  EXPECT_EQ(short_wait.submit(route2, 1, body("z"), nullptr), Admission::kBusy);
  EXPECT_GE(std::chrono::steady_clock::now() - asked, 30ms);
  // Its own 30 ms: not the default's 1 s, had the setting been lost, nor the other
  // engine's 10 s.
  EXPECT_LT(std::chrono::steady_clock::now() - asked, 1s);
  hold.set_value();
}

TEST(Engine, LimitsOneWayMessagesHeldInMemory) {
  auto out = std::make_shared<FakeOutbound>();
  out->setScript(
      [](const Exchange&) { return Delivery::retry(Delivery::Failure::kConnect, "down"); });
  Engine engine(EngineSettings{2, 100, 2, 100ms, 0ms});
  engine.start();
  auto route = makeRoute(ExchangePattern::kOneWay, out);
  route->retry.initial = 1h;
  route->retry.max = 1h;
  EXPECT_EQ(engine.submit(route, 1, body("1"), nullptr), Admission::kAccepted);
  EXPECT_EQ(engine.submit(route, 1, body("2"), nullptr), Admission::kAccepted);
  EXPECT_EQ(engine.submit(route, 1, body("3"), nullptr), Admission::kBusy);
  EXPECT_EQ(engine.drain(50ms), 2u);  // both still waiting for their retry
}

TEST(Engine, OneWayRetriesTransientFailuresUntilDelivered) {
  auto out = std::make_shared<FakeOutbound>();
  out->push(Delivery::retry(Delivery::Failure::kConnect, "refused"));
  out->push(Delivery::retry(Delivery::Failure::kRemote, "HTTP 503"));
  Engine engine(EngineSettings{2, 8, 8, 1s});
  engine.start();
  Waiter w;
  ASSERT_EQ(engine.submit(makeRoute(ExchangePattern::kOneWay, out), 1, body("x"), w.completion()),
            Admission::kAccepted);
  EXPECT_EQ(w.get().status, Outcome::Status::kDelivered);
  auto sent = out->sent();
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[0].attempt(), 1u);
  EXPECT_EQ(sent[2].attempt(), 3u);
  EXPECT_EQ(engine.stats().retries, 2u);
}

TEST(Engine, RejectedOneWayMessageIsDeadLettered) {
  auto out = std::make_shared<FakeOutbound>();
  out->push(Delivery::rejected("HTTP 400 bad dossier"));
  Engine engine(EngineSettings{1, 8, 8, 1s});
  engine.start();
  Waiter w;
  ASSERT_EQ(engine.submit(makeRoute(ExchangePattern::kOneWay, out), 1, body("x"), w.completion()),
            Admission::kAccepted);
  Outcome o = w.get();
  EXPECT_EQ(o.status, Outcome::Status::kDeadLettered);
  EXPECT_EQ(o.error.code, ErrorCode::kPermanent);
  EXPECT_NE(o.error.message.find("HTTP 400 bad dossier"), std::string::npos);
  EXPECT_EQ(out->sent().size(), 1u);
}

TEST(Engine, ExhaustedAttemptsGoToTheDeadLetters) {
  auto out = std::make_shared<FakeOutbound>();
  out->setScript(
      [](const Exchange&) { return Delivery::retry(Delivery::Failure::kTimeout, "slow"); });
  auto route = makeRoute(ExchangePattern::kOneWay, out);
  route->retry.attempts = 3;
  Engine engine(EngineSettings{1, 8, 8, 1s});
  engine.start();
  Waiter w;
  ASSERT_EQ(engine.submit(route, 1, body("x"), w.completion()), Admission::kAccepted);
  Outcome o = w.get();
  EXPECT_EQ(o.status, Outcome::Status::kDeadLettered);
  EXPECT_NE(o.error.message.find("after 3 attempts"), std::string::npos) << o.error.message;
  EXPECT_EQ(out->sent().size(), 3u);
}

TEST(Engine, StepRetryStartsAgainFromTheOriginalMessage) {
  auto out = std::make_shared<FakeOutbound>();
  auto route = makeRoute(ExchangePattern::kOneWay, out);
  auto calls = std::make_shared<std::atomic<int>>(0);
  route->steps.push_back(std::make_unique<FnStep>([calls](Exchange& ex) -> Result<StepOutcome> {
    ex.message().setBody(ex.message().body() + "+step");
    if (calls->fetch_add(1) == 0) return Error(ErrorCode::kTransient, "lookup down");
    return StepOutcome::kContinue;
  }));
  Engine engine(EngineSettings{1, 8, 8, 1s});
  engine.start();
  Waiter w;
  ASSERT_EQ(engine.submit(route, 1, body("x"), w.completion()), Admission::kAccepted);
  EXPECT_EQ(w.get().status, Outcome::Status::kDelivered);
  ASSERT_EQ(out->sent().size(), 1u);
  EXPECT_EQ(out->sent()[0].body(), "x+step");
}

TEST(Engine, StopOutcomeSkipsDelivery) {
  auto out = std::make_shared<FakeOutbound>();
  auto route = makeRoute(ExchangePattern::kOneWay, out);
  route->steps.push_back(std::make_unique<FnStep>(
      [](Exchange&) -> Result<StepOutcome> { return StepOutcome::kStop; }));
  Engine engine(EngineSettings{1, 8, 8, 1s});
  engine.start();
  Waiter w;
  ASSERT_EQ(engine.submit(route, 1, body("x"), w.completion()), Admission::kAccepted);
  EXPECT_EQ(w.get().status, Outcome::Status::kStopped);
  EXPECT_TRUE(out->sent().empty());
}

TEST(Engine, RequestReplyConnectFailureFailsWithTheDelivery) {
  auto out = std::make_shared<FakeOutbound>();
  out->push(Delivery::retry(Delivery::Failure::kConnect, "connection refused"));
  Engine engine(EngineSettings{1, 8, 8, 1s});
  engine.start();
  Waiter w;
  ASSERT_EQ(
      engine.submit(makeRoute(ExchangePattern::kRequestReply, out), 1, body("x"), w.completion()),
      Admission::kAccepted);
  Outcome o = w.get();
  EXPECT_EQ(o.status, Outcome::Status::kFailed);
  ASSERT_TRUE(o.delivery);
  EXPECT_EQ(o.delivery->failure, Delivery::Failure::kConnect);
  EXPECT_EQ(out->sent().size(), 1u);
}

TEST(Engine, DrainWaitsForInFlightThenRefuses) {
  auto out = std::make_shared<FakeOutbound>();
  std::promise<void> release;
  holdUntil(*out, release);
  Engine engine(EngineSettings{1, 8, 8, 5s});
  engine.start();
  auto route = makeRoute(ExchangePattern::kOneWay, out);
  Waiter w;
  ASSERT_EQ(engine.submit(route, 1, body("x"), w.completion()), Admission::kAccepted);
  ASSERT_TRUE(out->waitForSent(1, 5s));
  auto drained = std::async(std::launch::async, [&] { return engine.drain(5s); });
  EXPECT_EQ(drained.wait_for(50ms), std::future_status::timeout);  // still in flight
  release.set_value();
  EXPECT_EQ(drained.get(), 0u);
  EXPECT_EQ(w.get().status, Outcome::Status::kDelivered);
  EXPECT_EQ(engine.submit(route, 1, body("y"), nullptr), Admission::kStopping);
}

Message keyed(const std::string& key, const std::string& text) {
  Message m = body(text);
  m.setHeader("dossier", key);
  return m;
}

std::shared_ptr<const Template> templ(const char* text) {
  TemplateError error;
  auto t = Template::compile(text, &error);
  EXPECT_TRUE(t) << error.message;
  return std::make_shared<const Template>(std::move(*t));
}

TEST(Engine, OrderKeyKeepsEachKeysOrderAndAFailingHeadHoldsBackOnlyItsKey) {
  auto out = std::make_shared<FakeOutbound>();
  auto b_sent = std::make_shared<std::atomic<int>>(0);
  auto a1_tries = std::make_shared<std::atomic<int>>(0);
  // A1 fails at least once, and until both B messages went through: B must not wait
  // behind A.
  out->setScript([b_sent, a1_tries](const Exchange& ex) {
    const std::string& text = ex.message().body();
    if (text[0] == 'B') b_sent->fetch_add(1);
    if (text == "A1" && (a1_tries->fetch_add(1) == 0 || b_sent->load() < 2)) {
      return Delivery::retry(Delivery::Failure::kRemote, "HTTP 503");
    }
    return Delivery::accepted();
  });
  auto route = makeRoute(ExchangePattern::kOneWay, out);
  route->retry.initial = 1ms;
  route->retry.max = 2ms;
  route->order_key = templ("${header.dossier}");
  Engine engine(EngineSettings{4, 100, 100, 1s});
  engine.start();
  std::vector<std::unique_ptr<Waiter>> waiters;
  for (const char* text : {"A1", "A2", "A3", "B1", "B2"}) {
    waiters.push_back(std::make_unique<Waiter>());
    ASSERT_EQ(
        engine.submit(route, 1, keyed(std::string(1, text[0]), text), waiters.back()->completion()),
        Admission::kAccepted);
  }
  for (auto& w : waiters) EXPECT_EQ(w->get().status, Outcome::Status::kDelivered);
  std::vector<std::string> a_order;
  std::vector<std::string> b_order;
  for (const Message& m : out->sent()) {
    (m.body()[0] == 'A' ? a_order : b_order).push_back(m.body());
  }
  ASSERT_GE(a_order.size(), 4u);  // A1 failed at least once
  EXPECT_EQ(a_order.back(), "A3");
  EXPECT_EQ(a_order[a_order.size() - 2], "A2");
  for (std::size_t i = 0; i + 2 < a_order.size(); ++i) EXPECT_EQ(a_order[i], "A1");
  EXPECT_EQ(b_order, (std::vector<std::string>{"B1", "B2"}));
  EXPECT_EQ(engine.stats().in_order, 0u);
}

TEST(Engine, AMessageWithoutItsOrderKeyIsDeadLettered) {
  auto out = std::make_shared<FakeOutbound>();
  auto route = makeRoute(ExchangePattern::kOneWay, out);
  route->order_key = templ("${header.dossier}");
  Engine engine(EngineSettings{1, 8, 8, 1s});
  engine.start();
  Waiter w;
  ASSERT_EQ(engine.submit(route, 1, body("no key"), w.completion()), Admission::kAccepted);
  Outcome o = w.get();
  EXPECT_EQ(o.status, Outcome::Status::kDeadLettered);
  EXPECT_NE(o.error.message.find("ordering key '${header.dossier}' cannot be computed"),
            std::string::npos)
      << o.error.message;
  EXPECT_TRUE(out->sent().empty());
}

TEST(Engine, CircuitBreakerOpensAfterConsecutiveFailuresAndLetsOneProbeThrough) {
  auto out = std::make_shared<FakeOutbound>();
  auto times = std::make_shared<std::vector<std::chrono::steady_clock::time_point>>();
  auto mutex = std::make_shared<std::mutex>();
  out->setScript([times, mutex](const Exchange&) {
    std::lock_guard lock(*mutex);
    times->push_back(std::chrono::steady_clock::now());
    if (times->size() <= 4) return Delivery::retry(Delivery::Failure::kConnect, "refused");
    return Delivery::accepted();
  });
  auto route = makeRoute(ExchangePattern::kOneWay, out);
  route->retry.initial = 1ms;
  route->retry.max = 1ms;
  route->breaker.failures = 3;
  route->breaker.open_for = 150ms;
  route->retry.attempts = 5;  // waiting on the breaker uses none of them
  auto other = makeRoute(ExchangePattern::kOneWay, out);  // the same peer: the same breaker
  other->id = "other-route";
  other->breaker = route->breaker;
  other->retry = route->retry;
  Engine engine(EngineSettings{2, 8, 8, 1s});
  engine.start();
  Waiter w;
  ASSERT_EQ(engine.submit(route, 1, body("x"), w.completion()), Admission::kAccepted);
  ASSERT_TRUE(out->waitForSent(3, 5s));
  auto until = std::chrono::steady_clock::now() + 5s;  // the third failure opens it
  while (engine.stats().open_breakers == 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_EQ(engine.stats().open_breakers, 1u);
  Waiter w2;
  ASSERT_EQ(engine.submit(other, 1, body("y"), w2.completion()), Admission::kAccepted);
  EXPECT_EQ(w.get().status, Outcome::Status::kDelivered);
  EXPECT_EQ(w2.get().status, Outcome::Status::kDelivered);
  std::lock_guard lock(*mutex);
  // Attempts 1-3 fail and open the breaker; attempt 4, the probe, waits for it, fails and
  // opens it again; attempt 5, the next probe, goes through and closes it.
  ASSERT_EQ(times->size(), 6u);
  EXPECT_GE((*times)[3] - (*times)[2], 140ms);
  EXPECT_GE((*times)[4] - (*times)[3], 140ms);
  EXPECT_GT(engine.stats().breaker_waits, 0u);
  EXPECT_EQ(engine.stats().open_breakers, 0u);
}

TEST(Engine, RequestReplyFailsAtOnceWhileTheBreakerIsOpen) {
  auto out = std::make_shared<FakeOutbound>();
  out->setScript(
      [](const Exchange&) { return Delivery::retry(Delivery::Failure::kConnect, "refused"); });
  auto route = makeRoute(ExchangePattern::kRequestReply, out);
  route->breaker.failures = 1;
  route->breaker.open_for = 1h;
  Engine engine(EngineSettings{1, 8, 8, 1s});
  engine.start();
  Waiter first;
  ASSERT_EQ(engine.submit(route, 1, body("x"), first.completion()), Admission::kAccepted);
  EXPECT_EQ(first.get().status, Outcome::Status::kFailed);
  Waiter second;
  ASSERT_EQ(engine.submit(route, 1, body("y"), second.completion()), Admission::kAccepted);
  Outcome o = second.get();
  EXPECT_EQ(o.status, Outcome::Status::kFailed);
  EXPECT_NE(o.error.message.find("circuit breaker of fake is open"), std::string::npos)
      << o.error.message;
  EXPECT_EQ(out->sent().size(), 1u);
}

TEST(Engine, AttemptTimeoutBoundsEachAttemptOfAOneWayMessage) {
  auto out = std::make_shared<FakeOutbound>();
  auto left = std::make_shared<std::vector<std::chrono::milliseconds>>();
  out->setScript([left](const Exchange& ex) {
    left->push_back(std::chrono::duration_cast<std::chrono::milliseconds>(
        ex.deadline() - std::chrono::steady_clock::now()));
    return left->size() < 2 ? Delivery::retry(Delivery::Failure::kTimeout, "slow")
                            : Delivery::accepted();
  });
  auto route = makeRoute(ExchangePattern::kOneWay, out);
  route->attempt_timeout = 5s;
  // A pause of 2.4 to 3.6 s between the attempts: a deadline shared by both would leave
  // the second less than 2.6 s.
  route->retry.initial = route->retry.max = 3s;
  Engine engine(EngineSettings{1, 8, 8, 1s});
  engine.start();
  Waiter w;
  ASSERT_EQ(engine.submit(route, 1, body("x"), w.completion()), Admission::kAccepted);
  EXPECT_EQ(w.get().status, Outcome::Status::kDelivered);
  ASSERT_EQ(left->size(), 2u);
  for (auto l : *left) {  // each attempt has its own 5 s, not what the first one left
    EXPECT_LE(l, 5s);
    EXPECT_GT(l, 3s);
  }
}

TEST(Engine, GivenUpMessagesGoToTheDeadLetterRouteAsAcceptedWithTheReason) {
  auto out = std::make_shared<FakeOutbound>();
  out->push(Delivery::rejected("HTTP 400 bad dossier"));
  auto route = makeRoute(ExchangePattern::kOneWay, out);
  route->steps.push_back(std::make_unique<FnStep>([](Exchange& ex) -> Result<StepOutcome> {
    ex.message().setBody("transformed");
    return StepOutcome::kContinue;
  }));
  route->dead_letter_route = "dlq";
  auto dlq_out = std::make_shared<FakeOutbound>();
  auto dlq = makeRoute(ExchangePattern::kOneWay, dlq_out);
  dlq->id = "dlq";
  Engine engine(EngineSettings{1, 8, 8, 1s});
  engine.setRouteResolver([dlq](const std::string& id) {
    return std::make_pair(id == "dlq" ? std::shared_ptr<const Route>(dlq) : nullptr,
                          std::uint64_t{1});
  });
  engine.start();
  Waiter w;
  ASSERT_EQ(engine.submit(route, 1, body("as accepted"), w.completion()), Admission::kAccepted);
  EXPECT_EQ(w.get().status, Outcome::Status::kDeadLettered);
  ASSERT_TRUE(dlq_out->waitForSent(1, 5s));
  Message m = dlq_out->sent()[0];
  EXPECT_EQ(m.body(), "as accepted");
  ASSERT_TRUE(m.header("deadletter.route"));
  EXPECT_EQ(*m.header("deadletter.route"), "test-route");
  ASSERT_TRUE(m.header("deadletter.reason"));
  EXPECT_NE(m.header("deadletter.reason")->find("HTTP 400 bad dossier"), std::string::npos);
  EXPECT_EQ(engine.drain(5s), 0u);
  EXPECT_EQ(engine.stats().dead_lettered, 1u);
  EXPECT_EQ(engine.stats().delivered, 1u);
}

TEST(Engine, ADrainAbandonsTheMessagesWaitingForTheirKey) {
  auto out = std::make_shared<FakeOutbound>();
  out->setScript(
      [](const Exchange&) { return Delivery::retry(Delivery::Failure::kConnect, "down"); });
  auto route = makeRoute(ExchangePattern::kOneWay, out);
  route->order_key = templ("${header.dossier}");
  route->retry.initial = 1h;  // A1 waits for its next attempt, A2 behind it
  route->retry.max = 1h;
  Engine engine(EngineSettings{2, 8, 8, 1s});
  engine.start();
  Waiter first, second;
  ASSERT_EQ(engine.submit(route, 1, keyed("A", "A1"), first.completion()), Admission::kAccepted);
  ASSERT_EQ(engine.submit(route, 1, keyed("A", "A2"), second.completion()), Admission::kAccepted);
  ASSERT_TRUE(out->waitForSent(1, 5s));
  EXPECT_EQ(engine.stats().in_order, 1u);  // A2 waits behind A1, not on the free worker
  EXPECT_EQ(engine.drain(50ms), 2u);
  EXPECT_EQ(first.get().status, Outcome::Status::kAbandoned);
  EXPECT_EQ(second.get().status, Outcome::Status::kAbandoned);
  EXPECT_EQ(out->sent().size(), 1u);
  EXPECT_EQ(engine.stats().in_order, 0u);
}

// An asynchronous output holds many messages in flight without holding a worker each;
// its settlements, in any order, end the exchanges as send() would.
TEST(Engine, AnAsynchronousOutputKeepsManyInFlightOnOneWorker) {
  auto out = std::make_shared<testing::FakeAsyncOutbound>();
  auto route = makeRoute(ExchangePattern::kOneWay, out);
  route->retry.attempts = 2;
  route->retry.initial = 300ms;  // comes back while or after the others are settled
  route->retry.max = 300ms;
  Engine engine(EngineSettings{1, 64, 64, 1s});
  engine.start();
  constexpr int kCount = 20;
  std::vector<std::unique_ptr<Waiter>> waiters;
  for (int i = 0; i < kCount; ++i) {
    waiters.push_back(std::make_unique<Waiter>());
    // submitFrom never runs the exchange on this thread: the one worker sends them all.
    ASSERT_EQ(
        engine.submitFrom(route, 1, body("m" + std::to_string(i)), 0, waiters.back()->completion()),
        Admission::kAccepted);
  }
  ASSERT_TRUE(out->waitForInFlight(kCount, 5s));  // one worker, twenty in flight
  EXPECT_TRUE(statsUntil(engine, [](const Engine::Stats& s) { return s.running == 0; }));
  EXPECT_EQ(engine.stats().sending, static_cast<std::size_t>(kCount));
  // The last one is rejected, the first one is retried once, the rest are accepted.
  Message rejected = out->settle(kCount - 1, Delivery::rejected("no such queue"));
  Message retried = out->settle(0, Delivery::retry(Delivery::Failure::kRemote, "released"));
  for (int i = 0; i < kCount; ++i) {  // by body: the retry may be back among them
    const std::string b = "m" + std::to_string(i);
    if (b != rejected.body() && b != retried.body()) {
      EXPECT_TRUE(out->settleBody(b, Delivery::accepted())) << b;
    }
  }
  ASSERT_TRUE(out->waitForInFlight(1, 5s));  // the retry's second attempt
  EXPECT_EQ(out->settle(0, Delivery::accepted()).body(), retried.body());
  int delivered = 0;
  int dead = 0;
  for (auto& w : waiters) {
    Outcome o = w->get();
    if (o.status == Outcome::Status::kDelivered) ++delivered;
    if (o.status == Outcome::Status::kDeadLettered) {
      ++dead;
      EXPECT_EQ(o.message.body(), rejected.body());
      EXPECT_NE(o.error.message.find("no such queue"), std::string::npos) << o.error.message;
    }
  }
  EXPECT_EQ(delivered, kCount - 1);
  EXPECT_EQ(dead, 1);
  // A completion is called before its exchange leaves the figures.
  EXPECT_TRUE(statsUntil(engine, [](const Engine::Stats& s) { return s.held_one_way == 0; }));
  auto stats = engine.stats();
  EXPECT_EQ(stats.sending, 0u);
  EXPECT_EQ(stats.retries, 1u);
  EXPECT_EQ(stats.delivered, static_cast<std::uint64_t>(kCount - 1));
}

// A drain waits for what is in flight; what is still there at its end is abandoned, once:
// a late settlement, while the stopped engine lives or after it is gone, changes nothing.
TEST(Engine, ADrainAbandonsWhatAnAsynchronousOutputStillHolds) {
  auto out = std::make_shared<testing::FakeAsyncOutbound>();
  auto route = makeRoute(ExchangePattern::kOneWay, out);
  Counted settled, late, gone;
  {
    Engine engine(EngineSettings{2, 8, 8, 1s});
    engine.start();
    ASSERT_EQ(engine.submitFrom(route, 1, body("a"), 0, settled.completion()),
              Admission::kAccepted);
    ASSERT_EQ(engine.submitFrom(route, 1, body("b"), 0, late.completion()), Admission::kAccepted);
    ASSERT_EQ(engine.submitFrom(route, 1, body("c"), 0, gone.completion()), Admission::kAccepted);
    ASSERT_TRUE(out->waitForInFlight(3, 5s));
    std::thread settler([&] {
      // While the drain waits: it has stopped accepting.
      while (engine.accepting()) std::this_thread::sleep_for(1ms);
      EXPECT_TRUE(out->settleBody("a", Delivery::accepted()));
    });
    EXPECT_EQ(engine.drain(2s), 2u);  // the settler's turn comes well within it
    settler.join();
    EXPECT_EQ(settled.calls.load(), 1);
    EXPECT_EQ(settled.last.load(), Outcome::Status::kDelivered);
    EXPECT_EQ(late.last.load(), Outcome::Status::kAbandoned);
    EXPECT_EQ(gone.last.load(), Outcome::Status::kAbandoned);
    EXPECT_TRUE(out->settleBody("b", Delivery::accepted()));  // drained, not gone
    EXPECT_EQ(late.calls.load(), 1);
    EXPECT_EQ(engine.stats().delivered, 1u);
  }
  EXPECT_TRUE(out->settleBody("c", Delivery::accepted()));  // the engine is gone
  EXPECT_EQ(gone.calls.load(), 1);
}

// With a store: a held message stays journalled; a dead letter moved to another route
// is delivered there and leaves no dead letter in the store.
class EngineWithStore : public ::testing::Test {
 protected:
  void SetUp() override {
    static int n = 0;
    dir_ = std::filesystem::path(LIENTHONG_BINARY_DIR) / "tests" /
           ("engine-store-" + std::to_string(::getpid()) + "-" + std::to_string(++n));
    std::filesystem::create_directories(dir_);
    auto s = openSqliteStore((dir_ / "lienthong.db").string());
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(*s);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(EngineWithStore, AHeldMessageStaysInTheJournal) {
  auto out = std::make_shared<FakeOutbound>();
  auto route = makeRoute(ExchangePattern::kOneWay, out);
  route->steps.push_back(std::make_unique<FnStep>([](Exchange& ex) -> Result<StepOutcome> {
    return ex.message().body() == "held" ? StepOutcome::kHeld : StepOutcome::kContinue;
  }));
  Engine engine(EngineSettings{1, 8, 8, 1s});
  engine.setStore(store_.get());
  engine.start();
  Waiter held, passed;
  ASSERT_EQ(engine.submit(route, 1, body("held"), held.completion()), Admission::kAccepted);
  ASSERT_EQ(engine.submit(route, 1, body("passed"), passed.completion()), Admission::kAccepted);
  EXPECT_EQ(held.get().status, Outcome::Status::kStopped);
  EXPECT_EQ(passed.get().status, Outcome::Status::kDelivered);
  EXPECT_EQ(engine.drain(5s), 0u);
  auto pending = store_->pending();
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].message.body(), "held");
  EXPECT_EQ(engine.stats().delivered, 1u);  // a held message is delivered with its group
}

// Held only in memory, a one-way message is refused while its output says it cannot
// deliver; journalled, it is kept and waits.
TEST_F(EngineWithStore, AnOutputThatIsDownRefusesOnlyWhatMemoryAloneWouldHold) {
  auto out = std::make_shared<FakeOutbound>();
  out->setReady(false);
  auto route = makeRoute(ExchangePattern::kOneWay, out);
  Engine memory(EngineSettings{1, 8, 8, 1s});
  memory.start();
  EXPECT_EQ(memory.submit(route, 1, body("x"), nullptr), Admission::kUnavailable);
  out->setReady(true);
  EXPECT_EQ(memory.submit(route, 1, body("y"), nullptr), Admission::kAccepted);
  EXPECT_EQ(memory.drain(5s), 0u);

  out->setReady(false);
  Engine durable(EngineSettings{1, 8, 8, 1s});
  durable.setStore(store_.get());
  durable.start();
  EXPECT_EQ(durable.submit(route, 1, body("z"), nullptr), Admission::kAccepted);
  EXPECT_TRUE(out->waitForSent(2, 5s));  // y, then z: a stale ready() does not stop a send
  EXPECT_EQ(durable.drain(5s), 0u);
}

TEST_F(EngineWithStore, ADeadLetterMovedToItsRouteLeavesNothingInTheStore) {
  auto out = std::make_shared<FakeOutbound>();
  out->push(Delivery::rejected("HTTP 400 bad dossier"));
  auto route = makeRoute(ExchangePattern::kOneWay, out);
  route->dead_letter_route = "dlq";
  auto dlq_out = std::make_shared<FakeOutbound>();
  auto dlq = makeRoute(ExchangePattern::kOneWay, dlq_out);
  dlq->id = "dlq";
  Engine engine(EngineSettings{1, 8, 8, 1s});
  engine.setStore(store_.get());
  engine.setRouteResolver([dlq](const std::string& id) {
    return std::make_pair(id == "dlq" ? std::shared_ptr<const Route>(dlq) : nullptr,
                          std::uint64_t{1});
  });
  engine.start();
  ASSERT_EQ(engine.submit(route, 1, body("x"), nullptr), Admission::kAccepted);
  ASSERT_TRUE(dlq_out->waitForSent(1, 5s));
  EXPECT_EQ(engine.drain(5s), 0u);
  EXPECT_TRUE(store_->pending()->empty());
  EXPECT_TRUE(store_->deadLetters({})->empty());
}

}  // namespace
}  // namespace lienthong
