// lienthongctl: the integrator's and operator's command line.

#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "apps/lienthongctl/admin_commands.h"
#include "apps/lienthongctl/audit_command.h"
#include "apps/lienthongctl/ctl_config.h"
#include "apps/lienthongctl/dlq_command.h"
#include "apps/lienthongctl/dossier_command.h"
#include "apps/lienthongctl/pki_commands.h"
#include "apps/lienthongctl/route_tests.h"
#include "core/builtins.h"
#include "core/loader.h"
#include "core/plugins.h"
#include "core/xpath.h"
#include "lienthong/log.h"

namespace {

constexpr const char* kUsage = R"(Usage: lienthongctl COMMAND [OPTIONS]

Commands:
  lint [--config FILE | --no-config] [PATH...]
      Checks route files (a directory means every *.yaml in it but *_test.yaml) and
      prints every error as file:line:col: message. Listener and connection names are
      checked against the daemon config: --config FILE, or config/lienthong.yaml when it
      exists in the current directory. Without PATH, the config's own routes are
      checked. Exit status: 0 valid, 1 errors found, 2 wrong usage.
  test [--config FILE | --no-config] [--verbose] [PATH...]
      Runs the route tests: every *_test.yaml under the PATHs (files or directories,
      searched recursively; without PATH, the config's route folders). Offline: the
      routes' outbound endpoints are replaced by fakes that record what they are sent
      and answer with the test's canned replies; no input is opened. Prints one line
      per failure as file:line:col: test: what, then "N passed, M failed". Logs are
      off unless --verbose. Exit status: 0 all passed, 1 a test failed, 2 wrong usage.
  sign --key NAME [--mode enveloped|enveloping|detached] [--id ID]
       [--algorithm ALG] [--digest sha256|sha384|sha512] [--out FILE] [--config FILE] FILE
      Signs an XML file with a key of the daemon config (same code as the sign step)
      and writes the signed document to stdout or FILE. Exit 1 when the key cannot sign
      (expired certificate, key too small) or the file is not safe XML.
  verify --trust NAME [--sender NAME] [--signatures N] [--signed XPATH]
         [--ns PREFIX=URI]... [--config FILE] FILE
      Verifies an XML file's signature with a trust store of the daemon config (same
      code as the verify step), offline. Prints "valid: ..." with the signer, or
      "invalid: REASON". Exit status: 0 valid, 1 invalid.
  certs [--config FILE] [--warn-days N]
      Lists every key and certificate of the config (keys, CA bundles, intermediates,
      pinned) with days to expiry; WARN within N days (default 30), EXPIRED after.
      Exit status: 0 all fine, 1 a certificate expired or is within the warning window.
      Given admin credentials (as for dlq), the running daemon's certificates.
  dlq list|show|replay|purge [--config FILE] [--route R] [--reason TEXT]
      [--dossier CODE] [--since T] [--until T] [--limit N] [--json] [SEQ...]
      The dead letters of the config's store, while the daemon is stopped. list and show
      print them (--json for scripts); replay puts them back in the journal, for their
      own route or --to ROUTE, and the daemon delivers them at its next start; purge
      deletes them. replay and purge need SEQ numbers, a filter or --all, take
      --dry-run, and are recorded (who, when, what) in the store. Given admin
      credentials (--token-file, --cert, --url or LIENTHONG_ADMIN_*), the same works
      on the running daemon through its admin API, and a replay goes through now. T is
      2026-11-27T10:00:00Z, 2026-11-27 or a duration ago (2h). Exit status: 0 done,
      1 failed (the daemon holds the store, say), 2 wrong usage.
  dossier-code CODE... | --next CODE | --first AGENCY YYYY-MM-DD
      Checks dossier codes (agency, day of receipt, number; calendar included) and says
      what is wrong and where; --next prints the code after CODE for the same agency and
      day, --first the first code of an agency's day. Exit status: 0 valid, 1 a code is
      wrong, 2 wrong usage.
  stats [--config FILE] [--by agency,procedure,month] [--csv] [--now yyyyMMddHHmmss]
      The dossier resolution figures from the dossiers the store keeps (routes with a
      track-dossier step), while the daemon is stopped: received, resolved on time and
      late, refused, withdrawn, stopped, in process, overdue (at --now, default now in
      Asia/Ho_Chi_Minh), per group; JSON, or CSV with --csv (docs/messages.md).
      Given admin credentials (as for dlq), from the running daemon.
  store [--config FILE] [--json]
      The store's figures, while the daemon is stopped: per route, the one-way messages
      journalled and not yet delivered, the age of the oldest, and the dead letters.
      (The running daemon keeps the same figures for its metrics.)

Operating a running daemon, over its admin API (docs/operations.md):
  status [--json]
      Whether the daemon is ready, its uptime, route table version, engine and store
      figures. Exit status: 0 ready, 1 not ready or unreachable.
  routes [ROUTE] [--json]
      The active routes with their counts (in, delivered, failed, dead-lettered,
      retried), or one route in full.
  disable ROUTE [--json]
  enable ROUTE [--json]
      Stops a route's input (what it took in goes on; nothing new comes in), or starts
      it again. Kept across reloads, not restarts (set 'enabled: false' in the route's
      file for that). Needs the operator role.
  reload [--rollback] [--json]
      Loads the route files again: every error when the new set is refused (the running
      set stays), else the version now active; messages under way finish on the
      version they started with. --rollback makes the set the last reload replaced
      active again (and a second --rollback returns). Needs the operator role. Exit
      status: 0 done, 1 refused.
  trace DOSSIER-CODE | MESSAGE-ID | TRACE-ID [--json]
      Every hop of the messages of a dossier (or of one message, or one trace): time,
      route and its version, attempt, outcome (retry, delivered, stopped, failed,
      dead-lettered, duplicate, abandoned), the reason. The recent ones from the
      daemon's memory, the ends of exchanges before its last start from the audit
      chain. Exit status: 0 found, 1 none.
  audit verify [--chain NAME] [--json]
      Walks the audit chain(s) record by record and checks the signed checkpoints:
      "intact", or the first bad record and what happened to it (modified, deleted,
      inserted, reordered, rewritten; a checkpoint forged). The signer is checked
      against audit.trust, else audit.key's certificate, of --config. Given admin
      credentials, through the running daemon; else from the store itself (the daemon
      stopped, or a shared store). Exit status: 0 intact, 1 broken or unreadable.
  audit show [--chain NAME] [--after SEQ] [--limit N] [--json]
      The records: who or which route, what, when, about what, with what outcome.
  audit checkpoint [--json]
      Signs the chain's head now (the daemon does so every audit.checkpoint-every).
      Needs the admin role.
  metrics
      The Prometheus text of the metrics.
  whoami
      Who the credentials are and their role.
  The API is found with --url URL (or LIENTHONG_ADMIN_URL, else the admin section of
  --config); its certificate is checked against --ca FILE (or LIENTHONG_ADMIN_CA, else
  the certificate the config's admin section serves); the caller is --token-file FILE
  (or LIENTHONG_ADMIN_TOKEN, LIENTHONG_ADMIN_TOKEN_FILE) or --cert FILE --key FILE
  (or LIENTHONG_ADMIN_CERT, LIENTHONG_ADMIN_KEY).
  admin-token --name NAME --role viewer|operator|admin [--out FILE]
      Makes a new random token and prints the line that admits it in the daemon
      config (its SHA-256 only); --out writes the token to a new file (mode 0600)
      instead of printing it.

  help
      This text.

Options for every command:
  --help     this text
  --version  print the version
)";

int usageError(const std::string& message) {
  std::fprintf(stderr, "lienthongctl: %s\n\n%s", message.c_str(), kUsage);
  return 2;
}

struct Setup {
  std::string config_file;
  bool no_config = false;
  bool verbose = false;
  std::vector<std::string> paths;
};

// Parses the options shared by lint and test; returns an exit status on wrong usage.
std::optional<int> parseSetup(const std::string& command, const std::vector<std::string>& args,
                              bool allow_verbose, Setup& out) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--config" && i + 1 < args.size())
      out.config_file = args[++i];
    else if (a.starts_with("--config="))
      out.config_file = a.substr(9);
    else if (a == "--no-config")
      out.no_config = true;
    else if (allow_verbose && (a == "--verbose" || a == "-v"))
      out.verbose = true;
    else if (a.starts_with("-"))
      return usageError(command + ": unknown option '" + a + "'");
    else
      out.paths.push_back(a);
  }
  if (out.config_file.empty() && !out.no_config)
    out.config_file = lienthong::ctl::defaultConfigFile();
  if (out.paths.empty() && out.config_file.empty()) {
    return usageError(command + ": give route files or directories, or a --config");
  }
  return std::nullopt;
}

