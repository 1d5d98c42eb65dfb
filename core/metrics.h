#pragma once
// The daemon's figures for operators, in the Prometheus text format (version 0.0.4): per
// route the messages in and their outcomes and a latency histogram (from the engine), the
// journal's depth and oldest message (from the store), the circuit breakers, and the days
// left to each certificate of the config.

#include <array>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/pki.h"

namespace lienthong {

// The upper bounds of the latency histogram's buckets, in seconds (+Inf is implied).
inline constexpr std::array<double, 14> kLatencyBuckets = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};

// One route's counts since the daemon started (a reload keeps them: they are by route id).
struct RouteCounters {
  std::uint64_t accepted = 0;       // messages its input handed in and the engine took
  std::uint64_t refused = 0;        // turned away (engine full, store unavailable)
  std::uint64_t delivered = 0;      // settled: delivered or stopped by a step
  std::uint64_t failed = 0;         // a request-reply caller got a failure
  std::uint64_t retried = 0;        // attempts scheduled again
  std::uint64_t dead_lettered = 0;  // given up
  std::uint64_t duplicates = 0;     // dropped by their idempotency key
  // From acceptance to settlement, of the messages settled.
  std::array<std::uint64_t, kLatencyBuckets.size()> latency_buckets{};  // not cumulative
  std::uint64_t latency_count = 0;
  double latency_sum = 0;  // seconds

  void observe(std::chrono::steady_clock::duration latency);
};

struct MetricsSnapshot {
  struct Route {
    std::string id;
    std::string endpoint;  // its output's description ("" when none)
    bool enabled = true;
    RouteCounters counters;
    std::optional<std::size_t> depth;          // journalled, not settled (with a store)
    std::optional<double> oldest_age_seconds;  // of the oldest of them
    std::optional<std::size_t> dead_letters;   // kept in the store
  };
  struct Breaker {
    std::string peer;
    bool open = false;
    std::uint32_t failures = 0;
  };
  struct Certificate {
    std::string where;  // "key co-quan-demo", "trust co-quan-demo"
    std::string role;   // signer, chain, CA, intermediate, pinned SENDER
    std::string subject;
    double days_left = 0;  // negative once expired
  };
  std::uint64_t route_table_version = 0;
  double uptime_seconds = 0;
  std::size_t queued = 0;
  std::size_t running = 0;
  std::size_t retrying = 0;
  std::size_t held_one_way = 0;
  bool store_open = false;
  bool store_configured = false;
  std::vector<Route> routes;
  std::vector<Breaker> breakers;
  std::vector<Certificate> certificates;
};

// Every certificate of the config's keys and trust stores: where ("key NAME", "trust
// NAME"), its role (signer, chain, CA, intermediate, pinned SENDER) and its facts at `now`.
struct CertificateEntry {
  std::string where;
  std::string role;
  pki::CertFacts facts;
};
std::vector<CertificateEntry> certificateInventory(
    const std::map<std::string, std::shared_ptr<const pki::SigningKey>>& keys,
    const std::map<std::string, std::shared_ptr<const pki::TrustStore>>& trust, std::time_t now);

// The Prometheus text exposition of a snapshot: lienthong_* families, each with its HELP
// and TYPE lines; label values escaped.
std::string prometheusText(const MetricsSnapshot& snapshot);

}  // namespace lienthong
