#include "core/admin/admin_server.h"

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/X509Certificate.h>
#include <Poco/String.h>
#include <Poco/URI.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <istream>
#include <mutex>
#include <set>

#include "adapters/http/http_common.h"
#include "adapters/http/tls.h"
#include "core/daemon.h"
#include "core/dossier_code.h"
#include "core/dossier_stats.h"
#include "core/encoding.h"
#include "core/json_text.h"
#include "lienthong/log.h"

#ifndef LIENTHONG_VERSION
#define LIENTHONG_VERSION "0.0.0"
#endif

namespace lienthong::admin {

const char* roleName(AdminRole role) {
  switch (role) {
    case AdminRole::kViewer:
      return "viewer";
    case AdminRole::kOperator:
      return "operator";
    case AdminRole::kAdmin:
      return "admin";
  }
  return "?";
}

std::string tokenHash(const std::string& token) { return pki::sha256Hex(token); }

Result<std::optional<Caller>> AdminAuth::authenticate(
    const std::string& authorization, const std::optional<std::string>& client_cn) const {
  // A certificate whose CN has no role is refused, even beside a good token.
  std::optional<Caller> by_certificate;
  if (client_cn) {
    auto it = settings_.clients.find(*client_cn);
    if (it == settings_.clients.end()) {
      return Error(ErrorCode::kUnauthorized,
                   "the client certificate's CN '" + *client_cn + "' has no role");
    }
    by_certificate = Caller{*client_cn, it->second, "certificate"};
  }
  if (!authorization.empty()) {
    constexpr std::string_view kBearer = "Bearer ";
    if (authorization.size() <= kBearer.size() ||
        Poco::icompare(authorization.substr(0, kBearer.size()), std::string(kBearer)) != 0) {
      return Error(ErrorCode::kUnauthorized, "the Authorization header is not a bearer token");
    }
    const std::string hash = tokenHash(authorization.substr(kBearer.size()));
    // Every entry compared, in constant time: the answer's time says nothing of the hash.
    const AdminSettings::Token* found = nullptr;
    for (const auto& t : settings_.tokens) {
      if (t.sha256.size() == hash.size() &&
          CRYPTO_memcmp(t.sha256.data(), hash.data(), hash.size()) == 0) {
        found = &t;
      }
    }
    if (!found) return Error(ErrorCode::kUnauthorized, "the bearer token is not known");
    return std::optional<Caller>(Caller{found->name, found->role, "token"});
  }
  return by_certificate;
}

namespace {

struct Answer {
  Answer() = default;
  Answer(int s, std::string b, std::string type = "application/json", std::string why = {})
      : status(s), body(std::move(b)), content_type(std::move(type)), problem(std::move(why)) {}
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::string problem;  // an error's message (for the audit record)
};

Answer error(int status, const std::string& message) {
  std::string body = "{\"error\":";
  appendJsonString(body, message);
  body += ",\"status\":" + std::to_string(status) + "}";
  return {status, body, "application/json", message};
}

void member(std::string& out, const char* name, const std::string& value, bool comma = true) {
  if (comma) out += ',';
  appendJsonString(out, name);
  out += ':';
  appendJsonString(out, value);
}

void number(std::string& out, const char* name, double value, bool comma = true) {
  if (comma) out += ',';
  appendJsonString(out, name);
  char buf[32];
  std::snprintf(buf, sizeof buf, ":%.15g", value);
  out += buf;
}

std::string countersJson(const RouteCounters& c) {
  std::string out = "{";
  number(out, "in", static_cast<double>(c.accepted), false);
  number(out, "refused", static_cast<double>(c.refused));
  number(out, "delivered", static_cast<double>(c.delivered));
  number(out, "failed", static_cast<double>(c.failed));
  number(out, "retried", static_cast<double>(c.retried));
  number(out, "dead_lettered", static_cast<double>(c.dead_lettered));
  number(out, "duplicates", static_cast<double>(c.duplicates));
  number(out, "latency_count", static_cast<double>(c.latency_count));
  number(out, "latency_sum_seconds", c.latency_sum);
  return out + "}";
}

}  // namespace

struct AdminServer::Impl {
  explicit Impl(Daemon& d) : daemon(d), settings(d.config().admin), auth(settings) {}

  Daemon& daemon;
  const AdminSettings& settings;
  AdminAuth auth;
  Poco::Net::Context::Ptr context;
  std::unique_ptr<Poco::Net::HTTPServer> server;
  std::uint16_t port = 0;
  // Requests being handled: stop() waits for them (they use the daemon).
  std::mutex mutex;
  std::condition_variable idle;
  int in_flight = 0;
  bool stopping = false;

  bool enter() {
    std::lock_guard lock(mutex);
    if (stopping) return false;
    ++in_flight;
    return true;
  }
  void leave() {
    std::lock_guard lock(mutex);
    if (--in_flight == 0) idle.notify_all();
  }

