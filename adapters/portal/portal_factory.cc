#include "adapters/portal/portal_factory.h"

#include <yaml-cpp/yaml.h>

#include <stdexcept>

#include "adapters/http/http_factory.h"
#include "adapters/portal/portal_client.h"
#include "adapters/portal/portal_endpoints.h"
#include "adapters/portal/portal_mapping.h"

namespace lienthong::adapters::portal {
namespace {

// The settings an http connection takes; the portal connection passes them on.
const char* const kHttpKeys[] = {"url", "connect-timeout", "read-timeout", "pool", "tls"};

std::shared_ptr<Connection> makeConnection(const std::string& name, const YAML::Node& node,
                                           BuildContext& ctx) {
  const std::size_t before = ctx.errors().size();
  MapReader r(node, ctx, "portal connection");
  if (!r.valid()) return nullptr;
  PortalSettings s;
  s.name = name;
  YAML::Node http(YAML::NodeType::Map);
  for (const char* key : kHttpKeys) {
    if (const YAML::Node* v = r.node(key, std::string_view(key) == "url")) http[key] = *v;
  }
  if (auto v = r.string("username", true)) s.username = *v;
  if (auto v = r.secret("password")) s.password = *v;
  if (auto v = r.string("dstcode")) s.dstcode = *v;
  if (auto v = r.string("madonvi", true)) s.madonvi = *v;
  for (const char* key : {"auth-path", "call-path"}) {
    if (auto v = r.string(key)) {
      if (!v->empty() && v->front() != '/') {
        ctx.error(*r.node(key), std::string("'") + key + "' must start with '/'");
      }
      (std::string_view(key) == "auth-path" ? s.auth_path : s.call_path) = *v;
    }
  }
  if (auto v = r.stringList("session-error-codes")) s.session_error_codes = *v;
  if (auto v = r.stringList("retry-error-codes")) s.retry_error_codes = *v;
  if (auto v = r.stringList("exists-error-codes")) s.exists_error_codes = *v;
  if (auto v = r.stringList("exists-messages")) s.exists_messages = *v;
  r.finish();
  if (http["url"]) {  // its errors too, all at once
    s.http =
        std::dynamic_pointer_cast<http::HttpConnection>(http::makeHttpConnection(name, http, ctx));
  }
  if (ctx.errors().size() != before || !s.http) return nullptr;
  return std::make_shared<PortalConnection>(std::move(s));
}

std::shared_ptr<OutboundEndpoint> makeOutbound(const YAML::Node& node, BuildContext& ctx) {
  const std::size_t before = ctx.errors().size();
  MapReader r(node, ctx, "portal endpoint");
  if (!r.valid()) return nullptr;
  PortalOutboundSettings s;
  if (const YAML::Node* n = r.node("connection", true)) {
    if (std::shared_ptr<Connection> c = ctx.connection(*n, "portal")) {
      s.connection = std::dynamic_pointer_cast<PortalConnection>(c);
      if (!s.connection) {
        ctx.error(*n, "connection '" + n->Scalar() + "' is not a portal connection");
      }
    }
  }
  if (auto v = r.string("service", true)) {
    if (v->empty()) ctx.error(*r.node("service"), "'service' must name a portal service");
    s.service = *v;
  }
  if (const YAML::Node* p = r.node("params")) {
    if (!p->IsMap()) {
      ctx.error(*p, "'params' must be a map of member name -> template");
    } else {
      for (auto it = p->begin(); it != p->end(); ++it) {
        const std::string name = it->first.Scalar();
        if (name == "session" || name == "madonvi" || name == "service" || name == "isUpdating" ||
            name == "data") {
          ctx.error(it->first, "'" + name + "' is set by the portal endpoint, not by params");
          continue;
        }
        if (auto t = ctx.compileTemplate(it->second)) s.params.emplace_back(name, std::move(t));
      }
    }
  }
  r.finish();
  if (ctx.errors().size() != before || !s.connection) return nullptr;
  return std::make_shared<PortalOutbound>(std::move(s));
}

std::unique_ptr<Step> makeFromPortal(const YAML::Node& node, BuildContext& ctx) {
  if (node.IsNull() || (node.IsMap() && node.size() == 0)) {
    return std::make_unique<FromPortalStep>();
  }
  MapReader r(node, ctx, "from-portal step");
  if (!r.valid()) return nullptr;
  std::string root = "HoSo";
  if (auto v = r.string("message")) {
    if (canonicalNamespace(*v).empty()) {
      ctx.error(*r.node("message"),
                "'message' must be HoSo, TrangThai, YeuCauBoSung, TraLoiBoSung, PhanAnh or "
                "DanhGia, not '" +
                    *v + "'");
      return nullptr;
    }
    root = *v;
  }
  const std::size_t before = ctx.errors().size();
  r.finish();
  if (ctx.errors().size() != before) return nullptr;
  return std::make_unique<FromPortalStep>(root);
}

void check(const Result<void>& result) {
  if (!result.ok()) throw std::logic_error("registerPortal: " + result.error().message);
}

}  // namespace

void registerPortal(Registry& registry) {
  check(registry.addConnection("portal", makeConnection));
  check(registry.addOutbound("portal", makeOutbound));
  check(registry.addStep("from-portal", makeFromPortal));
}

}  // namespace lienthong::adapters::portal
