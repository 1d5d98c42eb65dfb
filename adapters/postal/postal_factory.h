#pragma once
// Registers the `postal` connection and output.

#include "lienthong/registry.h"

namespace lienthong::adapters::postal {

// Control thread, at start-up. Throws std::logic_error when a name is already taken.
void registerPostal(Registry& registry);

}  // namespace lienthong::adapters::postal
