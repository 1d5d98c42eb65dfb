#include "adapters/amqp/amqp_factory.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "adapters/amqp/amqp_connection.h"
#include "adapters/amqp/amqp_endpoints.h"

namespace lienthong::adapters::amqp {

namespace {

std::shared_ptr<Connection> makeConnection(const std::string& name, const YAML::Node& node,
                                           BuildContext& ctx) {
  const std::size_t before = ctx.errors().size();
  MapReader r(node, ctx, "amqp connection");
  if (!r.valid()) return nullptr;
  AmqpConnectionSettings s;
  s.name = name;
  if (r.has("url") && r.has("urls")) {
    r.node("url");  // read: one error for both, not also an unknown key
    ctx.error(*r.node("urls"), "give 'url' or 'urls' (failover, in order), not both");
  } else if (auto u = r.string("url")) {
    s.urls.push_back(*u);
  } else if (auto list = r.stringList("urls")) {
    s.urls = *list;
    if (s.urls.empty()) ctx.error(*r.node("urls"), "'urls' must name at least one URL");
  } else if (!r.has("urls")) {
    ctx.error(node, "amqp connection needs 'url' or 'urls'");
  }
  for (std::size_t i = 0; i < s.urls.size(); ++i) {
    if (std::string why = AmqpConnection::urlProblem(s.urls[i]); !why.empty()) {
      const YAML::Node* at = r.has("url") ? r.node("url") : r.node("urls");
      ctx.error(r.has("url") ? *at : (*at)[i], why);
    }
  }
  if (auto u = r.string("user")) s.user = *u;
  if (auto p = r.secret("password")) s.password = *p;
  if (const YAML::Node* n = r.node("sasl")) {
    MapReader sr(*n, ctx, "sasl");
    if (auto m = sr.stringList("mechanisms")) {
      for (const auto& mech : *m) {
        if (mech != "ANONYMOUS" && mech != "PLAIN" && mech != "EXTERNAL") {
          ctx.error(*sr.node("mechanisms"),
                    "unknown SASL mechanism '" + mech + "' (ANONYMOUS, PLAIN, EXTERNAL)");
        }
        s.sasl_mechanisms += (s.sasl_mechanisms.empty() ? "" : " ") + mech;
      }
    }
    if (auto b = sr.boolean("allow-insecure")) s.sasl_allow_insecure = *b;
    sr.finish();
  }
  const YAML::Node* tls_node = r.node("tls");
  if (tls_node) {
    MapReader t(*tls_node, ctx, "amqp connection tls");
    if (const YAML::Node* n = t.node("ca")) s.tls.ca = ctx.path(*n, PathKind::kFile).value_or("");
    if (const YAML::Node* n = t.node("cert")) {
      s.tls.cert = ctx.path(*n, PathKind::kFile).value_or("");
    }
    if (const YAML::Node* n = t.node("key")) s.tls.key = ctx.path(*n, PathKind::kFile).value_or("");
    if (auto v = t.boolean("verify")) s.tls.verify = *v;
    if (s.tls.cert.empty() != s.tls.key.empty()) {
      ctx.error(*tls_node, "a client certificate needs both 'cert' and 'key'");
    }
    t.finish();
  }
  if (const YAML::Node* n = r.node("reconnect")) {
    MapReader rr(*n, ctx, "reconnect");
    if (auto v = rr.positiveDuration("initial")) s.reconnect_initial = *v;
    if (auto v = rr.positiveDuration("max")) s.reconnect_max = *v;
    rr.finish();
  }
  if (auto v = r.positiveDuration("idle-timeout")) s.idle_timeout = *v;
  r.finish();
  if (ctx.errors().size() != before) return nullptr;
  const bool tls_url = !s.urls.empty() && AmqpConnection::isTls(s.urls.front());
  if (tls_node && !tls_url) {
    ctx.error(*tls_node, "amqp connection '" + name + "': 'tls' applies to amqps:// URLs only");
    return nullptr;
  }
  auto c = AmqpConnection::create(std::move(s));
  if (!c.ok()) {
    ctx.error(node, "amqp connection '" + name + "': " + c.error().message);
    return nullptr;
  }
  return std::move(c).value();
}

std::shared_ptr<AmqpConnection> namedConnection(MapReader& r, BuildContext& ctx) {
  const YAML::Node* n = r.node("connection", true);
  if (!n) return nullptr;
  std::shared_ptr<Connection> c = ctx.connection(*n, "amqp");
  if (!c) return nullptr;
  auto amqp = std::dynamic_pointer_cast<AmqpConnection>(c);
  if (!amqp) ctx.error(*n, "connection '" + n->Scalar() + "' is not an amqp connection");
  return amqp;
}

std::unique_ptr<InboundEndpoint> makeInbound(const YAML::Node& node, BuildContext& ctx) {
  const std::size_t before = ctx.errors().size();
  MapReader r(node, ctx, "amqp endpoint");
  if (!r.valid()) return nullptr;
  AmqpInboundSettings s;
  s.connection = namedConnection(r, ctx);
  if (auto a = r.string("address", true)) {
    if (a->empty()) ctx.error(*r.node("address"), "'address' must not be empty");
    s.address = *a;
  }
  if (auto c = r.integer("credit", 1, 100'000)) s.credit = static_cast<std::uint32_t>(*c);
  if (auto m = r.size("max-size")) s.max_size = static_cast<std::size_t>(*m);
  if (auto t = r.stringList("content-types")) s.content_types = *t;
  if (auto w = r.oneOf("settle", {"journalled", "delivered"})) {
    s.settle_on_delivery = *w == "delivered";
  }
  r.finish();
  if (ctx.pattern() != ExchangePattern::kOneWay) {
    ctx.error(node, "an amqp input feeds one-way routes (a queue has nobody waiting for a reply)");
  }
  if (ctx.errors().size() != before || !s.connection) return nullptr;
  return std::make_unique<AmqpInbound>(std::move(s));
}

std::shared_ptr<OutboundEndpoint> makeOutbound(const YAML::Node& node, BuildContext& ctx) {
  const std::size_t before = ctx.errors().size();
  MapReader r(node, ctx, "amqp endpoint");
  if (!r.valid()) return nullptr;
  AmqpOutboundSettings s;
  s.connection = namedConnection(r, ctx);
  s.address = r.templ("address", true);
  s.group_id = r.templ("group-id");
  r.finish();
  if (ctx.errors().size() != before || !s.connection || !s.address) return nullptr;
  if (!ctx.checkOnly()) s.connection->start();
  return std::make_shared<AmqpOutbound>(std::move(s));
}

void check(const Result<void>& result) {
  if (!result.ok()) throw std::logic_error("registerAmqp: " + result.error().message);
}

}  // namespace

void registerAmqp(Registry& registry) {
  check(registry.addConnection("amqp", makeConnection));
  check(registry.addInbound("amqp", makeInbound));
  check(registry.addOutbound("amqp", makeOutbound));
}

}  // namespace lienthong::adapters::amqp
