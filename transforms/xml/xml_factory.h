#pragma once
#include "lienthong/registry.h"

namespace lienthong::transforms::xml {
// Registers extract, filter, validate and transform.
void registerXmlSteps(Registry& registry);
}  // namespace lienthong::transforms::xml