std::optional<lienthong::DaemonConfig> loadConfig(const Setup& setup, lienthong::Registry& registry,
                                                  lienthong::PluginSet& plugins,
                                                  lienthong::ConfigErrors& errors) {
  return lienthong::ctl::loadConfig(setup.config_file, registry, plugins, errors);
}

int lint(const std::vector<std::string>& args) {
  Setup setup;
  if (auto bad = parseSetup("lint", args, false, setup)) return *bad;
  lienthong::Registry registry;
  lienthong::PluginSet plugins;
  lienthong::ConfigErrors errors;
  auto config = loadConfig(setup, registry, plugins, errors);
  std::size_t routes = 0;
  std::size_t files = 0;
  if (config) {
    std::vector<std::string> paths = setup.paths.empty() ? config->route_paths : setup.paths;
    lienthong::ConfigErrors file_errors;
    files = lienthong::Loader::routeFiles(paths, file_errors).size();
    lienthong::Loader loader(registry, /*check_only=*/true);
    auto table = loader.loadRoutes(*config, paths, errors);
    if (table) routes = table->routes.size();
  }
  if (!errors.empty()) {
    std::fputs(errors.str().c_str(), stdout);
    std::fprintf(stdout, "%zu error(s)\n", errors.size());
    return 1;
  }
  std::printf("ok: %zu route(s) in %zu file(s)\n", routes, files);
  return 0;
}

