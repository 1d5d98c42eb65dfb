#pragma once
// The daemon config as the commands of lienthongctl load it.

#include <optional>
#include <string>

#include "core/loader.h"
#include "core/plugins.h"
#include "lienthong/registry.h"

namespace lienthong::ctl {

// Loads `config_file` (or an empty config at "." when it is empty) with check-only
// semantics, registers the built-ins and the config's plugins, applies its XML limits.
// nullopt when `errors` got anything.
std::optional<DaemonConfig> loadConfig(const std::string& config_file, Registry& registry,
                                       PluginSet& plugins, ConfigErrors& errors);

// config/lienthong.yaml when it exists in the current directory, else "".
std::string defaultConfigFile();

}  // namespace lienthong::ctl
