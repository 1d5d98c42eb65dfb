#include "adapters/http/http_factory.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <stdexcept>

#include "adapters/http/http_common.h"
#include "adapters/http/http_inbound.h"
#include "adapters/http/http_listener.h"
#include "adapters/http/http_outbound.h"

namespace lienthong::adapters::http {

namespace {

const std::vector<std::string> kMethods = {"GET",   "HEAD",   "POST",   "PUT",
                                           "PATCH", "DELETE", "OPTIONS"};

std::string upper(std::string s) {
  for (char& c : s) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return s;
}

// RFC 9110 token: the characters of a header name.
bool isToken(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

// A route path: "/exact" or "/prefix/*", printable, without query or fragment.
std::optional<std::string> pathProblem(const std::string& path) {
  if (path.empty() || path.front() != '/') return "path must start with '/'";
  for (std::size_t i = 0; i < path.size(); ++i) {
    const char c = path[i];
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7F) {
      return "path must not contain spaces or control characters";
    }
    if (c == '?' || c == '#') return "path must not contain '?' or '#'";
    if (c == '*' && !(i == path.size() - 1 && i > 0 && path[i - 1] == '/')) {
      return "'*' may only end a path, as in /prefix/*";
    }
  }
  return std::nullopt;
}

// A positive duration, or an error at its value.
std::shared_ptr<Listener> makeListener(const std::string& name, const YAML::Node& node,
                                       BuildContext& ctx) {
  const std::size_t before = ctx.errors().size();
  MapReader r(node, ctx, "http listener");
  if (!r.valid()) return nullptr;
  HttpListenerSettings s;
  if (auto v = r.string("address")) {
    if (v->empty()) {
      ctx.error(*r.node("address"), "'address' must not be empty");
    } else {
      s.address = *v;
    }
  }
  if (auto v = r.integer("port", 0, 65535)) s.port = static_cast<std::uint16_t>(*v);
  if (auto v = r.size("max-body")) s.max_body = *v;
  if (auto v = r.positiveDuration("header-timeout")) s.header_timeout = *v;
  if (auto v = r.positiveDuration("idle-timeout")) s.idle_timeout = *v;
  if (auto v = r.integer("threads", 1, 4096)) s.threads = static_cast<int>(*v);
  const YAML::Node* tls_node = r.node("tls");
  if (tls_node != nullptr) {
    MapReader t(*tls_node, ctx, "http listener tls");
    if (t.valid()) {
      HttpListenerTls tls;
      if (const YAML::Node* n = t.node("cert", true)) {
        tls.cert = ctx.path(*n, PathKind::kFile).value_or("");
      }
      if (const YAML::Node* n = t.node("key", true)) {
        tls.key = ctx.path(*n, PathKind::kFile).value_or("");
      }
      if (const YAML::Node* n = t.node("client-ca")) {
        tls.client_ca = ctx.path(*n, PathKind::kFile).value_or("");
      }
      s.tls = std::move(tls);
    }
    t.finish();
  }
  r.finish();
  if (ctx.errors().size() != before) return nullptr;

  auto listener = HttpListener::create(name, std::move(s));
  if (!listener.ok()) {
    ctx.error(tls_node != nullptr ? *tls_node : node,
              "http listener '" + name + "': " + listener.error().message);
    return nullptr;
  }
  return std::move(listener).value();
}

}  // namespace

std::shared_ptr<Connection> makeHttpConnection(const std::string& name, const YAML::Node& node,
                                               BuildContext& ctx) {
  const std::size_t before = ctx.errors().size();
  MapReader r(node, ctx, "http connection");
  if (!r.valid()) return nullptr;
  HttpConnectionSettings s;
  if (auto v = r.string("url", true)) s.url = *v;
  if (auto v = r.positiveDuration("connect-timeout")) s.connect_timeout = *v;
  if (auto v = r.positiveDuration("read-timeout")) s.read_timeout = *v;
  if (auto v = r.integer("pool", 0, 100'000)) s.pool = static_cast<std::size_t>(*v);
  const YAML::Node* tls_node = r.node("tls");
  if (tls_node != nullptr) {
    MapReader t(*tls_node, ctx, "http connection tls");
    if (t.valid()) {
      if (const YAML::Node* n = t.node("ca-bundle")) {
        s.tls.ca_bundle = ctx.path(*n, PathKind::kFile).value_or("");
      }
      if (auto v = t.boolean("verify")) s.tls.verify = *v;
    }
    t.finish();
  }
  const YAML::Node* oauth2_node = r.node("oauth2");
  if (oauth2_node != nullptr) {
    MapReader o(*oauth2_node, ctx, "http connection oauth2");
    if (o.valid()) {
      HttpOAuth2 oauth2;
      if (auto v = o.string("token-url", true)) oauth2.token_url = *v;
      if (auto v = o.string("client-id", true)) oauth2.client_id = *v;
      if (auto v = o.secret("client-secret")) {
        if (v->empty()) {
          ctx.error(*oauth2_node,
                    "oauth2 needs the client's secret: 'client-secret-file' or "
                    "'client-secret-env'");
        }
        oauth2.client_secret = *v;
      }
      if (auto v = o.string("scope")) oauth2.scope = *v;
      s.oauth2 = std::move(oauth2);
    }
    o.finish();
  }
  r.finish();
  if (ctx.errors().size() != before) return nullptr;

  auto connection = HttpConnection::create(std::move(s));
  if (!connection.ok()) {
    const YAML::Node* url = r.node("url");
    const bool ca = connection.error().message.rfind("cannot load the CA", 0) == 0;
    const bool token = connection.error().message.rfind("oauth2", 0) == 0;
    ctx.error(token && oauth2_node != nullptr ? *oauth2_node
              : ca && tls_node != nullptr     ? *tls_node
                                              : (url != nullptr ? *url : node),
              "http connection '" + name + "': " + connection.error().message);
    return nullptr;
  }
  if (tls_node != nullptr && !connection.value()->https()) {
    ctx.error(*tls_node, "http connection '" + name + "': 'tls' applies to https URLs only");
    return nullptr;
  }
  return std::move(connection).value();
}

namespace {

std::unique_ptr<InboundEndpoint> makeInbound(const YAML::Node& node, BuildContext& ctx) {
  const std::size_t before = ctx.errors().size();
  MapReader r(node, ctx, "http endpoint");
  if (!r.valid()) return nullptr;
  HttpInboundSettings s;
  if (const YAML::Node* n = r.node("listener", true)) {
    if (std::shared_ptr<Listener> l = ctx.listener(*n, "http")) {
      s.listener = std::dynamic_pointer_cast<HttpListener>(l);
      if (!s.listener) ctx.error(*n, "listener '" + n->Scalar() + "' is not an http listener");
    }
  }
  if (auto v = r.string("path", true)) {
    if (auto problem = pathProblem(*v)) {
      ctx.error(*r.node("path"), *problem);
    } else {
      s.path = *v;
    }
  }
  if (auto v = r.stringList("methods")) {
    const YAML::Node& list = *r.node("methods");
    if (v->empty()) ctx.error(list, "'methods' must name at least one method");
    s.methods.clear();
    for (std::size_t i = 0; i < v->size(); ++i) {
      std::string m = upper((*v)[i]);
      if (std::find(kMethods.begin(), kMethods.end(), m) == kMethods.end()) {
        ctx.error(list[i], "unknown method '" + (*v)[i] +
                               "' (known: GET, HEAD, POST, PUT, "
                               "PATCH, DELETE, OPTIONS)");
      } else if (std::find(s.methods.begin(), s.methods.end(), m) == s.methods.end()) {
        s.methods.push_back(std::move(m));
      }
    }
  }
  r.finish();
  if (ctx.errors().size() != before || !s.listener) return nullptr;
  return std::make_unique<HttpInbound>(std::move(s));
}

std::shared_ptr<OutboundEndpoint> makeOutbound(const YAML::Node& node, BuildContext& ctx) {
  const std::size_t before = ctx.errors().size();
  MapReader r(node, ctx, "http endpoint");
  if (!r.valid()) return nullptr;
  HttpOutboundSettings s;
  const bool has_connection = r.has("connection");
  const bool has_url = r.has("url");
  if (has_connection && has_url) {
    ctx.error(*r.node("url"), "give either 'connection' or 'url', not both");
  } else if (!has_connection && !has_url) {
    ctx.error(node, "http endpoint needs 'connection' or 'url'");
  }
  if (const YAML::Node* n = r.node("connection")) {
    if (std::shared_ptr<Connection> c = ctx.connection(*n, "http")) {
      s.connection = std::dynamic_pointer_cast<HttpConnection>(c);
      if (!s.connection) {
        ctx.error(*n, "connection '" + n->Scalar() + "' is not an http connection");
      }
    }
  }
  if (auto url = r.string("url")) {
    HttpConnectionSettings cs;
    cs.url = *url;
    auto c = HttpConnection::create(std::move(cs));
    if (c.ok()) {
      s.connection = std::move(c).value();
    } else {
      ctx.error(*r.node("url"), c.error().message);
    }
  }
  s.path = r.templ("path");
  if (auto v = r.oneOf("method", kMethods)) s.method = *v;
  if (const YAML::Node* h = r.node("headers")) {
    if (!h->IsMap()) {
      ctx.error(*h, "'headers' must be a map of header name -> template");
    } else {
      for (auto it = h->begin(); it != h->end(); ++it) {
        if (!it->first.IsScalar() || !isToken(it->first.Scalar())) {
          ctx.error(it->first, "header names must be plain words (letters, digits, '-')");
          continue;
        }
        if (auto t = ctx.compileTemplate(it->second)) {
          s.headers.emplace_back(it->first.Scalar(), std::move(t));
        }
      }
    }
  }
  if (auto v = r.stringList("forward-headers")) {
    const YAML::Node& list = *r.node("forward-headers");
    for (std::size_t i = 0; i < v->size(); ++i) {
      if (!isToken((*v)[i])) ctx.error(list[i], "header names must be plain words");
    }
    s.forward_headers = std::move(*v);
  }
  r.finish();
  if (ctx.errors().size() != before || !s.connection) return nullptr;
  return std::make_shared<HttpOutbound>(std::move(s));
}

void check(const Result<void>& result) {
  if (!result.ok()) throw std::logic_error("registerHttp: " + result.error().message);
}

}  // namespace

void registerHttp(Registry& registry) {
  initializeSsl();  // std::call_once inside
  check(registry.addListener("http", makeListener));
  check(registry.addConnection("http", makeHttpConnection));
  check(registry.addInbound("http", makeInbound));
  check(registry.addOutbound("http", makeOutbound));
}

}  // namespace lienthong::adapters::http
