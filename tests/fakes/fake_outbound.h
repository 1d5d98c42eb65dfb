#pragma once
// A fake outbound endpoint: records what it was sent and answers with a script.

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

#include "lienthong/endpoint.h"

namespace lienthong::testing {

class FakeOutbound : public OutboundEndpoint {
 public:
  using Script = std::function<Delivery(const Exchange&)>;

  // Answers with the queued deliveries in order, then with `fallback` (accepted).
  void push(Delivery d) {
    std::lock_guard lock(mutex_);
    script_.push_back(std::move(d));
  }
  void setScript(Script s) {
    std::lock_guard lock(mutex_);
    fn_ = std::move(s);
  }

  Delivery send(Exchange& exchange) override {
    Script fn;
    std::optional<Delivery> next;
    {
      std::lock_guard lock(mutex_);
      sent_.push_back(exchange.message());
      if (!script_.empty()) {
        next = std::move(script_.front());
        script_.pop_front();
      }
      fn = fn_;
    }
    cv_.notify_all();
    if (next) return std::move(*next);
    if (fn) return fn(exchange);
    return Delivery::accepted();
  }
  std::string describe() const override { return "fake"; }
  bool ready() const override { return ready_.load(); }
  void setReady(bool ready) { ready_ = ready; }

  std::vector<Message> sent() const {
    std::lock_guard lock(mutex_);
    return sent_;
  }
  bool waitForSent(std::size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return sent_.size() >= n; });
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Delivery> script_;
  Script fn_;
  std::vector<Message> sent_;
  std::atomic<bool> ready_{true};
};

}  // namespace lienthong::testing
