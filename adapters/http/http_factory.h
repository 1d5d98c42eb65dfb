#pragma once
// Registers the http listener, connection, inbound and outbound kinds.

#include "lienthong/registry.h"

namespace lienthong::adapters::http {

// Control thread, at start-up. Also initialises POCO's SSL support (once per process).
// Throws std::logic_error when one of the names is already taken (a programming error).
void registerHttp(Registry& registry);

}  // namespace lienthong::adapters::http
