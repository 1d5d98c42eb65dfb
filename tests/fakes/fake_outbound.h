#pragma once
// A fake outbound endpoint: records what it was sent and answers with a script.

#include <algorithm>
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

// An asynchronous fake output: it keeps what it was sent, with its `done`, until the
// test settles it (in any order, from the test's thread).
class FakeAsyncOutbound : public OutboundEndpoint {
 public:
  struct InFlight {
    Message message{std::string()};
    SendDone done;
  };
  Delivery send(Exchange&) override {
    return Delivery::retry(Delivery::Failure::kRemote, "send() of an asynchronous output");
  }
  bool asynchronous() const override { return true; }
  void sendAsync(Exchange& exchange, SendDone done) override {
    {
      std::lock_guard lock(mutex_);
      in_flight_.push_back({exchange.message(), std::move(done)});
    }
    cv_.notify_all();
  }
  std::string describe() const override { return "fake-async"; }

  bool waitForInFlight(std::size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return in_flight_.size() >= n; });
  }
  // Settles the one sent `index`-th among those in flight now; returns its message.
  Message settle(std::size_t index, Delivery d) {
    InFlight f;
    {
      std::lock_guard lock(mutex_);
      f = std::move(in_flight_.at(index));
      in_flight_.erase(in_flight_.begin() + static_cast<std::ptrdiff_t>(index));
    }
    f.done(std::move(d));
    return f.message;
  }
  // Settles the one in flight whose body is `body`; false when there is none.
  bool settleBody(const std::string& body, Delivery d) {
    InFlight f;
    {
      std::lock_guard lock(mutex_);
      auto it = std::find_if(in_flight_.begin(), in_flight_.end(),
                             [&](const InFlight& i) { return i.message.body() == body; });
      if (it == in_flight_.end()) return false;
      f = std::move(*it);
      in_flight_.erase(it);
    }
    f.done(std::move(d));
    return true;
  }
  std::size_t inFlight() const {
    std::lock_guard lock(mutex_);
    return in_flight_.size();
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<InFlight> in_flight_;
};

}  // namespace lienthong::testing
