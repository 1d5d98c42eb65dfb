#pragma once
// Registers the http listener, connection, inbound and outbound kinds.

#include "lienthong/registry.h"

namespace lienthong::adapters::http {

// Control thread, at start-up. Also initialises POCO's SSL support (once per process).
// Throws std::logic_error when one of the names is already taken (a programming error).
void registerHttp(Registry& registry);

// An http connection from its settings (url, connect-timeout, read-timeout, pool, tls):
// for kinds built on one (portal). Errors go to `ctx` at their place; nullptr then.
std::shared_ptr<Connection> makeHttpConnection(const std::string& name, const YAML::Node& node,
                                               BuildContext& ctx);

}  // namespace lienthong::adapters::http
