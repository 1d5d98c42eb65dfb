#pragma once
// Registers the `onestop` connection and output and the `from-onestop` step.

#include "lienthong/registry.h"

namespace lienthong::adapters::onestop {

// Control thread, at start-up. Throws std::logic_error when a name is already taken.
void registerOnestop(Registry& registry);

}  // namespace lienthong::adapters::onestop
