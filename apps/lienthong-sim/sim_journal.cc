#include "apps/lienthong-sim/sim_journal.h"

#include "apps/lienthong-sim/sim_time.h"
#include "core/json_text.h"

namespace lienthong::sim {

void SimJournal::record(const std::string& direction, const std::string& message,
                        const std::string& code, const std::string& detail, const std::string& at) {
  std::string r = "{\"at\":";
  appendJsonString(r, at.empty() ? stamp() : at);
  r += ",\"system\":";
  appendJsonString(r, system_);
  r += ",\"direction\":";
  appendJsonString(r, direction);
  r += ",\"message\":";
  appendJsonString(r, message);
  r += ",\"MaHoSo\":";
  appendJsonString(r, code);
  r += ",\"detail\":";
  appendJsonString(r, detail);
  std::lock_guard lock(mutex_);
  records_.push_back(r + "}");
}

std::string SimJournal::json() const {
  std::lock_guard lock(mutex_);
  std::string out = "{\"messages\":[";
  for (std::size_t i = 0; i < records_.size(); ++i) out += (i ? "," : "") + records_[i];
  return out + "]}";
}

std::size_t SimJournal::size() const {
  std::lock_guard lock(mutex_);
  return records_.size();
}

}  // namespace lienthong::sim