  Answer handle(const std::string& method, const Poco::URI& uri, const Caller* caller);
  Answer routesJson(const std::string& id);
  Answer status();
  Answer reload(const Caller& caller, const Poco::URI& uri);
  Answer switchRoute(const std::string& id_and_action, const Caller& caller);
  // seq 0: the list (filtered by the query); else that one, in full.
  Answer deadLetters(const Poco::URI& uri, std::int64_t seq);
  Answer actOnDeadLetter(const std::string& seq_and_action, const Poco::URI& uri,
                         const Caller& caller);
  Answer certs();
  Answer trace(const Poco::URI& uri);
  Answer stats(const Poco::URI& uri);
  Answer auditChains();
  Answer auditRecords(const Poco::URI& uri);
  Answer auditCheckpoints(const Poco::URI& uri);
  Answer auditCheckpoint();
  // The audit record of a request: every refusal, every action (POST) and every read of
  // what names people (trace, dead letters, the audit chain). Status reads, metrics and
  // probes are not recorded (a scraper would fill the chain).
  // `always`: a request refused before it was read (an unreadable path).
  void record(const std::string& method, const std::string& path, const std::string& query,
              const Caller* caller, const std::string& peer, const Answer& answer,
              bool always = false);
};

void AdminServer::Impl::record(const std::string& method, const std::string& path,
                               const std::string& query, const Caller* caller,
                               const std::string& peer, const Answer& answer, bool always) {
  if (!daemon.auditing()) return;
  const bool refused = answer.status == 401 || answer.status == 403;
  const bool reads_people = path.rfind("/v1/trace", 0) == 0 || path.rfind("/v1/dlq", 0) == 0 ||
                            path.rfind("/v1/audit", 0) == 0;
  if (!refused && !always && method != "POST" && !reads_people) return;
  AuditRecord r;
  r.actor = caller ? (caller->via == "token" ? "token:" : "certificate:") + caller->name
                   : std::string("anonymous");
  r.action = method + " " + path;
  r.subject = query;
  const auto table = daemon.routes();
  r.version = table ? table->version : 0;
  r.detail = "HTTP " + std::to_string(answer.status) +
             (answer.problem.empty() ? std::string() : ": " + answer.problem) + " (from " + peer +
             ")";
  // An action's record is written before its answer goes; a read's and a refusal's are
  // queued (a stranger's requests do not wait on the store).
  auto kept = daemon.audit(r, method == "POST" && !refused);
  if (!kept.ok()) {
    log::error("admin", method + " " + path + ": no audit record: " + kept.error().message);
  }
}

namespace {

class Handler final : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Handler(AdminServer::Impl& impl) : impl_(impl) {}

  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    // The body is not used by any endpoint: read and dropped (bounded) so the connection
    // may carry on.
    char sink[4096];
    std::istream& in = request.stream();
    std::size_t dropped = 0;
    while (in.read(sink, sizeof sink) || in.gcount() > 0) {
      dropped += static_cast<std::size_t>(in.gcount());
      if (dropped > (1u << 20)) break;
    }
    std::optional<std::string> cn;
    if (auto* impl = dynamic_cast<Poco::Net::HTTPServerRequestImpl*>(&request)) {
      try {
        Poco::Net::SecureStreamSocket secure(impl->socket());
        if (secure.havePeerCertificate()) cn = secure.peerCertificate().commonName();
      } catch (const Poco::Exception&) {
      }
    }
    const std::string method = request.getMethod();
    const std::string uri = request.getURI();
    const std::string peer = request.clientAddress().toString();
    Answer a;
    Poco::URI parsed;  // read once: the path, the query
    try {
      parsed = Poco::URI(uri);
    } catch (const Poco::Exception& e) {
      a = error(400, "not a request path: " + e.displayText());
      impl_.record(method, uri, "", nullptr, peer, a, true);
      send(response, a);
      return;
    }
    const std::string path = parsed.getPath();
    if (!impl_.enter()) {
      send(response, error(503, "the daemon is stopping"));
      return;
    }
    struct Leave {
      AdminServer::Impl& impl;
      ~Leave() { impl.leave(); }
    } leave{impl_};
    auto who = impl_.auth.authenticate(request.get("Authorization", ""), cn);
    const bool open = method == "GET" && (path == "/v1/health" || path == "/v1/ready");
    if (!who.ok()) {
      a = error(401, who.error().message);
      log::warn("admin", method + " " + path + " from " + peer + ": 401 " + who.error().message);
    } else if (!*who && !open) {
      a = error(401, "credentials needed: a bearer token or a client certificate");
      log::warn("admin", method + " " + path + " from " + peer + ": 401 no credentials");
    } else {
      const Caller* caller = *who ? &**who : nullptr;
      try {
        if (method == "POST" && impl_.daemon.auditing() && !impl_.daemon.storeIfOpen()) {
          // No action that the audit chain could not keep.
          a = error(503,
                    "the store is not open: actions wait until the audit chain can "
                    "record them");
        } else {
          a = impl_.handle(method, parsed, caller);
        }
      } catch (const Poco::Exception& e) {
        a = error(400, "cannot read the request: " + e.displayText());
      } catch (const std::exception& e) {
        a = error(500, std::string("internal error: ") + e.what());
        log::error("admin", method + " " + path + ": " + e.what());
      }
      if (a.status == 403) {
        log::warn("admin", method + " " + path + " by " + caller->name + " (" +
                               roleName(caller->role) + ") from " + peer + ": 403");
      }
    }
    impl_.record(method, path, parsed.getRawQuery(), who.ok() && *who ? &**who : nullptr, peer, a);
    send(response, a);
  }

