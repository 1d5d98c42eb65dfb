#pragma once

namespace lienthong {
class Registry;
}

namespace lienthong::transforms::xmldsig {

// Registers the steps `sign` and `verify`.
void registerXmlDsigSteps(Registry& registry);

}  // namespace lienthong::transforms::xmldsig
