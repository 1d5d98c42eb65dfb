#pragma once
// Registers the `file` input and output: parses and checks their YAML settings.

#include <memory>

#include "lienthong/registry.h"

namespace lienthong::adapters::file {

// Registers inbound "file" and outbound "file". Control thread, at start-up; throws
// std::logic_error when a "file" endpoint is already registered.
void registerFile(Registry& registry);

// The factories themselves: report every error through `ctx` (at file:line:col) and
// return nullptr when there was any.
std::unique_ptr<InboundEndpoint> buildFileInbound(const YAML::Node& config, BuildContext& ctx);
std::shared_ptr<OutboundEndpoint> buildFileOutbound(const YAML::Node& config, BuildContext& ctx);

}  // namespace lienthong::adapters::file