 private:
  static void send(Poco::Net::HTTPServerResponse& response, const Answer& a) {
    if (a.status == 401) {
      response.set("WWW-Authenticate", "Bearer realm=\"lienthong-admin\"");
    }
    response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(a.status));
    response.setContentType(a.content_type);
    response.set("Cache-Control", "no-store");
    response.setContentLength(static_cast<std::streamsize>(a.body.size()));
    response.send().write(a.body.data(), static_cast<std::streamsize>(a.body.size()));
  }

 private:
  AdminServer::Impl& impl_;
};

// A dead letter's number as a path segment: 1 to 18 digits, not 0; else 0.
std::int64_t seqOf(const std::string& text) {
  if (text.empty() || text.size() > 18 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    return 0;
  }
  return std::stoll(text);
}

class HandlerFactory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit HandlerFactory(AdminServer::Impl& impl) : impl_(impl) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new Handler(impl_);
  }

 private:
  AdminServer::Impl& impl_;
};

}  // namespace

Answer AdminServer::Impl::handle(const std::string& method, const Poco::URI& uri,
                                 const Caller* caller) {
  const std::string path = uri.getPath();
  if (path == "/v1/health") {
    if (method != "GET") return error(405, "GET only");
    return {200, "{\"status\":\"up\"}"};
  }
  if (path == "/v1/ready") {
    if (method != "GET") return error(405, "GET only");
    return daemon.ready() ? Answer{200, "{\"ready\":true}"} : Answer{503, "{\"ready\":false}"};
  }
  // Everything else needs a role: the least one per endpoint.
  struct Endpoint {
    const char* method;
    std::string path;
    bool prefix;
    AdminRole role;
  };
  static const Endpoint kEndpoints[] = {
      {"GET", "/v1/whoami", false, AdminRole::kViewer},
      {"GET", "/v1/status", false, AdminRole::kViewer},
      {"GET", "/v1/routes", false, AdminRole::kViewer},
      {"GET", "/v1/routes/", true, AdminRole::kViewer},
      {"GET", "/v1/metrics", false, AdminRole::kViewer},
      {"GET", "/metrics", false, AdminRole::kViewer},
      {"GET", "/v1/certs", false, AdminRole::kViewer},
      {"GET", "/v1/stats", false, AdminRole::kViewer},
      {"POST", "/v1/reload", false, AdminRole::kOperator},
      {"POST", "/v1/routes/", true, AdminRole::kOperator},  // {id}/enable, {id}/disable
      {"GET", "/v1/trace", false, AdminRole::kViewer},
      {"GET", "/v1/dlq", false, AdminRole::kViewer},
      {"GET", "/v1/dlq/", true, AdminRole::kViewer},     // {seq}
      {"POST", "/v1/dlq/", true, AdminRole::kOperator},  // {seq}/replay, {seq}/purge
      {"GET", "/v1/audit", false, AdminRole::kOperator},
      {"GET", "/v1/audit/records", false, AdminRole::kOperator},
      {"GET", "/v1/audit/checkpoints", false, AdminRole::kOperator},
      {"POST", "/v1/audit/checkpoint", false, AdminRole::kAdmin},
  };
  const Endpoint* found = nullptr;
  bool path_known = false;
  for (const Endpoint& e : kEndpoints) {
    const bool match =
        e.prefix ? path.rfind(e.path, 0) == 0 && path.size() > e.path.size() : path == e.path;
    if (!match) continue;
    path_known = true;
    if (method == e.method) found = &e;
  }
  if (!found)
    return path_known ? error(405, method + " is not allowed on " + path)
                      : error(404, "no such endpoint: " + path);
  if (!caller) return error(401, "credentials needed");
  if (caller->role < found->role) {
    return error(403, std::string("role ") + roleName(caller->role) + " may not " + method + " " +
                          path + " (it needs " + roleName(found->role) + ")");
  }
  if (path == "/v1/whoami") {
    std::string out = "{";
    member(out, "name", caller->name, false);
    member(out, "role", roleName(caller->role));
    member(out, "via", caller->via);
    return {200, out + "}"};
  }
  if (path == "/v1/status") return status();
  if (path == "/v1/routes") return routesJson("");
  if (path == "/v1/trace") return trace(uri);
  if (path == "/v1/dlq") return deadLetters(uri, 0);
  if (found->prefix && path.rfind("/v1/dlq/", 0) == 0) {
    const std::string rest = path.substr(std::string("/v1/dlq/").size());
    if (method == "GET") {
      const std::int64_t seq = seqOf(rest);
      if (seq == 0) return error(404, "GET /v1/dlq/{seq}: no dead letter '" + rest + "'");
      return deadLetters(uri, seq);
    }
    return actOnDeadLetter(rest, uri, *caller);
  }
  if (found->prefix && method == "POST") {
    return switchRoute(path.substr(std::string("/v1/routes/").size()), *caller);
  }
  if (found->prefix) return routesJson(path.substr(std::string("/v1/routes/").size()));
  if (path == "/v1/metrics" || path == "/metrics") {
    return {200, prometheusText(daemon.metrics()), "text/plain; version=0.0.4; charset=utf-8"};
  }
  if (path == "/v1/certs") return certs();
  if (path == "/v1/stats") return stats(uri);
  if (path == "/v1/reload") return reload(*caller, uri);
  if (path == "/v1/audit") return auditChains();
  if (path == "/v1/audit/records") return auditRecords(uri);
  if (path == "/v1/audit/checkpoints") return auditCheckpoints(uri);
  if (path == "/v1/audit/checkpoint") return auditCheckpoint();
  return error(404, "no such endpoint: " + path);
}

