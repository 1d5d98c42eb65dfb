#pragma once
// The `amqp` endpoints: a receiver that feeds a one-way route and settles each message
// only once it is kept (journalled) or delivered, and a sender that counts a message as
// delivered only once the broker accepted it.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "adapters/amqp/amqp_connection.h"
#include "lienthong/endpoint.h"
#include "lienthong/template.h"

namespace lienthong::adapters::amqp {

struct AmqpInboundSettings {
  std::shared_ptr<AmqpConnection> connection;
  std::string address;         // "/queue/onestop.status" (RabbitMQ), "onestop.status"
  std::uint32_t credit = 100;  // messages unsettled at most (the broker holds the rest)
  std::size_t max_size = 10 * 1024 * 1024;  // larger bodies are rejected
  std::vector<std::string> content_types;   // accepted content types; empty = any
  // Settle when delivered, not when journalled: the broker keeps the message until its
  // outcome (cluster mode: another node takes it over when this one dies).
  bool settle_on_delivery = false;
};

class AmqpInbound final : public InboundEndpoint {
 public:
  explicit AmqpInbound(AmqpInboundSettings settings);
  ~AmqpInbound() override;

  Result<void> start(InboundContext& context) override;
  void stop() override;
  std::string describe() const override;
  std::string exclusiveKey() const override;
  bool keepsMessages() const override { return s_.settle_on_delivery; }

 private:
  void admitLoop();
  // Why a message is refused before the route sees it, or "".
  std::string refusal(const Message& m) const;

  // Messages admitted that settle by their outcome and have not yet: stop() waits for
  // them. Shared with their completions, which may come after the endpoint is gone.
  struct Outcomes {
    std::mutex mutex;
    std::condition_variable cv;
    std::size_t pending = 0;
    void settled() {
      {
        std::lock_guard lock(mutex);
        --pending;
      }
      cv.notify_all();
    }
  };
  static constexpr std::chrono::seconds kOutcomeWaitAtStop{10};

  AmqpInboundSettings s_;
  std::shared_ptr<Outcomes> outcomes_ = std::make_shared<Outcomes>();
  InboundContext* context_ = nullptr;
  std::uint64_t subscription_ = 0;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Received> queue_;         // taken on the AMQP thread, admitted on admitter_
  std::atomic<bool> stopping_{false};  // written under mutex_ (cv_ waits on it)
  std::thread admitter_;
};

struct AmqpOutboundSettings {
  std::shared_ptr<AmqpConnection> connection;
  std::shared_ptr<const Template> address;
  std::shared_ptr<const Template> group_id;  // null: the route's ordering key, if any
};

class AmqpOutbound final : public OutboundEndpoint {
 public:
  explicit AmqpOutbound(AmqpOutboundSettings settings) : s_(std::move(settings)) {}
  // Engine worker threads, concurrently. Never throws. The engine uses sendAsync():
  // a message waits for the broker's settlement without holding a worker.
  Delivery send(Exchange& exchange) override;
  bool asynchronous() const override { return true; }
  void sendAsync(Exchange& exchange, SendDone done) override;
  std::string describe() const override;
  std::string target(const Exchange& exchange) const override;
  std::string refusal(const Exchange& exchange) const override;
  // The connection: its routes share a circuit breaker.
  std::string peer() const override;
  // Whether the connection is up.
  bool ready() const override;

 private:
  AmqpOutboundSettings s_;
};

}  // namespace lienthong::adapters::amqp
