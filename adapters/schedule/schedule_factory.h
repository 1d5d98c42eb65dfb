#pragma once
// Registers the schedule input kind.

#include "lienthong/registry.h"

namespace lienthong::adapters::schedule {

// Control thread, at start-up. Throws std::logic_error when the name is already taken.
void registerSchedule(Registry& registry);

}  // namespace lienthong::adapters::schedule
