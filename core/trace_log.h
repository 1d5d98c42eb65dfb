#pragma once
// The recent hops of messages through the routes, in memory, for `lienthongctl trace`:
// each attempt that failed and will be tried again, and each exchange's end (delivered,
// stopped, failed, dead-lettered, duplicate, abandoned), with the time, the route and
// its version, the attempt and the reason. Bounded: the oldest hops go first. A restart
// forgets them. Thread-safe.

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

namespace lienthong {

struct Hop {
  std::chrono::system_clock::time_point at;
  std::string route;
  std::uint64_t route_version = 0;
  std::string message_id;
  std::string dossier;
  std::string trace_id;
  std::uint32_t attempt = 0;
  std::string outcome;  // retry, delivered, stopped, failed, dead-lettered, duplicate, abandoned
  std::string detail;   // the reason of a failure
};

class TraceLog {
 public:
  explicit TraceLog(std::size_t capacity = 100'000) : capacity_(capacity) {}
  void add(Hop hop);
  // The hops of a dossier code, a message id or a trace id (whichever matches), oldest
  // first.
  std::vector<Hop> find(const std::string& key) const;
  std::size_t size() const;

 private:
  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::deque<Hop> hops_;
};

}  // namespace lienthong
