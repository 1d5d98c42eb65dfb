#include "lienthong/registry.h"

namespace lienthong {

namespace {
template <typename Map, typename F>
Result<void> add(Map& map, std::string name, F factory, std::string_view what) {
  if (name.empty() || !factory) {
    return makeError(ErrorCode::kInvalidConfig, std::string(what) + " needs a name and a factory");
  }
  if (map.count(name) != 0) {
    return makeError(ErrorCode::kInvalidConfig,
                     "duplicate " + std::string(what) + " '" + name + "': already registered");
  }
  map.emplace(std::move(name), std::move(factory));
  return {};
}

template <typename Map>
const typename Map::mapped_type* find(const Map& map, std::string_view name) {
  auto it = map.find(name);
  return it == map.end() ? nullptr : &it->second;
}

template <typename Map>
std::vector<std::string> names(const Map& map) {
  std::vector<std::string> out;
  for (const auto& [k, v] : map) out.push_back(k);
  return out;
}
}  // namespace

Result<void> Registry::addStep(std::string name, StepFactory f) {
  return add(steps_, std::move(name), std::move(f), "step");
}
Result<void> Registry::addInbound(std::string name, InboundFactory f) {
  return add(inbound_, std::move(name), std::move(f), "inbound endpoint");
}
Result<void> Registry::addOutbound(std::string name, OutboundFactory f) {
  return add(outbound_, std::move(name), std::move(f), "outbound endpoint");
}
Result<void> Registry::addListener(std::string kind, ListenerFactory f) {
  return add(listeners_, std::move(kind), std::move(f), "listener kind");
}
Result<void> Registry::addConnection(std::string kind, ConnectionFactory f) {
  return add(connections_, std::move(kind), std::move(f), "connection kind");
}

const StepFactory* Registry::step(std::string_view n) const { return find(steps_, n); }
const InboundFactory* Registry::inbound(std::string_view n) const { return find(inbound_, n); }
const OutboundFactory* Registry::outbound(std::string_view n) const { return find(outbound_, n); }
const ListenerFactory* Registry::listener(std::string_view n) const { return find(listeners_, n); }
const ConnectionFactory* Registry::connection(std::string_view n) const {
  return find(connections_, n);
}

std::vector<std::string> Registry::stepNames() const { return names(steps_); }
std::vector<std::string> Registry::inboundNames() const { return names(inbound_); }
std::vector<std::string> Registry::outboundNames() const { return names(outbound_); }
std::vector<std::string> Registry::listenerKinds() const { return names(listeners_); }
std::vector<std::string> Registry::connectionKinds() const { return names(connections_); }

}  // namespace lienthong
