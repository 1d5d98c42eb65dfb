#include "adapters/amqp/amqp_endpoints.h"

#include <algorithm>
#include <future>

#include "core/encoding.h"
#include "lienthong/log.h"

namespace lienthong::adapters::amqp {

using namespace std::chrono_literals;

// ---------------------------------------------------------------------------------------
// AmqpInbound

AmqpInbound::AmqpInbound(AmqpInboundSettings settings) : s_(std::move(settings)) {}

AmqpInbound::~AmqpInbound() { stop(); }

std::string AmqpInbound::describe() const {
  return "amqp " + s_.connection->settings().name + " " + s_.address;
}

std::string AmqpInbound::exclusiveKey() const { return describe(); }

Result<void> AmqpInbound::start(InboundContext& context) {
  {
    std::lock_guard lock(mutex_);
    context_ = &context;
    stopping_ = false;
  }
  admitter_ = std::thread([this] { admitLoop(); });
  subscription_ = s_.connection->subscribe(s_.address, s_.credit, [this](Received r) {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(std::move(r));
    }
    cv_.notify_one();
  });
  return {};
}

void AmqpInbound::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (admitter_.joinable()) admitter_.join();  // nothing is admitted after this
  // Admitted and settled by their outcome: the link stays attached until they are (a
  // reload must not hand them to the broker again while the route still delivers them),
  // for a while at most; one settled later is void, and the broker redelivers it.
  {
    std::unique_lock lock(outcomes_->mutex);
    if (!outcomes_->cv.wait_for(lock, kOutcomeWaitAtStop,
                                [&] { return outcomes_->pending == 0; })) {
      log::warn("amqp", describe() + ": " + std::to_string(outcomes_->pending) +
                            " message(s) still under way at stop go back to the broker");
    }
  }
  if (subscription_ != 0) {
    s_.connection->unsubscribe(subscription_);  // no message is taken after this
    subscription_ = 0;
  }
  // Taken and not admitted: back to the broker, untried.
  for (Received& r : queue_) s_.connection->settle(r.key, Settle::kRelease);
  queue_.clear();
}

std::string AmqpInbound::refusal(const Message& m) const {
  if (m.body().size() > s_.max_size) {
    return "the message is " + std::to_string(m.body().size()) + " bytes; " + describe() +
           " takes at most " + std::to_string(s_.max_size);
  }
  if (!s_.content_types.empty()) {
    std::string type = m.contentType();
    type = type.substr(0, type.find(';'));
    if (std::find(s_.content_types.begin(), s_.content_types.end(), type) ==
        s_.content_types.end()) {
      return "content type '" + m.contentType() + "' is not one " + describe() + " takes";
    }
  }
  return {};
}

void AmqpInbound::admitLoop() {
  std::deque<Received> batch;  // all that came since the last look, taken at once
  for (;;) {
    if (batch.empty()) {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [&] { return stopping_.load() || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping
      batch.swap(queue_);
    }
    Received r = std::move(batch.front());
    batch.pop_front();
    if (stopping_.load()) {  // what is left goes back to the broker, untried
      s_.connection->settle(r.key, Settle::kRelease);
      for (const Received& left : batch) s_.connection->settle(left.key, Settle::kRelease);
      return;
    }
    if (const std::string why = refusal(r.message); !why.empty()) {
      log::warn("amqp", "route " + context_->routeId() + ": rejected message " + r.message.id() +
                            ": " + why);
      s_.connection->settle(r.key, Settle::kReject, why);
      continue;
    }
    // Kept (journalled) when admitted: settled now. Held in memory only: settled by the
    // outcome, so that the broker keeps it until it is delivered.
    const bool journalled = context_->journalled();
    std::shared_ptr<AmqpConnection> connection = s_.connection;
    const std::uint64_t key = r.key;
    Completion done;
    if (!journalled) {
      {
        std::lock_guard lock(outcomes_->mutex);
        ++outcomes_->pending;
      }
      done = [connection, key, outcomes = outcomes_](Outcome&& o) {
        switch (o.status) {
          case Outcome::Status::kDelivered:
          case Outcome::Status::kStopped:
            connection->settle(key, Settle::kAccept);
            break;
          case Outcome::Status::kDeadLettered:
            connection->settle(key, Settle::kReject, o.error.message);
            break;
          case Outcome::Status::kFailed:
            connection->settle(key, Settle::kModify);
            break;
          case Outcome::Status::kAbandoned:
            connection->settle(key, Settle::kRelease);
            break;
        }
        outcomes->settled();
      };
    }
    for (std::chrono::milliseconds pause = 10ms;;
         pause = std::min(pause * 2, std::chrono::milliseconds(1000))) {
      const Admission a = context_->submit(r.message, done);
      if (a == Admission::kAccepted) {
        if (journalled) connection->settle(key, Settle::kAccept);
        break;
      }
      // Full, or no store to keep it: the message waits here, and the broker stops
      // sending once the credit is used up. Stopping: back to the broker.
      std::unique_lock lock(mutex_);
      if (a == Admission::kStopping || stopping_) {
        lock.unlock();
        connection->settle(key, Settle::kRelease);
        if (!journalled) outcomes_->settled();  // its completion will not come
        break;
      }
      cv_.wait_for(lock, pause, [&] { return stopping_.load(); });
    }
  }
}

// ---------------------------------------------------------------------------------------
// AmqpOutbound

std::string AmqpOutbound::describe() const {
  return "amqp " + s_.connection->settings().name + " " + s_.address->source();
}

std::string AmqpOutbound::target(const Exchange& exchange) const {
  return "amqp " + s_.connection->settings().name + " " + s_.address->render(exchange);
}

std::string AmqpOutbound::refusal(const Exchange& exchange) const {
  if (s_.address->render(exchange).empty()) return "the address renders empty";
  return {};
}

std::string AmqpOutbound::peer() const { return s_.connection->describe(); }

bool AmqpOutbound::ready() const { return s_.connection->readyToSend(); }

Delivery AmqpOutbound::send(Exchange& exchange) {
  // The engine uses sendAsync(); this waits for it, for callers that need an answer.
  std::promise<Delivery> result;
  std::future<Delivery> settled = result.get_future();
  sendAsync(exchange, [&result](Delivery d) { result.set_value(std::move(d)); });
  return settled.get();  // the connection answers every send by its deadline or at stop
}

void AmqpOutbound::sendAsync(Exchange& exchange, SendDone done) {
  const std::string address = s_.address->render(exchange);
  if (address.empty()) {
    done(Delivery::rejected(describe() + ": the address '" + s_.address->source() +
                            "' renders empty"));
    return;
  }
  const std::string group = s_.group_id ? s_.group_id->render(exchange) : exchange.orderKey();
  // The trace goes on to the next hop (W3C trace context, as an application property), in
  // place of the one the message came with.
  Message message = exchange.message();
  std::erase_if(message.headers(), [](const auto& h) { return isTraceparent(h.first); });
  if (!exchange.traceId().empty()) {
    message.setHeader("traceparent", traceparentFor(exchange.traceId()));
  }
  s_.connection->sendAsync(address, message, group, exchange.deadline(), std::move(done));
}

}  // namespace lienthong::adapters::amqp
