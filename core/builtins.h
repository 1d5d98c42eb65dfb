#pragma once
#include "lienthong/registry.h"

namespace lienthong {
// Registers every built-in step, endpoint, listener and connection kind, through the same
// Registry calls a plugin uses.
void registerBuiltins(Registry& registry);
}  // namespace lienthong
