#pragma once
// The operator's commands against a running daemon, over its admin API (HTTPS):
// status, routes, enable, disable, reload, metrics, whoami; and admin-token, which makes a token
// and the line of config that admits it.
//
// Where and how to reach the API, first found wins:
//   --url URL        LIENTHONG_ADMIN_URL     else https://<admin.address>:<admin.port>
//                                            of the daemon config (--config)
//   --ca FILE        LIENTHONG_ADMIN_CA      else the certificate the config's admin
//                                            section serves (admin.tls.cert)
//   --token-file F   LIENTHONG_ADMIN_TOKEN   (the token) or LIENTHONG_ADMIN_TOKEN_FILE
//   --cert F --key F LIENTHONG_ADMIN_CERT, LIENTHONG_ADMIN_KEY (a client certificate)

#include <optional>
#include <string>
#include <vector>

namespace lienthong::ctl {

int statusCommand(const std::vector<std::string>& args);
int routesCommand(const std::vector<std::string>& args);
int reloadCommand(const std::vector<std::string>& args);
int metricsCommand(const std::vector<std::string>& args);
// trace KEY: the recent hops of a dossier code, message id or trace id.
int traceCommand(const std::vector<std::string>& args);
int whoamiCommand(const std::vector<std::string>& args);
// enable ROUTE, disable ROUTE: an operator starts or stops a route's input.
int switchRouteCommand(const std::vector<std::string>& args, bool enable);
int adminTokenCommand(const std::vector<std::string>& args);
// dlq list|show|replay|purge against a running daemon: the same options as the offline
// dlq command (dlq_command.h) and the connection's; replay and purge go one dead letter
// at a time, with a progress bar on a terminal.
int dlqApiCommand(const std::vector<std::string>& args);
// certs and stats against a running daemon (the same options as their offline forms).
int certsApiCommand(const std::vector<std::string>& args);
int statsApiCommand(const std::vector<std::string>& args);

// A call on the admin API with the connection options of `args` (--url, --ca, --token-file,
// --cert, --key, --config; nothing else): the body of a 200 answer, else nullopt after
// saying why on stderr as `command`.
std::optional<std::string> adminCall(const std::string& command,
                                     const std::vector<std::string>& args,
                                     const std::string& method, const std::string& path);

// Whether the command line or the environment gives admin credentials or an admin URL:
// the commands that also work offline (dlq, certs, stats) then go through the API.
bool adminGiven(const std::vector<std::string>& args);

}  // namespace lienthong::ctl
