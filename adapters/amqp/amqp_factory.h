#pragma once
// Registers the `amqp` connection kind and the `amqp` inbound and outbound endpoints.

#include "lienthong/registry.h"

namespace lienthong::adapters::amqp {

void registerAmqp(Registry& registry);

}  // namespace lienthong::adapters::amqp