Answer AdminServer::Impl::status() {
  const MetricsSnapshot m = daemon.metrics();
  const Engine::Stats e = daemon.engine().stats();
  std::size_t enabled = 0;
  const auto table = daemon.routes();
  if (table) {
    for (const auto& r : table->routes) {
      enabled += r->enabled && !daemon.disabledByOperator(r->id) ? 1 : 0;
    }
  }
  std::string out = "{";
  member(out, "version", LIENTHONG_VERSION, false);
  out += std::string(",\"ready\":") + (daemon.ready() ? "true" : "false");
  number(out, "uptime_seconds", m.uptime_seconds);
  number(out, "route_table_version", static_cast<double>(m.route_table_version));
  number(out, "routes", table ? static_cast<double>(table->routes.size()) : 0);
  number(out, "routes_enabled", static_cast<double>(enabled));
  out += ",\"engine\":{";
  number(out, "queued", static_cast<double>(e.queued), false);
  number(out, "running", static_cast<double>(e.running));
  number(out, "retrying", static_cast<double>(e.retrying));
  number(out, "held_one_way", static_cast<double>(e.held_one_way));
  number(out, "accepted", static_cast<double>(e.accepted));
  number(out, "refused", static_cast<double>(e.refused));
  number(out, "delivered", static_cast<double>(e.delivered));
  number(out, "failed", static_cast<double>(e.failed));
  number(out, "dead_lettered", static_cast<double>(e.dead_lettered));
  number(out, "retries", static_cast<double>(e.retries));
  number(out, "duplicates", static_cast<double>(e.duplicates));
  number(out, "open_breakers", static_cast<double>(e.open_breakers));
  out += "},\"store\":{";
  const StoreSettings& st = daemon.config().store;
  out += std::string("\"configured\":") + (st.configured() ? "true" : "false");
  out += std::string(",\"open\":") + (daemon.storeIfOpen() ? "true" : "false");
  if (st.configured()) {
    member(out, "where", st.path.empty() ? "postgresql " + st.node : st.path);
    std::size_t depth = 0;
    std::size_t dead = 0;
    for (const auto& r : m.routes) {
      depth += r.depth.value_or(0);
      dead += r.dead_letters.value_or(0);
    }
    number(out, "journalled", static_cast<double>(depth));
    number(out, "dead_letters", static_cast<double>(dead));
  }
  out += "}";
  std::size_t expiring = 0;
  for (const auto& c : m.certificates) expiring += c.days_left <= 30 ? 1 : 0;
  number(out, "certificates_expiring_30_days", static_cast<double>(expiring));
  return {200, out + "}"};
}

Answer AdminServer::Impl::routesJson(const std::string& id) {
  const auto table = daemon.routes();
  const auto counters = daemon.engine().routeCounters();
  auto one = [&](const Route& r) {
    std::string out = "{";
    member(out, "id", r.id, false);
    member(out, "description", r.description);
    member(out, "pattern", std::string(patternName(r.pattern)));
    const bool paused = daemon.disabledByOperator(r.id);
    out += std::string(",\"enabled\":") + (r.enabled && !paused ? "true" : "false");
    member(out, "disabled_by", !r.enabled ? "file" : (paused ? "operator" : ""));
    member(out, "from", r.from ? r.from->describe() : "");
    member(out, "to", r.to ? r.to->describe() : "");
    number(out, "steps", static_cast<double>(r.steps.size()));
    member(
        out, "where",
        r.where.file + ":" + std::to_string(r.where.line) + ":" + std::to_string(r.where.column));
    number(out, "version", table ? static_cast<double>(table->version) : 0);
    auto c = counters.find(r.id);
    out += ",\"counters\":" + countersJson(c == counters.end() ? RouteCounters{} : c->second);
    return out + "}";
  };
  if (!id.empty()) {
    const auto route = table ? table->find(id) : nullptr;
    if (!route) return error(404, "no route '" + id + "' in the active table");
    return {200, one(*route)};
  }
  std::string out = "{";
  number(out, "version", table ? static_cast<double>(table->version) : 0, false);
  out += ",\"routes\":[";
  if (table) {
    bool first = true;
    for (const auto& r : table->routes) {
      if (!first) out += ',';
      first = false;
      out += one(*r);
    }
  }
  return {200, out + "]}"};
}

