#pragma once
// A compiled route and the immutable table of routes the engine runs.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lienthong/config.h"
#include "lienthong/endpoint.h"
#include "lienthong/step.h"

namespace lienthong {

struct RetryPolicy {
  std::uint32_t attempts = 0;  // total attempts; 0 = unlimited
  bool exponential = true;
  std::chrono::milliseconds initial{1000};
  std::chrono::milliseconds max{300'000};

  // Delay before attempt number `attempt` + 1 (attempt >= 1), with +-20% jitter.
  std::chrono::milliseconds delayAfter(std::uint32_t attempt) const;
};

// Consecutive transient failures of `to`'s peer (refused connection, timeout, 5xx)
// open the breaker: attempts wait `open_for` without counting, then one probe goes; its
// success closes the breaker, its failure opens it again. Routes that reach the same peer
// share one breaker.
struct CircuitBreakerPolicy {
  std::uint32_t failures = 0;  // 0 = no breaker
  std::chrono::milliseconds open_for{30'000};
};

// Immutable after loading, except for starting and stopping its inbound endpoint.
struct Route {
  std::string id;
  std::string description;
  SourceLocation where;  // the route's `id`
  ExchangePattern pattern = ExchangePattern::kOneWay;
  bool enabled = true;
  // Log lines written while its messages run hide personal identifiers (log.h).
  bool redact_logs = true;
  std::chrono::milliseconds timeout{30'000};
  RetryPolicy retry;
  // Idempotent consumer (one-way, with a store): a message whose key was seen within
  // `idempotency_keep` is acknowledged and dropped.
  std::shared_ptr<const Template> idempotency_key;
  std::chrono::milliseconds idempotency_keep{7LL * 24 * 3600 * 1000};
  // One-way: messages with the same rendered key are delivered one at a time, in the
  // order they were accepted; a key's failing head holds back only that key.
  std::shared_ptr<const Template> order_key;
  // Each attempt of `to` waits at most this long (0: the endpoint's own timeouts).
  std::chrono::milliseconds attempt_timeout{0};
  CircuitBreakerPolicy breaker;
  // One-way: where messages go when given up: the store's dead letters (empty) or this
  // one-way route (as accepted, with `deadletter.*` headers saying why).
  std::string dead_letter_route;
  std::unique_ptr<InboundEndpoint> from;
  std::vector<std::unique_ptr<Step>> steps;
  std::shared_ptr<OutboundEndpoint> to;
};

// One version of the whole route set. Shared read-only across threads.
struct RouteTable {
  std::uint64_t version = 0;
  std::vector<std::shared_ptr<Route>> routes;

  std::shared_ptr<Route> find(std::string_view id) const;
};

}  // namespace lienthong
