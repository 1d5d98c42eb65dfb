#pragma once
// lienthongctl dlq list | show | replay | purge: the dead letters of a stopped daemon's
// store (the store refuses a second process while the daemon runs), or, given admin
// credentials, of a running daemon through its admin API (admin_commands.h).

#include <optional>
#include <string>
#include <vector>

#include "core/store.h"

namespace lienthong::ctl {

// "2026-11-27T10:00:00Z", "2026-11-27", or a duration ago ("2h", "30m", "7d").
std::optional<SystemClock::time_point> parseDlqTime(const std::string& text);

int dlqCommand(const std::vector<std::string>& args);
// lienthongctl store [--config FILE] [--json]: per route, the journal's depth, the age
// of its oldest message and the dead letters.
int storeCommand(const std::vector<std::string>& args);

}  // namespace lienthong::ctl