Answer AdminServer::Impl::reload(const Caller& caller, const Poco::URI& uri) {
  bool rollback = false;
  for (const auto& [k, v] : uri.getQueryParameters()) {
    if (k == "rollback" && (v == "1" || v == "true")) {
      rollback = true;
    } else {
      return error(400, "unknown parameter '" + k + "=" + v + "' (rollback=1)");
    }
  }
  const auto before = daemon.routes();
  const std::uint64_t old_version = before ? before->version : 0;
  if (rollback) {
    log::info("admin", "rollback asked by " + caller.name + " (" + roleName(caller.role) + ")");
    auto back = daemon.rollback();
    if (!back.ok()) {
      return error(back.error().transient() ? 503 : 409, back.error().message);
    }
    const auto after = daemon.routes();
    std::string out = "{\"ok\":true";
    number(out, "previous_version", static_cast<double>(old_version));
    number(out, "version", after ? static_cast<double>(after->version) : 0);
    number(out, "rolled_back_to", static_cast<double>(*back));
    return {200, out + ",\"errors\":[]}"};
  }
  log::info("admin", "reload asked by " + caller.name + " (" + roleName(caller.role) + ")");
  ConfigErrors errors;
  const bool ok = daemon.reload(errors);
  const auto after = daemon.routes();
  std::string out = "{";
  out += std::string("\"ok\":") + (ok ? "true" : "false");
  number(out, "previous_version", static_cast<double>(old_version));
  number(out, "version", after ? static_cast<double>(after->version) : 0);
  out += ",\"errors\":[";
  bool first = true;
  for (const auto& e : errors.all()) {
    if (!first) out += ',';
    first = false;
    appendJsonString(out, e.str());
  }
  out += "]}";
  return {ok ? 200 : 422, out};
}

Answer AdminServer::Impl::switchRoute(const std::string& id_and_action, const Caller& caller) {
  const auto slash = id_and_action.rfind('/');
  const std::string action = slash == std::string::npos ? "" : id_and_action.substr(slash + 1);
  if (action != "enable" && action != "disable") {
    return error(404, "POST /v1/routes/{id}/enable or /v1/routes/{id}/disable");
  }
  const std::string id = id_and_action.substr(0, slash);
  log::info("admin", action + " route " + id + " asked by " + caller.name + " (" +
                         roleName(caller.role) + ")");
  auto changed = daemon.setRouteEnabled(id, action == "enable");
  if (!changed.ok() && changed.error().transient()) return error(503, changed.error().message);
  if (!changed.ok()) {
    const auto table = daemon.routes();
    return error(table && table->find(id) ? 409 : 404, changed.error().message);
  }
  std::string out = "{";
  member(out, "route", id, false);
  out += std::string(",\"enabled\":") + (action == "enable" ? "true" : "false");
  out += std::string(",\"changed\":") + (*changed ? "true" : "false");
  return {200, out + "}"};
}

namespace {

std::optional<SystemClock::time_point> parseUtc(const std::string& text) {
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (!end || *end) return std::nullopt;
  return SystemClock::from_time_t(timegm(&tm));
}

bool validUtf8(const std::string& s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t n = c < 0x80         ? 1
                          : (c >> 5) == 6  ? 2
                          : (c >> 4) == 14 ? 3
                          : (c >> 3) == 30 ? 4
                                           : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    }
    i += n;
  }
  return true;
}

}  // namespace

Answer AdminServer::Impl::deadLetters(const Poco::URI& uri, std::int64_t seq) {
  if (!daemon.config().store.configured()) {
    return error(409, "the daemon has no store: dead letters are only logged");
  }
  Store* store = daemon.storeIfOpen();
  if (!store) return error(503, "the store is not open");
  DeadLetterFilter f;
  f.seq = seq;
  for (const auto& [k, v] : uri.getQueryParameters()) {
    if (k == "route") {
      f.route = v;
    } else if (k == "reason") {
      f.reason = v;
    } else if (k == "dossier") {
      f.dossier_key = v;
    } else if (k == "since" || k == "until") {
      auto t = parseUtc(v);
      if (!t) return error(400, k + " takes 2026-11-27T10:00:00Z");
      (k == "since" ? f.since : f.until) = *t;
    } else if (k == "limit") {
      if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos || v.size() > 7) {
        return error(400, "limit takes a number up to 9999999");
      }
      f.limit = static_cast<std::size_t>(std::stoul(v));
    } else {
      return error(400,
                   "unknown parameter '" + k + "' (route, reason, dossier, since, until, limit)");
    }
  }
  auto letters = store->deadLetters(f);
  if (!letters.ok()) return error(503, letters.error().message);
  if (seq != 0 && letters->empty()) {
    return error(404, "no dead letter " + std::to_string(seq));
  }
  auto one = [&](const DeadLetter& d, bool full) {
    std::string out = "{";
    number(out, "seq", static_cast<double>(d.seq), false);
    member(out, "route", d.route);
    member(out, "dossier", d.message.dossierKey());
    member(out, "message_id", d.message.id());
    member(out, "accepted", utcText(d.accepted));
    member(out, "dead", utcText(d.dead));
    member(out, "reason", d.reason);
    if (full) {
      member(out, "correlation_id", d.message.correlationId());
      member(out, "content_type", d.message.contentType());
      out += ",\"headers\":{";
      bool first = true;
      for (const auto& [name, value] : d.message.headers()) {
        if (!first) out += ',';
        first = false;
        appendJsonString(out, name);
        out += ':';
        appendJsonString(out, value);
      }
      out += '}';
      if (validUtf8(d.message.body())) {
        member(out, "body", d.message.body());
      } else {
        member(out, "body_base64", base64Encode(d.message.body()));
      }
    }
    return out + "}";
  };
  if (seq != 0) return {200, one(letters->front(), true)};
  std::string out = "{\"dead_letters\":[";
  for (std::size_t i = 0; i < letters->size(); ++i) {
    if (i) out += ',';
    out += one((*letters)[i], false);
  }
  out += "]";
  number(out, "count", static_cast<double>(letters->size()));
  return {200, out + "}"};
}