int test(const std::vector<std::string>& args) {
  Setup setup;
  if (auto bad = parseSetup("test", args, true, setup)) return *bad;
  lienthong::log::setLevel(setup.verbose ? lienthong::log::Level::kWarn
                                         : lienthong::log::Level::kOff);
  lienthong::Registry registry;
  lienthong::PluginSet plugins;
  lienthong::ConfigErrors errors;
  auto config = loadConfig(setup, registry, plugins, errors);
  std::vector<std::string> files;
  if (config) {
    files = lienthong::ctl::routeTestFiles(setup.paths.empty() ? config->route_paths : setup.paths,
                                           errors);
  }
  if (!errors.empty()) {
    std::fputs(errors.str().c_str(), stdout);
    std::fprintf(stdout, "0 passed, %zu failed\n", errors.size());
    return 1;
  }
  if (files.empty()) {
    std::fputs("no *_test.yaml found\n0 passed, 0 failed\n", stdout);
    return 1;
  }
  auto totals = lienthong::ctl::runRouteTests(registry, *config, files, stdout);
  std::printf("%zu passed, %zu failed\n", totals.passed, totals.failed);
  return totals.failed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return usageError("no command given");
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--version") {
      std::puts("lienthongctl 0.1.0");
      return 0;
    }
  }
  std::string command = args[0];
  args.erase(args.begin());
  if (command == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (command == "lint") return lint(args);
  if (command == "test") return test(args);
  if (command == "sign") return lienthong::ctl::signCommand(args);
  if (command == "verify") return lienthong::ctl::verifyCommand(args);
  if (command == "certs") return lienthong::ctl::certsCommand(args);
  if (command == "dlq") return lienthong::ctl::dlqCommand(args);
  if (command == "store") return lienthong::ctl::storeCommand(args);
  if (command == "dossier-code") return lienthong::ctl::dossierCodeCommand(args);
  if (command == "stats") return lienthong::ctl::statsCommand(args);
  if (command == "status") return lienthong::ctl::statusCommand(args);
  if (command == "routes") return lienthong::ctl::routesCommand(args);
  if (command == "reload") return lienthong::ctl::reloadCommand(args);
  if (command == "enable") return lienthong::ctl::switchRouteCommand(args, true);
  if (command == "disable") return lienthong::ctl::switchRouteCommand(args, false);
  if (command == "metrics") return lienthong::ctl::metricsCommand(args);
  if (command == "trace") return lienthong::ctl::traceCommand(args);
  if (command == "whoami") return lienthong::ctl::whoamiCommand(args);
  if (command == "audit") return lienthong::ctl::auditCommand(args);
  if (command == "admin-token") return lienthong::ctl::adminTokenCommand(args);
  return usageError("unknown command '" + command + "'");
}
