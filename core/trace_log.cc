#include "core/trace_log.h"

namespace lienthong {

void TraceLog::add(Hop hop) {
  if (capacity_ == 0) return;
  std::lock_guard lock(mutex_);
  if (hops_.size() >= capacity_) hops_.pop_front();
  hops_.push_back(std::move(hop));
}

std::vector<Hop> TraceLog::find(const std::string& key) const {
  std::vector<Hop> out;
  if (key.empty()) return out;
  std::lock_guard lock(mutex_);
  for (const Hop& h : hops_) {
    if (h.dossier == key || h.message_id == key || h.trace_id == key) out.push_back(h);
  }
  return out;
}

std::size_t TraceLog::size() const {
  std::lock_guard lock(mutex_);
  return hops_.size();
}

}  // namespace lienthong