Answer AdminServer::Impl::actOnDeadLetter(const std::string& seq_and_action, const Poco::URI& uri,
                                          const Caller& caller) {
  const auto slash = seq_and_action.find('/');
  const std::int64_t seq = seqOf(seq_and_action.substr(0, slash));
  const std::string action = slash == std::string::npos ? "" : seq_and_action.substr(slash + 1);
  if (seq == 0 || (action != "replay" && action != "purge")) {
    return error(404, "POST /v1/dlq/{seq}/replay or /v1/dlq/{seq}/purge");
  }
  std::string to;
  for (const auto& [k, v] : uri.getQueryParameters()) {
    if (k == "to" && action == "replay") {
      to = v;
    } else {
      return error(400, "unknown parameter '" + k + "'" +
                            (action == "replay" ? " (to)" : " (purge takes none)"));
    }
  }
  if (!daemon.config().store.configured()) return error(409, "the daemon has no store");
  Store* store = daemon.storeIfOpen();
  if (!store) return error(503, "the store is not open");
  DeadLetterFilter f;
  f.seq = seq;
  auto found = store->deadLetters(f);
  if (!found.ok()) return error(503, found.error().message);
  if (found->empty()) return error(404, "no dead letter " + std::to_string(seq));
  const std::string who = caller.name + " (admin API, " + caller.via + ")";
  std::string out = "{";
  number(out, "seq", static_cast<double>(seq), false);
  if (action == "purge") {
    if (auto gone = store->purge(seq, who); !gone.ok()) {
      // Purged by someone else meanwhile: not there any more.
      auto still = store->deadLetters(f);
      return still.ok() && still->empty() ? error(404, "no dead letter " + std::to_string(seq))
                                          : error(503, gone.error().message);
    }
    log::info("admin", "dead letter " + std::to_string(seq) + " purged by " + who);
    out += ",\"purged\":true";
    return {200, out + "}"};
  }
  auto back = daemon.replayDeadLetter(seq, to.empty() ? found->front().route : to, who);
  if (!back.ok()) {
    return error(back.error().code == ErrorCode::kInvalidConfig ? 409 : 503, back.error().message);
  }
  member(out, "route", to.empty() ? found->front().route : to);
  number(out, "journal_seq", static_cast<double>(*back));
  return {200, out + "}"};
}

Answer AdminServer::Impl::trace(const Poco::URI& uri) {
  std::string key;
  for (const auto& [k, v] : uri.getQueryParameters()) {
    if (k == "key" || k == "dossier" || k == "message" || k == "trace") {
      key = v;
    } else {
      return error(400, "unknown parameter '" + k +
                            "' (key: a dossier code, message id or "
                            "trace id)");
    }
  }
  if (key.empty()) return error(400, "give key= (a dossier code, a message id or a trace id)");
  auto hops = daemon.engine().traces().find(key);
  // The audit chain keeps the ends of exchanges from before the last start (and those the
  // memory let go): merged in, each once.
  std::vector<bool> kept(hops.size(), false);
  if (Store* store = daemon.auditing() ? daemon.storeIfOpen() : nullptr) {
    auto records = store->auditFind(key, 1000);
    if (records.ok()) {
      const std::size_t in_memory = hops.size();
      for (const AuditRecord& r : *records) {
        if (r.actor.rfind("route:", 0) != 0) continue;
        Hop hop{fromEpochMs(r.at_ms),
                r.actor.substr(6),
                r.version,
                r.message_id,
                r.subject,
                r.trace_id,
                0,
                r.action,
                r.action == "delivered" ? std::string() : r.detail};
        bool seen = false;
        for (std::size_t i = 0; i < in_memory && !seen; ++i) {
          const Hop& h = hops[i];
          seen = h.message_id == hop.message_id && h.route == hop.route &&
                 h.outcome == hop.outcome && h.at - hop.at < std::chrono::seconds(2) &&
                 hop.at - h.at < std::chrono::seconds(2);
        }
        if (seen) continue;
        hops.push_back(std::move(hop));
        kept.push_back(true);
      }
      std::vector<std::size_t> order(hops.size());
      for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
      std::stable_sort(order.begin(), order.end(),
                       [&](std::size_t a, std::size_t b) { return hops[a].at < hops[b].at; });
      std::vector<Hop> sorted;
      std::vector<bool> sorted_kept;
      for (std::size_t i : order) {
        sorted.push_back(std::move(hops[i]));
        sorted_kept.push_back(kept[i]);
      }
      hops = std::move(sorted);
      kept = std::move(sorted_kept);
    } else {
      log::warn("admin",
                "trace " + key + ": the audit chain cannot be read: " + records.error().message);
    }
  }
  std::string out = "{";
  member(out, "key", key, false);
  out += ",\"hops\":[";
  for (std::size_t i = 0; i < hops.size(); ++i) {
    const Hop& h = hops[i];
    if (i) out += ',';
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(h.at.time_since_epoch()).count() %
        1000;
    char frac[8];
    std::snprintf(frac, sizeof frac, ".%03d", static_cast<int>(ms));
    std::string at = utcText(h.at);
    at.insert(at.size() - 1, frac);
    out += '{';
    member(out, "at", at, false);
    member(out, "route", h.route);
    number(out, "route_version", static_cast<double>(h.route_version));
    member(out, "message_id", h.message_id);
    member(out, "dossier", h.dossier);
    member(out, "trace_id", h.trace_id);
    number(out, "attempt", static_cast<double>(h.attempt));
    member(out, "outcome", h.outcome);
    member(out, "detail", h.detail);
    member(out, "from", kept[i] ? "audit" : "memory");
    out += '}';
  }
  out += "]";
  number(out, "count", static_cast<double>(hops.size()));
  return {200, out + "}"};
}

