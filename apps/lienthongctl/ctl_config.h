#pragma once
// The daemon config as the commands of lienthongctl load it.

#include <memory>
#include <optional>
#include <string>

#include "core/loader.h"
#include "core/plugins.h"
#include "core/store.h"
#include "lienthong/registry.h"

namespace lienthong::ctl {

// Loads `config_file` (or an empty config at "." when it is empty) with check-only
// semantics, registers the built-ins and the config's plugins, applies its XML limits.
// nullopt when `errors` got anything.
std::optional<DaemonConfig> loadConfig(const std::string& config_file, Registry& registry,
                                       PluginSet& plugins, ConfigErrors& errors);

// config/lienthong.yaml when it exists in the current directory, else "".
std::string defaultConfigFile();

// The store named by the daemon config `config_file` (or the default config), opened for
// a command run while the daemon is stopped. When it cannot be, prints why on stderr — no
// config, the config's errors, no store (`no_store` says what that means), the store's
// error — and sets `status`: 2 without a config, else 1. `where`, when given, gets the
// store's description (its path or server).
std::unique_ptr<Store> openConfigStore(const std::string& command, const std::string& config_file,
                                       const char* no_store, int& status,
                                       std::string* where = nullptr);

}  // namespace lienthong::ctl
