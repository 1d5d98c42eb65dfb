// The Prometheus text: cumulative histogram buckets from the latencies observed, label
// values escaped, the store's families only with a store, every family with HELP and TYPE.

#include "core/metrics.h"

#include <gtest/gtest.h>

namespace lienthong {
namespace {

using std::chrono::milliseconds;

TEST(Metrics, LatenciesFallInCumulativeBuckets) {
  MetricsSnapshot s;
  MetricsSnapshot::Route r;
  r.id = "dvcqg-hoso";
  r.endpoint = "http POST /x";
  r.counters.accepted = 4;
  r.counters.delivered = 4;
  for (auto d : {milliseconds(3), milliseconds(40), milliseconds(40), milliseconds(7000)}) {
    r.counters.observe(d);
  }
  s.routes.push_back(r);
  s.certificates.push_back({"trust a", "pinned x", "CN=\"Sở\" \\ Tư pháp", -2});
  const std::string text = prometheusText(s);
  for (const char* line : {
           "lienthong_message_duration_seconds_bucket{route=\"dvcqg-hoso\",le=\"0.005\"} 1\n",
           "lienthong_message_duration_seconds_bucket{route=\"dvcqg-hoso\",le=\"0.025\"} 1\n",
           "lienthong_message_duration_seconds_bucket{route=\"dvcqg-hoso\",le=\"0.05\"} 3\n",
           "lienthong_message_duration_seconds_bucket{route=\"dvcqg-hoso\",le=\"5\"} 3\n",
           "lienthong_message_duration_seconds_bucket{route=\"dvcqg-hoso\",le=\"10\"} 4\n",
           "lienthong_message_duration_seconds_bucket{route=\"dvcqg-hoso\",le=\"+Inf\"} 4\n",
           "lienthong_message_duration_seconds_count{route=\"dvcqg-hoso\"} 4\n",
           "lienthong_message_duration_seconds_sum{route=\"dvcqg-hoso\"} 7.083\n",
           "lienthong_messages_in_total{route=\"dvcqg-hoso\"} 4\n",
           "# TYPE lienthong_message_duration_seconds histogram\n",
           "lienthong_certificate_expiry_days{where=\"trust a\",role=\"pinned x\","
           "subject=\"CN=\\\"Sở\\\" \\\\ Tư pháp\"} -2\n",
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
  // No store: no journal families.
  EXPECT_EQ(text.find("lienthong_journal_depth"), std::string::npos);
  // Every sample's family is declared before it.
  std::size_t at = 0;
  while ((at = text.find('\n', at)) != std::string::npos && at + 1 < text.size()) {
    const std::string line = text.substr(at + 1, text.find('\n', at + 1) - at - 1);
    ++at;
    if (line.empty() || line[0] == '#') continue;
    std::string family = line.substr(0, line.find_first_of("{ "));
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (family.ends_with(suffix) && text.find("# TYPE " + family + " ") == std::string::npos) {
        family.resize(family.size() - std::string(suffix).size());
      }
    }
    EXPECT_NE(text.find("# HELP " + family + " "), std::string::npos) << line;
  }
}

}  // namespace
}  // namespace lienthong