Answer AdminServer::Impl::certs() {
  std::string out = "{\"certificates\":[";
  bool first = true;
  for (const auto& c :
       certificateInventory(daemon.config().keys, daemon.config().trust, std::time(nullptr))) {
    if (!first) out += ',';
    first = false;
    out += '{';
    member(out, "where", c.where, false);
    member(out, "role", c.role);
    member(out, "subject", c.facts.subject);
    member(out, "issuer", c.facts.issuer);
    member(out, "serial", c.facts.serial);
    member(out, "not_before", c.facts.not_before);
    member(out, "not_after", c.facts.not_after);
    number(out, "days_left", static_cast<double>(c.facts.days_left));
    member(out, "key", c.facts.key.text);
    out += '}';
  }
  return {200, out + "]}"};
}

namespace {

// The open store of an auditing daemon, or the answer that says why there is none.
Store* auditStore(Daemon& daemon, Answer& why) {
  if (!daemon.auditing()) {
    why = error(404, "the daemon keeps no audit chain (audit.enabled, with a store)");
    return nullptr;
  }
  Store* store = daemon.storeIfOpen();
  if (!store) why = error(503, "the store is not open");
  return store;
}

}  // namespace

Answer AdminServer::Impl::auditChains() {
  Answer why;
  Store* store = auditStore(daemon, why);
  if (!store) return why;
  auto chains = store->auditChains();
  if (!chains.ok()) return error(503, chains.error().message);
  std::string out = "{";
  member(out, "own", store->auditChain(), false);
  out += ",\"signed\":";
  out += daemon.config().audit.key ? "true" : "false";
  out += ",\"chains\":[";
  bool first = true;
  for (const std::string& chain : *chains) {
    auto head = store->auditHead(chain);
    auto cps = store->auditCheckpoints(chain);
    if (!head.ok() || !cps.ok()) return error(503, "the store cannot be read");
    if (!first) out += ',';
    first = false;
    out += '{';
    member(out, "chain", chain, false);
    number(out, "head", static_cast<double>(head->first));
    member(out, "head_hash", head->second);
    number(out, "checkpoints", static_cast<double>(cps->size()));
    number(out, "last_checkpoint", cps->empty() ? 0.0 : static_cast<double>(cps->back().seq));
    member(out, "last_checkpoint_at", cps->empty() ? "" : utcText(fromEpochMs(cps->back().at_ms)));
    out += '}';
  }
  return {200, out + "]}"};
}

Answer AdminServer::Impl::auditRecords(const Poco::URI& uri) {
  Answer why;
  Store* store = auditStore(daemon, why);
  if (!store) return why;
  std::string chain = store->auditChain();
  std::int64_t after = 0;
  std::int64_t limit = 1000;
  for (const auto& [k, v] : uri.getQueryParameters()) {
    if (k == "chain") {
      chain = v;
    } else if (k == "after" || k == "limit") {
      const bool digits =
          !v.empty() && v.size() <= 18 && v.find_first_not_of("0123456789") == std::string::npos;
      if (!digits) return error(400, k + " must be a whole number");
      (k == "after" ? after : limit) = std::stoll(v);
    } else {
      return error(400, "unknown parameter '" + k + "' (chain, after, limit)");
    }
  }
  limit = std::clamp<std::int64_t>(limit, 1, 10000);
  auto records = store->auditRecords(chain, after, static_cast<std::size_t>(limit));
  if (!records.ok()) return error(503, records.error().message);
  std::string out = "{";
  member(out, "chain", chain, false);
  out += ",\"records\":[";
  for (std::size_t i = 0; i < records->size(); ++i) {
    if (i) out += ',';
    appendAuditJson(out, (*records)[i]);
  }
  out += "]";
  // Where the next page starts; absent on the last page.
  if (static_cast<std::int64_t>(records->size()) == limit) {
    number(out, "next_after", static_cast<double>(records->back().seq));
  }
  return {200, out + "}"};
}

