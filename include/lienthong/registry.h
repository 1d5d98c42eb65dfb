#pragma once
// Registry: name -> factory for steps, endpoints, listeners and connections. Built-ins
// register through the same calls a plugin uses; a duplicate name is an error.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lienthong/config.h"
#include "lienthong/endpoint.h"
#include "lienthong/result.h"
#include "lienthong/step.h"

namespace lienthong {

// Factories parse and validate their YAML, report errors through the context, and return
// nullptr when anything was wrong. They run on the control thread only.
using StepFactory =
    std::function<std::unique_ptr<Step>(const YAML::Node& config, BuildContext& ctx)>;
using InboundFactory =
    std::function<std::unique_ptr<InboundEndpoint>(const YAML::Node& config, BuildContext& ctx)>;
using OutboundFactory =
    std::function<std::shared_ptr<OutboundEndpoint>(const YAML::Node& config, BuildContext& ctx)>;
using ListenerFactory = std::function<std::shared_ptr<Listener>(
    const std::string& name, const YAML::Node& config, BuildContext& ctx)>;
using ConnectionFactory = std::function<std::shared_ptr<Connection>(
    const std::string& name, const YAML::Node& config, BuildContext& ctx)>;

// Not thread-safe: filled at start-up, then only read.
class Registry {
 public:
  Result<void> addStep(std::string name, StepFactory factory);
  Result<void> addInbound(std::string name, InboundFactory factory);
  Result<void> addOutbound(std::string name, OutboundFactory factory);
  Result<void> addListener(std::string kind, ListenerFactory factory);
  Result<void> addConnection(std::string kind, ConnectionFactory factory);

  const StepFactory* step(std::string_view name) const;
  const InboundFactory* inbound(std::string_view name) const;
  const OutboundFactory* outbound(std::string_view name) const;
  const ListenerFactory* listener(std::string_view kind) const;
  const ConnectionFactory* connection(std::string_view kind) const;

  std::vector<std::string> stepNames() const;
  std::vector<std::string> inboundNames() const;
  std::vector<std::string> outboundNames() const;
  std::vector<std::string> listenerKinds() const;
  std::vector<std::string> connectionKinds() const;

 private:
  std::map<std::string, StepFactory, std::less<>> steps_;
  std::map<std::string, InboundFactory, std::less<>> inbound_;
  std::map<std::string, OutboundFactory, std::less<>> outbound_;
  std::map<std::string, ListenerFactory, std::less<>> listeners_;
  std::map<std::string, ConnectionFactory, std::less<>> connections_;
};

}  // namespace lienthong
