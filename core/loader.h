#pragma once
// Loads the daemon config and route files into listeners, connections and routes,
// collecting every error with file:line:col. Control thread only.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/pki.h"
#include "core/route.h"
#include "core/store.h"
#include "core/xml_document.h"
#include "lienthong/config.h"
#include "lienthong/log.h"
#include "lienthong/registry.h"

namespace lienthong {

struct EngineSettings {
  std::size_t workers = 32;
  std::size_t queue = 1024;
  std::size_t max_pending = 10'000;
  std::chrono::milliseconds drain_timeout{30'000};
  // How long an input waits for room when the engine is full before it is pushed back
  // (HTTP 503): a client then sees a slower answer instead of a refusal. 0: at once.
  std::chrono::milliseconds admission_wait{1000};
};

// The admin API (docs/operations.md): HTTPS on loopback by default; callers authenticate
// with a bearer token (kept here as its SHA-256) or a client certificate (by its CN).
enum class AdminRole { kViewer = 1, kOperator = 2, kAdmin = 3 };
struct AdminSettings {
  bool enabled = false;  // an `admin` section is in the config
  std::string address = "127.0.0.1";
  std::uint16_t port = 9443;  // 0: any free port
  std::string cert;           // PEM certificate (chain) the API serves
  std::string key;
  std::string client_ca;  // client certificates issued under it are accepted ("" = none)
  struct Token {
    std::string name;
    AdminRole role = AdminRole::kViewer;
    std::string sha256;  // lower-case hex of the token
  };
  std::vector<Token> tokens;
  std::map<std::string, AdminRole> clients;  // client certificate CN -> role
  int threads = 8;
};

// The audit chain (core/audit.h): kept in the store whenever there is one.
struct AuditSettings {
  bool enabled = true;   // audit.enabled: false keeps no records
  std::string key_name;  // audit.key: the name under `keys` that signs checkpoints ("" none)
  std::shared_ptr<const pki::SigningKey> key;
  std::shared_ptr<const pki::TrustStore> trust;       // audit.trust: who may sign (verification)
  std::chrono::milliseconds checkpoint_every{300000};  // audit.checkpoint-every
  std::chrono::milliseconds keep{0};                  // audit.keep: 0 = for ever
};

struct DaemonConfig {
  std::string file;  // absolute path of the config file ("" when none)
  std::string home;  // absolute base of relative paths
  log::Level log_level = log::Level::kInfo;
  bool log_json = false;   // log.format: json
  bool log_redact = true;  // log.redact: personal identifiers hidden (routes may say otherwise)
  EngineSettings engine;
  XmlLimits xml;
  std::map<std::string, std::shared_ptr<Listener>> listeners;
  std::map<std::string, std::string> listener_kinds;
  std::map<std::string, std::shared_ptr<Connection>> connections;
  std::map<std::string, std::string> connection_kinds;
  std::vector<std::string> route_paths;   // absolute files and directories
  std::vector<std::string> plugin_paths;  // absolute libraries and directories
  SourceLocation plugins_where;           // the config's `plugins` key
  std::map<std::string, std::shared_ptr<const pki::SigningKey>> keys;
  std::map<std::string, std::shared_ptr<const pki::TrustStore>> trust;
  AdminSettings admin;
  AuditSettings audit;
  StoreSettings store;  // none configured: one-way messages are held in memory
  // While the store cannot be opened (damaged, held by another process): how often the
  // daemon tries again; one-way inputs answer 503 meanwhile.
  std::chrono::milliseconds store_reopen{5000};
};

class Loader {
 public:
  // check_only: validate without creating anything outside the process (lint).
  Loader(const Registry& registry, bool check_only)
      : registry_(registry), check_only_(check_only) {}

  // Called with every outbound endpoint a route file builds (after its settings were
  // checked) and the route's id; what it returns takes the endpoint's place. Route tests
  // put recording fakes there.
  using OutboundFilter = std::function<std::shared_ptr<OutboundEndpoint>(
      std::shared_ptr<OutboundEndpoint> built, const std::string& route_id)>;
  void setOutboundFilter(OutboundFilter filter) { outbound_filter_ = std::move(filter); }

  // Reads a daemon config file and builds its listeners and connections (not started).
  std::optional<DaemonConfig> loadConfig(const std::string& file, ConfigErrors& errors) const;

  // A config with no listeners or connections, for linting route files alone.
  static DaemonConfig emptyConfig(const std::string& home);

  // Expands directories into their route files (*.yaml but *_test.yaml), sorted.
  static std::vector<std::string> routeFiles(const std::vector<std::string>& paths,
                                             ConfigErrors& errors);

  // The daemon's store, for the steps that write to it (track-dossier).
  void setStoreSlot(std::shared_ptr<StoreSlot> slot) { store_slot_ = std::move(slot); }

  // Builds every route of the given files. Returns nullptr if any error was found.
  std::shared_ptr<RouteTable> loadRoutes(const DaemonConfig& config,
                                         const std::vector<std::string>& paths,
                                         ConfigErrors& errors) const;

 private:
  const Registry& registry_;
  bool check_only_;
  OutboundFilter outbound_filter_;
  std::shared_ptr<StoreSlot> store_slot_;
};

}  // namespace lienthong