Answer AdminServer::Impl::auditCheckpoints(const Poco::URI& uri) {
  Answer why;
  Store* store = auditStore(daemon, why);
  if (!store) return why;
  std::string chain = store->auditChain();
  for (const auto& [k, v] : uri.getQueryParameters()) {
    if (k != "chain") return error(400, "unknown parameter '" + k + "' (chain)");
    chain = v;
  }
  auto cps = store->auditCheckpoints(chain);
  auto certs = cps.ok() ? store->auditCerts() : Result<AuditCerts>(cps.error());
  if (!certs.ok()) return error(503, certs.error().message);
  std::string out = "{";
  member(out, "chain", chain, false);
  out += ",\"checkpoints\":[";
  std::set<std::string> named;
  for (std::size_t i = 0; i < cps->size(); ++i) {
    if (i) out += ',';
    appendAuditJson(out, (*cps)[i]);
    named.insert((*cps)[i].cert_sha256);
  }
  // Each signer's certificate once, by its SHA-256.
  out += "],\"certs\":{";
  bool first = true;
  for (const auto& [sha256, pem] : *certs) {
    if (named.count(sha256) == 0) continue;
    if (!first) out += ',';
    first = false;
    appendJsonString(out, sha256);
    out += ':';
    appendJsonString(out, pem);
  }
  return {200, out + "}}"};
}

Answer AdminServer::Impl::auditCheckpoint() {
  auto cp = daemon.checkpointAudit();
  if (!cp.ok()) {
    return error(cp.error().code == ErrorCode::kTransient ? 503 : 409, cp.error().message);
  }
  std::string out = "{\"checkpoint\":";
  if (*cp) {
    appendAuditJson(out, **cp);
  } else {
    out += "null";
  }
  return {200, out + "}"};
}

Answer AdminServer::Impl::stats(const Poco::URI& uri) {
  std::string by_text;
  std::string now;
  bool csv = false;
  for (const auto& [k, v] : uri.getQueryParameters()) {
    if (k == "by") {
      by_text = v;
    } else if (k == "now") {
      now = v;
    } else if (k == "format" && (v == "json" || v == "csv")) {
      csv = v == "csv";
    } else {
      return error(400, "unknown parameter '" + k + "=" + v + "' (by, now, format=json|csv)");
    }
  }
  auto by = dossier::parseGroupBy(by_text.empty() ? "agency" : by_text);
  if (!by.ok()) return error(400, by.error().message);
  if (now.empty()) {
    now = dossier::nationalTime(std::chrono::system_clock::now());
  } else if (!dossier::isNationalTime(now)) {
    return error(400, "now takes yyyyMMddHHmmss");
  }
  if (!daemon.config().store.configured()) {
    return error(409, "the daemon has no store: no dossier is kept");
  }
  Store* store = daemon.storeIfOpen();
  if (!store) return error(503, "the store is not open");
  auto states = store->dossierStates();
  if (!states.ok()) return error(503, states.error().message);
  const dossier::Stats figures = dossier::computeStats(*states, *by, now);
  if (csv) return {200, dossier::statsCsv(figures), "text/csv; charset=utf-8"};
  return {200, dossier::statsJson(figures)};
}

AdminServer::AdminServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AdminServer::~AdminServer() { stop(); }

Result<std::unique_ptr<AdminServer>> AdminServer::create(Daemon& daemon) {
  auto impl = std::make_unique<Impl>(daemon);
  const AdminSettings& s = impl->settings;
  try {
    // A client certificate is asked for and verified when one is presented; a caller may
    // use a token instead.
    impl->context = adapters::http::serverTlsContext(s.cert, s.key, s.client_ca,
                                                     /*require_client_cert=*/false);
  } catch (const Poco::Exception& e) {
    return Error(ErrorCode::kInvalidConfig,
                 "admin: cannot load the TLS certificate or key: " + e.displayText());
  }
  return std::unique_ptr<AdminServer>(new AdminServer(std::move(impl)));
}

Result<void> AdminServer::start() {
  if (impl_->server) return {};
  const AdminSettings& s = impl_->settings;
  try {
    Poco::Net::SecureServerSocket socket(impl_->context);
    socket.bind(Poco::Net::SocketAddress(s.address, s.port), true, false);
    socket.listen(64);
    impl_->port = socket.address().port();
    Poco::Net::HTTPServerParams::Ptr params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(s.threads);
    params->setKeepAlive(true);
    params->setTimeout(Poco::Timespan(10, 0));
    impl_->server =
        std::make_unique<Poco::Net::HTTPServer>(new HandlerFactory(*impl_), socket, params);
    impl_->server->start();
  } catch (const Poco::Exception& e) {
    impl_->server.reset();
    return Error(ErrorCode::kInvalidConfig, "admin: cannot listen on " + s.address + ":" +
                                                std::to_string(s.port) + ": " + e.displayText());
  }
  log::info("admin", "admin API on https://" + s.address + ":" + std::to_string(impl_->port) +
                         " (" + std::to_string(s.tokens.size()) + " token(s), " +
                         std::to_string(s.clients.size()) + " client certificate(s))");
  return {};
}

void AdminServer::stop() {
  if (!impl_ || !impl_->server) return;
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;  // new requests are answered 503
  }
  // Requests under way finish (they use the daemon, which stops after this).
  impl_->server->stopAll(false);
  std::unique_lock lock(impl_->mutex);
  if (!impl_->idle.wait_for(lock, std::chrono::seconds(60),
                            [&] { return impl_->in_flight == 0; })) {
    log::error("admin", std::to_string(impl_->in_flight) +
                            " admin request(s) still under way after 60 s at stop");
  }
  lock.unlock();
  impl_->server.reset();
}

std::uint16_t AdminServer::port() const { return impl_->port; }

}  // namespace lienthong::admin
