#pragma once
// What a simulator received and sent, for GET /sim/messages and the demo's journey:
//   {"messages":[{"at","system","direction","message","MaHoSo","detail"}, ...]}
// Thread-safe.

#include <mutex>
#include <string>
#include <vector>

namespace lienthong::sim {

class SimJournal {
 public:
  explicit SimJournal(std::string system) : system_(std::move(system)) {}
  // `direction`: "in", "out" or "refused"; `at`: the event's time ("" = now).
  void record(const std::string& direction, const std::string& message, const std::string& code,
              const std::string& detail, const std::string& at = "");
  std::string json() const;
  std::size_t size() const;

 private:
  const std::string system_;
  mutable std::mutex mutex_;
  std::vector<std::string> records_;  // JSON objects
};

}  // namespace lienthong::sim
