#pragma once
// lienthongctl dlq list | show | replay | purge: the dead letters of a stopped daemon's
// store (the store refuses a second process while the daemon runs).

#include <string>
#include <vector>

namespace lienthong::ctl {

int dlqCommand(const std::vector<std::string>& args);
// lienthongctl store [--config FILE] [--json]: per route, the journal's depth, the age
// of its oldest message and the dead letters.
int storeCommand(const std::vector<std::string>& args);

}  // namespace lienthong::ctl
