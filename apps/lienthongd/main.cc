// lienthongd: the integration daemon.

#include <signal.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "core/admin/admin_server.h"
#include "core/daemon.h"
#include "lienthong/log.h"

namespace {

constexpr const char* kUsage = R"(Usage: lienthongd [--config FILE] [--check]

Runs the lienthong integration daemon.

  --config FILE   the daemon config (default: config/lienthong.yaml)
  --check         load and check the config and every route, then exit:
                  0 when all is valid, 1 with every error otherwise
  --version       print the version
  --help          this text

Signals: SIGTERM or SIGINT stop taking messages, let in-flight messages finish (up to
engine.drain-timeout) and exit 0. SIGHUP reloads the route files: the new set replaces
the running one only if all of it is valid; otherwise every error is logged and the
running set stays.
)";

}  // namespace

int main(int argc, char** argv) {
  std::string config = "config/lienthong.yaml";
  bool check = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--version") {
      std::puts("lienthongd 0.1.0");
      return 0;
    } else if (a == "--config" && i + 1 < argc) {
      config = argv[++i];
    } else if (a.starts_with("--config=")) {
      config = a.substr(9);
    } else if (a == "--check") {
      check = true;
    } else {
      std::fprintf(stderr, "lienthongd: unknown argument '%s'\n\n%s", a.c_str(), kUsage);
      return 2;
    }
  }

  // Signals are taken synchronously by the main thread; every other thread inherits the
  // blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // A file-size limit makes a write fail (the store then refuses one-way messages with
  // 503) instead of killing the daemon.
  signal(SIGXFSZ, SIG_IGN);

  lienthong::ConfigErrors errors;
  auto daemon = lienthong::Daemon::create(config, errors);
  if (!daemon) {
    std::fputs(errors.str().c_str(), stderr);
    std::fprintf(stderr, "lienthongd: %zu error(s); not started\n", errors.size());
    return 1;
  }
  if (check) {
    std::printf("%s: valid (%zu route(s))\n", config.c_str(), daemon->routes()->routes.size());
    return 0;
  }
  lienthong::Result<void> started = daemon->start();
  if (!started.ok()) {
    lienthong::log::error("lienthongd", "cannot start: " + started.error().message);
    return 1;
  }
  // The admin API last: what it reports is running.
  std::unique_ptr<lienthong::admin::AdminServer> admin;
  if (daemon->config().admin.enabled) {
    auto created = lienthong::admin::AdminServer::create(*daemon);
    lienthong::Result<void> listening =
        created.ok() ? (*created)->start() : lienthong::Result<void>(created.error());
    if (!listening.ok()) {
      lienthong::log::error("lienthongd", "cannot start: " + listening.error().message);
      daemon->stop();
      return 1;
    }
    admin = std::move(*created);
  }
  lienthong::log::info("lienthongd", "ready (config " + config + ")");

  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      lienthong::log::info("lienthongd", "SIGHUP: reloading routes");
      lienthong::ConfigErrors reload_errors;
      const bool reloaded = daemon->reload(reload_errors);
      if (reloaded) {
        lienthong::log::info("lienthongd", "reload done: route table version " +
                                               std::to_string(daemon->routes()->version));
      }
      if (daemon->auditing()) {
        lienthong::AuditRecord record;
        record.actor = "signal:SIGHUP";
        record.action = "reload";
        record.subject = "routes";
        record.version = daemon->routes()->version;
        record.detail =
            reloaded ? "done" : "refused: " + std::to_string(reload_errors.size()) + " error(s)";
        (void)daemon->audit(record, false);
      }
      continue;
    }
    lienthong::log::info("lienthongd", std::string(strsignal(sig)) + ": draining");
    if (admin) admin->stop();
    std::size_t abandoned = daemon->stop();
    lienthong::log::info("lienthongd",
                         "stopped (" + std::to_string(abandoned) + " message(s) abandoned)");
    return 0;
  }
}
