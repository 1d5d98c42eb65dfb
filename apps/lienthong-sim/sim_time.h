#pragma once
// The simulators' event times: the national time (yyyyMMddHHmmss, UTC+7) with
// milliseconds, so that a journey's events order within a second.

#include <chrono>
#include <cstdio>
#include <string>

#include "core/dossier_code.h"

namespace lienthong::sim {

inline std::string stamp() {
  const auto t = std::chrono::system_clock::now();
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()) % 1000;
  char frac[8];
  std::snprintf(frac, sizeof frac, ".%03d", static_cast<int>(ms.count()));
  return dossier::nationalTime(t) + frac;
}

}  // namespace lienthong::sim
