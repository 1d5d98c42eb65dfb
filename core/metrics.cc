#include "core/metrics.h"

#include <cstdio>

namespace lienthong {

void RouteCounters::observe(std::chrono::steady_clock::duration latency) {
  const double seconds = std::chrono::duration<double>(latency).count();
  for (std::size_t i = 0; i < kLatencyBuckets.size(); ++i) {
    if (seconds <= kLatencyBuckets[i]) {
      ++latency_buckets[i];
      break;
    }
  }
  ++latency_count;
  latency_sum += seconds;
}

std::vector<CertificateEntry> certificateInventory(
    const std::map<std::string, std::shared_ptr<const pki::SigningKey>>& keys,
    const std::map<std::string, std::shared_ptr<const pki::TrustStore>>& trust, std::time_t now) {
  std::vector<CertificateEntry> out;
  for (const auto& [name, key] : keys) {
    bool leaf = true;
    for (const auto& cert : key->chain()) {
      out.push_back({"key " + name, leaf ? "signer" : "chain", pki::certFacts(cert.get(), now)});
      leaf = false;
    }
  }
  for (const auto& [name, store] : trust) {
    for (const auto& cert : store->anchors()) {
      out.push_back({"trust " + name, "CA", pki::certFacts(cert.get(), now)});
    }
    for (const auto& cert : store->intermediates()) {
      out.push_back({"trust " + name, "intermediate", pki::certFacts(cert.get(), now)});
    }
    for (const auto& [sender, p] : store->allPinned()) {
      if (p.cert) {
        out.push_back({"trust " + name, "pinned " + sender, pki::certFacts(p.cert.get(), now)});
      }
    }
  }
  return out;
}

namespace {

// A label value: backslash, double quote and newline escaped.
std::string label(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

class Writer {
 public:
  void family(const char* name, const char* type, const char* help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  void sample(const std::string& name, const std::string& labels, double value) {
    out_ += name;
    if (!labels.empty()) out_ += "{" + labels + "}";
    out_ += ' ';
    out_ += number(value);
    out_ += '\n';
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace

std::string prometheusText(const MetricsSnapshot& s) {
  Writer w;
  w.family("lienthong_up", "gauge", "1 while the daemon runs.");
  w.sample("lienthong_up", "", 1);
  w.family("lienthong_uptime_seconds", "gauge", "Seconds since the daemon started.");
  w.sample("lienthong_uptime_seconds", "", s.uptime_seconds);
  w.family("lienthong_route_table_version", "gauge", "The active route table's version.");
  w.sample("lienthong_route_table_version", "", static_cast<double>(s.route_table_version));
  w.family("lienthong_engine_messages", "gauge",
           "Messages in the engine now, by state (queued, running, retrying, one-way held).");
  w.sample("lienthong_engine_messages", "state=\"queued\"", static_cast<double>(s.queued));
  w.sample("lienthong_engine_messages", "state=\"running\"", static_cast<double>(s.running));
  w.sample("lienthong_engine_messages", "state=\"retrying\"", static_cast<double>(s.retrying));
  w.sample("lienthong_engine_messages", "state=\"held_one_way\"",
           static_cast<double>(s.held_one_way));
  if (s.store_configured) {
    w.family("lienthong_store_open", "gauge", "1 when the store is open.");
    w.sample("lienthong_store_open", "", s.store_open ? 1 : 0);
  }

  auto route_label = [](const MetricsSnapshot::Route& r) {
    return "route=\"" + label(r.id) + "\"";
  };
  w.family("lienthong_route_enabled", "gauge",
           "1 for a route of the active table taking messages; 0 for one disabled (by its file "
           "or an operator) or gone with a reload.");
  for (const auto& r : s.routes) {
    w.sample("lienthong_route_enabled", route_label(r) + ",endpoint=\"" + label(r.endpoint) + "\"",
             r.enabled ? 1 : 0);
  }
  struct Counter {
    const char* name;
    const char* help;
    std::uint64_t RouteCounters::*field;
  };
  static const Counter kCounters[] = {
      {"lienthong_messages_in_total", "Messages a route's input handed in and the engine took.",
       &RouteCounters::accepted},
      {"lienthong_messages_refused_total",
       "Messages turned away at the input (engine full, store unavailable).",
       &RouteCounters::refused},
      {"lienthong_messages_delivered_total",
       "Messages settled as delivered (or stopped by a step).", &RouteCounters::delivered},
      {"lienthong_messages_failed_total", "Request-reply messages whose caller got a failure.",
       &RouteCounters::failed},
      {"lienthong_messages_retried_total", "Attempts scheduled again after a transient failure.",
       &RouteCounters::retried},
      {"lienthong_messages_dead_lettered_total", "Messages given up (dead letters).",
       &RouteCounters::dead_lettered},
      {"lienthong_messages_duplicate_total", "Messages dropped by their idempotency key.",
       &RouteCounters::duplicates},
  };
  for (const Counter& c : kCounters) {
    w.family(c.name, "counter", c.help);
    for (const auto& r : s.routes) {
      w.sample(c.name, route_label(r), static_cast<double>(r.counters.*c.field));
    }
  }
  w.family("lienthong_message_duration_seconds", "histogram",
           "From acceptance to settlement, of the messages settled.");
  for (const auto& r : s.routes) {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < kLatencyBuckets.size(); ++i) {
      cumulative += r.counters.latency_buckets[i];
      w.sample("lienthong_message_duration_seconds_bucket",
               route_label(r) + ",le=\"" + number(kLatencyBuckets[i]) + "\"",
               static_cast<double>(cumulative));
    }
    w.sample("lienthong_message_duration_seconds_bucket", route_label(r) + ",le=\"+Inf\"",
             static_cast<double>(r.counters.latency_count));
    w.sample("lienthong_message_duration_seconds_sum", route_label(r), r.counters.latency_sum);
    w.sample("lienthong_message_duration_seconds_count", route_label(r),
             static_cast<double>(r.counters.latency_count));
  }
  bool any_depth = false;
  for (const auto& r : s.routes) any_depth |= r.depth.has_value();
  if (any_depth) {
    w.family("lienthong_journal_depth", "gauge",
             "One-way messages journalled and not yet settled, by route.");
    for (const auto& r : s.routes) {
      if (r.depth)
        w.sample("lienthong_journal_depth", route_label(r), static_cast<double>(*r.depth));
    }
    w.family("lienthong_journal_oldest_age_seconds", "gauge",
             "Age of the oldest journalled message not yet settled (0 when none), by route.");
    for (const auto& r : s.routes) {
      if (r.depth) {
        w.sample("lienthong_journal_oldest_age_seconds", route_label(r),
                 r.oldest_age_seconds.value_or(0));
      }
    }
    w.family("lienthong_dead_letters", "gauge", "Dead letters kept in the store, by route.");
    for (const auto& r : s.routes) {
      if (r.dead_letters) {
        w.sample("lienthong_dead_letters", route_label(r), static_cast<double>(*r.dead_letters));
      }
    }
  }
  w.family("lienthong_circuit_breaker_open", "gauge",
           "1 while the circuit breaker of a peer is open.");
  for (const auto& b : s.breakers) {
    w.sample("lienthong_circuit_breaker_open", "peer=\"" + label(b.peer) + "\"", b.open ? 1 : 0);
  }
  w.family("lienthong_circuit_breaker_failures", "gauge",
           "Consecutive transient failures of a peer.");
  for (const auto& b : s.breakers) {
    w.sample("lienthong_circuit_breaker_failures", "peer=\"" + label(b.peer) + "\"",
             static_cast<double>(b.failures));
  }
  w.family("lienthong_certificate_expiry_days", "gauge",
           "Days until a certificate of the config expires (negative: expired).");
  for (const auto& c : s.certificates) {
    w.sample("lienthong_certificate_expiry_days",
             "where=\"" + label(c.where) + "\",role=\"" + label(c.role) + "\",subject=\"" +
                 label(c.subject) + "\"",
             c.days_left);
  }
  return w.take();
}

}  // namespace lienthong
