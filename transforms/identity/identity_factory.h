#pragma once
// Registers the identity steps: `oidc-verify`.

#include "lienthong/registry.h"

namespace lienthong::identity {

// Control thread, at start-up. Throws std::logic_error when a name is already taken.
void registerIdentitySteps(Registry& registry);

}  // namespace lienthong::identity
