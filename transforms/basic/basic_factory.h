#pragma once
#include "lienthong/registry.h"

namespace lienthong::transforms::basic {
// Registers log, set-header, remove-header, set-body, choice and to.
void registerBasicSteps(Registry& registry);
}  // namespace lienthong::transforms::basic
