#pragma once
// The admin API (docs/operations.md): HTTPS, loopback by default. A caller authenticates
// with a bearer token (the config keeps its SHA-256) or a client certificate issued under
// the configured CA (by its CN); its role — viewer, operator, admin — decides what it may
// do. Answers are JSON, the metrics Prometheus text.
//
//   GET  /v1/health            no credentials: the process answers
//   GET  /v1/ready             no credentials: 200 ready, 503 not (starting, stopping, no store)
//   GET  /v1/whoami            any role: who the credentials are
//   GET  /v1/status            viewer: version, uptime, route table, engine, store
//   GET  /v1/routes            viewer: the active routes with their counts
//   GET  /v1/routes/{id}       viewer: one route
//   GET  /v1/metrics, /metrics viewer: Prometheus text
//   GET  /v1/certs             viewer: the config's certificates and days to expiry
//   GET  /v1/stats             viewer: the dossier figures (?by=agency,procedure,month)
//   POST /v1/reload            operator: the route files again; every error when refused
//                              (?rollback=1: the set the last reload replaced)
//   POST /v1/routes/{id}/disable, /v1/routes/{id}/enable
//                              operator: stop or start a route's input (Daemon::setRouteEnabled)
//   GET  /v1/trace?key=K       viewer: the recent hops of a dossier code, message or trace id
//   GET  /v1/dlq               viewer: dead letters (?route=&reason=&dossier=&since=&until=&limit=)
//   GET  /v1/dlq/{seq}         viewer: one, with its headers and body
//   POST /v1/dlq/{seq}/replay  operator: back through its route (?to=ROUTE: another) now
//   POST /v1/dlq/{seq}/purge   operator: deleted
//   GET  /v1/audit             operator: the audit chains, their heads and last checkpoints
//   GET  /v1/audit/records     operator: a chain's records (?chain=&after=SEQ&limit=N)
//   GET  /v1/audit/checkpoints operator: a chain's signed checkpoints (?chain=)
//   POST /v1/audit/checkpoint  admin: sign the chain's head now
//
// Every refusal (401, 403), every POST and every read of trace, dead letters or the audit
// chain leaves an audit record (core/audit.h).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/loader.h"
#include "lienthong/result.h"

namespace lienthong {
class Daemon;
}

namespace lienthong::admin {

const char* roleName(AdminRole role);

struct Caller {
  std::string name;  // the token's name or the certificate's CN
  AdminRole role = AdminRole::kViewer;
  std::string via;  // "token" or "certificate"
};

// Who a request's credentials are. `authorization` is the header's value ("" when none);
// `client_cn` the verified client certificate's CN, when one was presented. A bearer token
// is looked up by its SHA-256 (compared in constant time); a token that matches no entry
// is refused even when a certificate would do (a wrong credential is never ignored).
class AdminAuth {
 public:
  explicit AdminAuth(const AdminSettings& settings) : settings_(settings) {}
  // nullopt: no credentials at all. An error (Unauthorized): credentials that are wrong.
  Result<std::optional<Caller>> authenticate(const std::string& authorization,
                                             const std::optional<std::string>& client_cn) const;

 private:
  const AdminSettings& settings_;
};

// The lower-case hex SHA-256 of a token, as the config keeps it.
std::string tokenHash(const std::string& token);

class AdminServer {
 public:
  // Loads the TLS certificate and key; an error names what could not be loaded.
  static Result<std::unique_ptr<AdminServer>> create(Daemon& daemon);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Control thread: binds the port and serves; stop() before the daemon stops.
  Result<void> start();
  void stop();
  std::uint16_t port() const;  // bound, once started (useful with port 0)

  struct Impl;  // defined in admin_server.cc only

 private:
  explicit AdminServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lienthong::admin
