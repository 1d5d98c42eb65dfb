#pragma once
#include "lienthong/registry.h"

namespace lienthong::transforms::json {
// Registers xml-to-json and json-to-xml.
void registerJsonSteps(Registry& registry);
}  // namespace lienthong::transforms::json
