#include "adapters/postal/postal_factory.h"

#include <yaml-cpp/yaml.h>

#include <stdexcept>

#include "adapters/http/http_factory.h"
#include "adapters/postal/postal.h"

namespace lienthong::adapters::postal {
namespace {

const char* const kHttpKeys[] = {"url", "connect-timeout", "read-timeout", "pool", "tls", "oauth2"};

std::shared_ptr<Connection> makeConnection(const std::string& name, const YAML::Node& node,
                                           BuildContext& ctx) {
  const std::size_t before = ctx.errors().size();
  MapReader r(node, ctx, "postal connection");
  if (!r.valid()) return nullptr;
  PostalSettings s;
  s.name = name;
  YAML::Node http(YAML::NodeType::Map);
  for (const char* key : kHttpKeys) {
    if (const YAML::Node* v = r.node(key, std::string_view(key) == "url")) http[key] = *v;
  }
  if (auto v = r.string("customer-code", true)) s.customer_code = *v;
  for (const char* key : {"order-path", "cancel-path"}) {
    if (auto v = r.string(key)) {
      if (v->empty() || v->front() != '/') {
        ctx.error(*r.node(key), std::string("'") + key + "' must start with '/'");
      }
      (std::string_view(key) == "order-path" ? s.order_path : s.cancel_path) = *v;
    }
  }
  if (auto v = r.stringList("retry-codes")) s.retry_codes = *v;
  r.finish();
  if (http["url"]) {
    s.http =
        std::dynamic_pointer_cast<http::HttpConnection>(http::makeHttpConnection(name, http, ctx));
  }
  if (ctx.errors().size() != before || !s.http) return nullptr;
  return std::make_shared<PostalConnection>(std::move(s));
}

std::shared_ptr<OutboundEndpoint> makeOutbound(const YAML::Node& node, BuildContext& ctx) {
  const std::size_t before = ctx.errors().size();
  MapReader r(node, ctx, "postal endpoint");
  if (!r.valid()) return nullptr;
  PostalOutboundSettings s;
  if (const YAML::Node* n = r.node("connection", true)) {
    if (std::shared_ptr<Connection> c = ctx.connection(*n, "postal")) {
      s.connection = std::dynamic_pointer_cast<PostalConnection>(c);
    }
  }
  if (auto v = r.oneOf("service", {"order", "cancel"}, true)) {
    s.service = *v == "order" ? PostalService::kOrder : PostalService::kCancel;
  }
  if (r.has("order-number")) {
    s.order_number = r.templ("order-number");
  } else {
    YAML::Node fallback("${MaHoSo}");
    s.order_number = ctx.compileTemplate(fallback);
  }
  if (const YAML::Node* f = r.node("fields")) {
    if (!f->IsMap() || s.service == PostalService::kCancel) {
      ctx.error(*f, s.service == PostalService::kCancel
                        ? "'fields' is for service: order"
                        : "'fields' maps an order member to a template");
    } else {
      for (auto it = f->begin(); it != f->end(); ++it) {
        const std::string name = it->first.Scalar();
        if (name == "CustomerCode" || name == "OrderNumber") {
          ctx.error(it->first, "'" + name + "' is set by the postal endpoint");
          continue;
        }
        if (auto t = ctx.compileTemplate(it->second)) s.fields.emplace_back(name, t);
      }
    }
  }
  r.finish();
  if (ctx.errors().size() != before || !s.connection || !s.order_number) return nullptr;
  return std::make_shared<PostalOutbound>(std::move(s));
}

// from: { postal: { connection, every, page-size, path, state-dir } }
std::unique_ptr<InboundEndpoint> makeInbound(const YAML::Node& node, BuildContext& ctx) {
  const std::size_t before = ctx.errors().size();
  MapReader r(node, ctx, "postal input");
  if (!r.valid()) return nullptr;
  if (ctx.pattern() != ExchangePattern::kOneWay) {
    ctx.error(node, "a postal input feeds a one-way route (no one waits for its answer)");
  }
  TrackingInboundSettings s;
  if (const YAML::Node* n = r.node("connection", true)) {
    if (std::shared_ptr<Connection> c = ctx.connection(*n, "postal")) {
      s.connection = std::dynamic_pointer_cast<PostalConnection>(c);
    }
  }
  if (auto v = r.positiveDuration("every")) s.every = *v;
  if (auto v = r.integer("page-size", 1, 1000)) s.page_size = static_cast<int>(*v);
  if (auto v = r.string("path")) {
    if (v->empty() || v->front() != '/') ctx.error(*r.node("path"), "'path' must start with '/'");
    s.path = *v;
  }
  std::filesystem::path dir;
  if (const YAML::Node* n = r.node("state-dir", true)) {
    if (auto p = ctx.path(*n, PathKind::kCreateDirectory)) dir = *p;
  }
  r.finish();
  if (ctx.errors().size() != before || !s.connection) return nullptr;
  s.cursor_file = dir / (s.connection->settings().name + "-tracking.cursor");
  return std::make_unique<TrackingInbound>(std::move(s));
}

void check(const Result<void>& result) {
  if (!result.ok()) throw std::logic_error("registerPostal: " + result.error().message);
}

}  // namespace

void registerPostal(Registry& registry) {
  check(registry.addConnection("postal", makeConnection));
  check(registry.addOutbound("postal", makeOutbound));
  check(registry.addInbound("postal", makeInbound));
}

}  // namespace lienthong::adapters::postal
