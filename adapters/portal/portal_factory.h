#pragma once
// Registers the portal connection and outbound kinds (the national portal's adapter
// protocol, docs/portal.md).

#include "lienthong/registry.h"

namespace lienthong::adapters::portal {

// Control thread, at start-up. Throws std::logic_error when a name is already taken.
void registerPortal(Registry& registry);

}  // namespace lienthong::adapters::portal
