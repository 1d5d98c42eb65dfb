#pragma once
// A fake route for inbound endpoint tests: records submitted messages and answers them
// with a function the test sets (on a separate thread, like the engine would).

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "lienthong/endpoint.h"

namespace lienthong::testing {

class FakeInboundContext : public InboundContext {
 public:
  using Handler = std::function<Outcome(const Message&)>;

  explicit FakeInboundContext(ExchangePattern pattern = ExchangePattern::kRequestReply,
                              std::string route_id = "fake-route")
      : route_id_(std::move(route_id)), pattern_(pattern) {}
  ~FakeInboundContext() override {
    for (auto& t : threads_) t.join();
  }

  // Called for every accepted message; the default delivers the message unchanged.
  void setHandler(Handler handler) {
    std::lock_guard lock(mutex_);
    handler_ = std::move(handler);
  }
  // What submit() answers; kAccepted by default.
  void setAdmission(Admission admission) {
    std::lock_guard lock(mutex_);
    admission_ = admission;
  }
  void setTimeout(std::chrono::milliseconds timeout) { timeout_ = timeout; }

  Admission submit(Message message, Completion done) override {
    Handler handler;
    {
      std::lock_guard lock(mutex_);
      if (admission_ != Admission::kAccepted) return admission_;
      submitted_.push_back(message);
      handler = handler_;
    }
    cv_.notify_all();
    std::lock_guard lock(mutex_);
    threads_.emplace_back([handler, message = std::move(message), done = std::move(done)]() {
      Outcome outcome;
      if (handler) {
        outcome = handler(message);
      } else {
        outcome.status = Outcome::Status::kDelivered;
        outcome.message = message;
      }
      done(std::move(outcome));
    });
    return Admission::kAccepted;
  }

  const std::string& routeId() const override { return route_id_; }
  ExchangePattern pattern() const override { return pattern_; }
  std::chrono::milliseconds timeout() const override { return timeout_; }

  std::vector<Message> submitted() const {
    std::lock_guard lock(mutex_);
    return submitted_;
  }
  // Waits until at least n messages were submitted; false on timeout.
  bool waitForSubmitted(std::size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return submitted_.size() >= n; });
  }

 private:
  std::string route_id_;
  ExchangePattern pattern_;
  std::chrono::milliseconds timeout_{5000};
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  Handler handler_;
  Admission admission_ = Admission::kAccepted;
  std::vector<Message> submitted_;
  std::vector<std::thread> threads_;
};

}  // namespace lienthong::testing
